"""Checks that look across keys: regions per cloud, CIDRs, apps, builds vs targets, secrets."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import urllib.parse
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

from pilot_tui import exposure
from pilot_tui.config import regions, secrets
from pilot_tui.config.locate import Path
from pilot_tui.config.problems import Problem, did_you_mean
from pilot_tui.config.schema import (
    AWS_TARGETS,
    GCP_TARGETS,
    PREVIEW_SEPARATOR,
    STATIC_TARGETS,
    DockerfileBuild,
    PilotConfig,
    PostgresDatabase,
    StaticBuild,
)
from pilot_tui.data import schedule
from pilot_tui.fsutil import file_kind, is_within, real_path
from pilot_tui.provision.tf.toolchain import refused_binary

# Fields that hold a name or a path: nothing long and random belongs in them.
NAME_OR_PATH_FIELDS = {
    ("project", "name"), ("aws", "profile"), ("gcp", "project"), ("gcp", "credentials"),
    ("state", "bucket"), ("server", "host"),
}  # fmt: skip


def semantic_checks(
    cfg: PilotConfig, data: dict[str, Any], base_dir: FsPath | None
) -> Iterator[Problem]:
    """Everything a per-key type check cannot see."""
    if "project" not in data:  # every default is fine, but nothing says whose project this is
        what = "has no settings at all" if not data else "has no [project] table"
        yield Problem(
            (),
            f"the file {what}; it needs the project's name, which names and "
            'tags every cloud resource: add [project] with name = "..." (lowercase '
            "letters, digits and hyphens)",
            at="key",
        )
    yield from _project_name(cfg, data)
    yield from _regions(cfg, data)
    yield from _server(cfg, data)
    yield from _apps(cfg, data, base_dir)
    yield from _databases(cfg, data)
    yield from _project_paths(cfg, base_dir)
    if cfg.terraform.binary:
        refused = refused_binary(cfg.terraform.binary, base_dir)
        if refused:
            yield Problem(("terraform", "binary"), refused)
    yield from _secret_values(data)
    creds = cfg.gcp.credentials
    if creds and base_dir is not None and not secrets.classify_value(creds, name_or_path=True):
        for message in _key_file_doubts(creds, _resolve(creds, base_dir)):
            yield Problem(("gcp", "credentials"), message, severity="warning")


# Where no key file of the user's belongs: naming one is a typo or an attempt to read the system.
SYSTEM_DIRS = tuple(
    FsPath(d)
    for d in (
        "/etc",
        "/proc",
        "/sys",
        "/dev",
        "/boot",
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/run",
        "/var/lib",
        "/var/log",
        "/var/run",
    )
)
KEY_FILE_LIMIT = 1 << 20  # a service-account key is ~2.3 KB; never read a device or a disk
KEY_TYPES = (
    "service_account",
    "authorized_user",
    "external_account",
    "impersonated_service_account",
)


def _key_file_doubts(value: str, key_file: FsPath) -> Iterator[str]:
    """Why ``key_file`` does not look like a Google credentials file (its content is never
    shown: only whether it parses as one)."""
    real = real_path(key_file)
    if real is not None and any(real.is_relative_to(d) for d in SYSTEM_DIRS):
        yield (
            f'"{value}" is a system path ({real}), not a place for your key file: keep '
            "the service-account key in your home, readable only by you (e.g. "
            "~/keys/pilot.json)"
        )
    try:
        info = key_file.stat()  # follows links; a loop or a missing target raises
    except FileNotFoundError:
        yield f"no file at {key_file}"
        return
    except OSError as exc:
        yield f"cannot use {key_file}: {exc.strerror or exc}"
        return
    if not stat.S_ISREG(info.st_mode):
        yield (
            f"{key_file} is not a regular file ({file_kind(info.st_mode)}); it must be a "
            "service-account JSON key file"
        )
        return
    if info.st_size > KEY_FILE_LIMIT:
        yield f"{key_file} is {info.st_size:,} bytes, far too large for a JSON key file"
        return
    try:
        with key_file.open("rb") as handle:
            body = handle.read(KEY_FILE_LIMIT + 1)
    except OSError as exc:
        yield f"cannot read {key_file}: {exc.strerror or exc}"
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or parsed.get("type") not in KEY_TYPES:
        yield (
            f"{key_file} is not a JSON key file (a service-account key is JSON with "
            '"type": "service_account"); download one from IAM > Service accounts > Keys'
        )


def _resolve(path: str, base_dir: FsPath) -> FsPath:
    expanded = FsPath(path).expanduser()
    return expanded if expanded.is_absolute() else base_dir / expanded


def _project_name(cfg: PilotConfig, data: dict[str, Any]) -> Iterator[Problem]:
    """A name whose resources' prefix (pilot-NAME-) is also the start of every project's
    state bucket (pilot-state-PROJECT): its deployer's grant on its own resources would
    reach other projects' state buckets, their Terraform state and backups."""
    name = cfg.project.name
    if isinstance(name, str) and (name == "state" or name.startswith("state-")):
        yield Problem(
            ("project", "name"),
            f"\"{name}\" cannot be a project's name: its resources' names (pilot-{name}-...) "
            "would take in every project's state bucket (pilot-state-PROJECT); choose "
            "another, e.g. the team's or the product's",
        )


def _regions(cfg: PilotConfig, data: dict[str, Any]) -> Iterator[Problem]:
    for cloud, region in (("aws", cfg.aws.region), ("gcp", cfg.gcp.region)):
        if "region" not in data.get(cloud, {}) or not isinstance(region, str):
            continue
        known = regions.REGIONS[cloud]
        if region in known:
            continue
        name = regions.CLOUD_NAMES[cloud]
        article = "an" if name[0] in "AEIOU" else "a"
        belongs = regions.region_cloud(region)
        hint = did_you_mean(region, known) or f' (e.g. "{known[0]}")'
        if belongs and belongs != cloud:
            other = regions.CLOUD_NAMES[belongs]
            other_article = "an" if other[0] in "AEIOU" else "a"
            yield Problem(
                (cloud, "region"),
                f'"{region}" is {other_article} {other} region, not '
                f"{article} {name} region: move it to [{belongs}] region and pick "
                f'{article} {name} region here (e.g. "{known[0]}")',
            )
        elif belongs == cloud:
            yield Problem(
                (cloud, "region"),
                f'"{region}" is not a known {name} region{hint}; Pilot will try it as written',
                severity="warning",
            )
        else:
            yield Problem((cloud, "region"), f'"{region}" is not {article} {name} region{hint}')


def _server(cfg: PilotConfig, data: dict[str, Any]) -> Iterator[Problem]:
    server = cfg.server
    raw = data.get("server", {})
    if server.size and server.home in regions.SIZE_SHAPES and "size" in raw:
        looks = regions.size_cloud(server.size)
        if looks != server.home:
            example = regions.SIZE_EXAMPLES[server.home]
            yield Problem(
                ("server", "size"),
                f'"{server.size}" is not a machine type on '
                f'{regions.CLOUD_NAMES[server.home]} (e.g. "{example}")',
            )
    for i, cidr in enumerate(server.allowed_cidrs):
        yield from _cidr(cidr, ("server", "allowed_cidrs", i))
    wide = exposure.warning(server.allowed_cidrs)
    if wide:
        yield Problem(("server", "allowed_cidrs"), wide, severity="warning")
    for key in ("http_port", "https_port"):
        port = getattr(server, key)
        admin = exposure.ADMIN_PORTS.get(port)
        if admin:
            yield Problem(
                ("server", key),
                f"{port} is the port of {admin}; "
                "the web ports are open to the whole internet, so this would open "
                f"{admin} to everyone: use 80, 443 or 8080",
            )
    if server.tls_on and server.http_port != 80 and server.https_port != 443:
        yield Problem(
            ("server", "https_port"),
            "with TLS on, a CA validates a name on port 80 or 443 of the server: with "
            f"http_port {server.http_port} and https_port {server.https_port} no "
            "certificate can be obtained (unless another machine forwards those ports)",
            severity="warning",
        )
    if server.tls_on and server.https_port == server.http_port:
        yield Problem(
            ("server", "https_port"),
            f"{server.https_port} is also http_port: HTTP and HTTPS need a port each (80 and 443)",
        )
    worker_refused = ci_worker_refusal(cfg) if server.ci_worker else None
    if worker_refused is not None:
        yield Problem(
            ("server", "ci_worker"),
            f"{worker_refused}; elsewhere run `pilot-tui server worker` on a machine that "
            "stays on, and turn this off: pilot-tui config unset server.ci_worker",
        )
    if server.home == "gcp" and not cfg.gcp.project:
        yield Problem(
            ("server", "home"),
            'home = "gcp" needs gcp.project, the Google Cloud project to create the server in',
        )
    if server.home == "host" and not server.host:
        yield Problem(
            ("server", "home"),
            'home = "host" needs server.host, the Docker host '
            'to use (e.g. host = "ssh://deploy@build.example.com")',
        )
    if server.host:
        scheme = server.host.split("://", 1)[0] if "://" in server.host else ""
        if scheme in ("tcp", "http"):
            yield Problem(
                ("server", "host"),
                "plain-TCP Docker is never used: anyone who "
                "reaches the port owns the machine; use ssh://user@host, or set "
                'docker_access = "mtls" with tcps://host:2376',
            )
        elif scheme not in ("ssh", "unix", "tcps"):
            yield Problem(
                ("server", "host"),
                f'"{server.host}" is not a Docker host address: '
                "use ssh://user@host[:port] or unix:///path/to/docker.sock",
            )
        else:
            yield from _host_address(server.host, scheme)
        if server.home != "host":
            yield Problem(
                ("server", "host"), f'is ignored while home = "{server.home}"', severity="warning"
            )


def _host_address(url: str, scheme: str) -> Iterator[Problem]:
    """The parts of an ssh:// or tcps:// address: a host, a numeric port, and nothing ssh
    would read as one of its options (a user or host starting with "-")."""
    if scheme == "unix":
        return
    parts = urllib.parse.urlsplit(url)
    where = ("server", "host")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        yield Problem(where, f'"{url}" has a port that is not a number from 1 to 65535')
    example = "ssh://deploy@build.example.com" if scheme == "ssh" else "tcps://host:2376"
    if not parts.hostname:
        yield Problem(where, f'"{url}" names no host (e.g. {example})')
    for what, part in (("user", parts.username), ("host", parts.hostname)):
        if part and part.startswith("-"):
            yield Problem(
                where,
                f'the {what} "{part}" starts with "-", which ssh would read '
                f"as an option, not a {what} name (e.g. {example})",
            )


def _cidr(text: str, path: Path) -> Iterator[Problem]:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            yield Problem(
                path, f'"{text}" is not a CIDR (write an address and prefix, e.g. "203.0.113.7/32")'
            )
            return
        yield Problem(path, f'"{text}" has host bits set (did you mean "{loose}"?)')
        return
    if "/" not in text:
        yield Problem(path, f'"{text}" has no prefix length (did you mean "{net}"?)')


def _apps(cfg: PilotConfig, data: dict[str, Any], base_dir: FsPath | None) -> Iterator[Problem]:
    raw_apps = data.get("apps", [])
    if not isinstance(raw_apps, list):
        return
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_apps):
        if not isinstance(raw, dict):
            continue
        name = raw.get("name")
        if isinstance(name, str) and PREVIEW_SEPARATOR in name:
            yield Problem(
                ("apps", i, "name"),
                f'app name "{name}" holds "{PREVIEW_SEPARATOR}", which names previews '
                f"(APP{PREVIEW_SEPARATOR}NAME); use single hyphens",
            )
        if isinstance(name, str):
            if name in seen:
                yield Problem(
                    ("apps", i, "name"),
                    f'app "{name}" is defined twice (first as '
                    f"app number {seen[name] + 1}); app names must be unique",
                )
            else:
                seen[name] = i
    for i, app in enumerate(cfg.apps):
        if i >= len(raw_apps):
            break
        raw = raw_apps[i] if isinstance(raw_apps[i], dict) else {}
        target, build = app.target.kind, app.build.kind
        if target in STATIC_TARGETS and build not in ("static", "auto") and "build" in raw:
            yield Problem(
                ("apps", i, "build", "kind"),
                f'target "{target}" serves files, so '
                f'build.kind must be "static" (or "auto"), not "{build}"',
            )
        # A static build serves its files from a small httpd image: fine on the Pilot Server.
        if target not in STATIC_TARGETS | {"server"} and build == "static" and "target" in raw:
            yield Problem(
                ("apps", i, "target", "kind"),
                f'build "static" makes files, which '
                f'"{target}" cannot run; use "server", "s3-cloudfront" or "gcs-cdn"',
            )
        if target in GCP_TARGETS and not cfg.gcp.project:
            yield Problem(
                ("apps", i, "target", "kind"),
                f'"{target}" deploys to Google Cloud, but gcp.project is not set',
            )
        if target in AWS_TARGETS and cfg.server.home == "gcp" and "aws" not in data:
            yield Problem(
                ("apps", i, "target", "kind"),
                f'"{target}" deploys to AWS; add an [aws] table with the profile and region to use',
                severity="warning",
            )
        for name in sorted(set(app.env) & set(app.secrets)):
            yield Problem(
                ("apps", i, "env", name),
                f'"{name}" is listed in secrets too; keep it only under secrets',
            )
        if base_dir is not None and "path" in raw and not (base_dir / app.path).is_dir():
            yield Problem(
                ("apps", i, "path"),
                f'no directory "{app.path}" beside pilot.toml',
                severity="warning",
            )


def _databases(cfg: PilotConfig, data: dict[str, Any]) -> Iterator[Problem]:
    """Names unique; linked apps that exist and run on the Docker host (the only place the
    database is reachable from); no app given one variable twice (by two databases, or by a
    database and its own env or secrets)."""
    raw_dbs = data.get("databases", [])
    if not isinstance(raw_dbs, list) or len(raw_dbs) != len(cfg.databases):
        return  # a shape problem, reported by the walker
    apps = [app.name for app in cfg.apps]
    first: dict[str, int] = {}
    given: dict[tuple[str, str], str] = {}  # (app, variable) -> the database giving it
    for i, db in enumerate(cfg.databases):
        raw = raw_dbs[i] if isinstance(raw_dbs[i], dict) else {}
        if "name" not in raw:
            continue
        if db.name in first:
            yield Problem(
                ("databases", i, "name"),
                f'database "{db.name}" is defined twice (first as database number '
                f"{first[db.name] + 1}); database names must be unique",
            )
        first.setdefault(db.name, i)
        managed = isinstance(db, PostgresDatabase) and db.service is not None
        # (a managed one's own check names the double hyphen its service refuses)
        if isinstance(db.name, str) and PREVIEW_SEPARATOR in db.name and not managed:
            yield Problem(
                ("databases", i, "name"),
                f'database name "{db.name}" holds "{PREVIEW_SEPARATOR}", which names '
                f"previews' databases (NAME{PREVIEW_SEPARATOR}PREVIEW); use single hyphens",
            )
        if isinstance(db, PostgresDatabase) and db.service is not None:
            yield from _managed(cfg, db, i)
            if db.preview != "none" and "preview" in raw:
                yield Problem(
                    ("databases", i, "preview"),
                    f"previews get no {db.service.title} database: a copy is made on the Docker "
                    'host only; use preview = "none" here',
                )
        else:
            try:
                schedule.parse(db.backup.schedule)
            except schedule.ScheduleError as exc:
                yield Problem(("databases", i, "backup", "schedule"), str(exc))
            if db.backup.dumps != "off":
                yield Problem(
                    ("databases", i, "backup", "dumps"),
                    "backup.dumps schedules Pilot's dumps of a database on RDS or Cloud SQL; on "
                    "the Docker host, backup.schedule says when it is backed up: remove it",
                )
        for j, name in enumerate(db.apps):
            app = cfg.app(name)
            if app is None:
                yield Problem(
                    ("databases", i, "apps", j),
                    f'no app named "{name}" in this file{did_you_mean(name, apps)}',
                )
                continue
            if app.target.kind != "server":
                yield Problem(
                    ("databases", i, "apps", j),
                    f'app "{name}" runs on "{app.target.kind}", which cannot reach a database '
                    'on the Docker host: link only apps of target kind "server"',
                )
            if (name, db.url_env) in given:
                yield Problem(
                    ("databases", i, "apps", j),
                    f'app "{name}" already gets {db.url_env} from database '
                    f'"{given[name, db.url_env]}"; set url_env to another name on one of them',
                )
            elif db.url_env in app.env or db.url_env in app.secrets:
                yield Problem(
                    ("databases", i, "apps", j),
                    f'app "{name}" sets {db.url_env} itself (in env or secrets); remove it '
                    f"there or set url_env to another name",
                )
            given.setdefault((name, db.url_env), db.name)


def _managed(cfg: PilotConfig, db: PostgresDatabase, i: int) -> Iterator[Problem]:
    """A managed database lives in the Pilot Server's network, in that cloud, and its
    service backs it up once a day."""
    service = db.service
    assert service is not None  # called for managed databases only
    title = service.title
    instance = f"pilot-{cfg.project.name}-{db.name}"
    if len(instance) + service.name_suffix > service.max_identifier or "--" in instance:
        yield Problem(
            ("databases", i, "name"),
            f"its {title} name would be {instance!r}"
            + (f" and {service.name_suffix} more characters" if service.name_suffix else "")
            + f": {title} takes at most {service.max_identifier} characters and no two "
            "hyphens in a row; choose a shorter name",
        )
    if cfg.server.home not in service.homes:
        yield Problem(
            ("databases", i, "on"),
            f'on = "{service.on}" puts the database in the network of the Pilot Server on '
            f'{service.cloud}, but server.home is "{cfg.server.home}": use on = "docker", '
            f"or a server on {service.cloud}",
        )
    if db.managed.instance and not re.fullmatch(service.instance_pattern, db.managed.instance):
        yield Problem(
            ("databases", i, "managed", "instance"),
            f"{db.managed.instance!r} is not a {title} machine: expected {service.instance_hint}",
        )
    try:
        schedule.parse(db.backup.dumps)
    except schedule.ScheduleError as exc:
        yield Problem(("databases", i, "backup", "dumps"), str(exc))
    if db.backup.schedule != "daily":
        yield Problem(
            ("databases", i, "backup", "schedule"),
            f"{title} takes its own backups once a day (with point-in-time recovery): remove "
            f'backup.schedule ("{db.backup.schedule}") or set it to "daily"',
        )
    if db.backup.keep > service.max_keep:
        yield Problem(
            ("databases", i, "backup", "keep"),
            f"{title} keeps automated backups for at most {service.max_keep} "
            f"{service.keep_unit} (backup.keep = {db.backup.keep})",
        )
    elif db.backup.keep < service.min_keep:
        yield Problem(
            ("databases", i, "backup", "keep"),
            f"{title} keeps at least {service.min_keep} automated backups, one more than "
            f"the days of point-in-time recovery (backup.keep = {db.backup.keep})",
        )
    if db.managed.max_storage_gb < db.managed.storage_gb:
        yield Problem(
            ("databases", i, "managed", "max_storage_gb"),
            f"max_storage_gb ({db.managed.max_storage_gb}) is below storage_gb "
            f"({db.managed.storage_gb})",
        )


def _project_paths(cfg: PilotConfig, base_dir: FsPath | None) -> Iterator[Problem]:
    """Paths Pilot reads files from must stay in the project: a cloned repository must not
    make it publish, build or run what lies elsewhere on the machine (~/.aws, /etc...)."""
    start = base_dir if base_dir is not None else FsPath()
    if cfg.terraform.templates:
        yield from _inside(cfg.terraform.templates, start, base_dir, ("terraform", "templates"))
    if cfg.server.acme_ca_root:
        yield from _ca_root(cfg.server.acme_ca_root, start, base_dir)
    for i, app in enumerate(cfg.apps):
        problems = list(_inside(app.path, start, base_dir, ("apps", i, "path")))
        yield from problems
        if problems:
            continue  # its Dockerfile and output are outside too; one message is enough
        build = app.build
        if isinstance(build, DockerfileBuild):
            yield from _inside(
                build.dockerfile, start / app.path, base_dir, ("apps", i, "build", "dockerfile")
            )
        elif isinstance(build, StaticBuild):
            yield from _inside(
                build.output, start / app.path, base_dir, ("apps", i, "build", "output")
            )


CA_ROOT_LIMIT = 1024 * 1024  # a root certificate is a few KB


def _ca_root(value: str, start: FsPath, root: FsPath | None) -> Iterator[Problem]:
    """server.acme_ca_root: inside the project, a regular file of at most 1 MB holding a PEM
    certificate (it is copied into the edge's container)."""
    where = ("server", "acme_ca_root")
    outside = list(_inside(value, start, root, where))
    if outside or root is None:
        yield from outside
        return
    path = start / value
    if not path.is_file():
        yield Problem(where, f'"{value}" is not a file in the project')
    elif path.stat().st_size > CA_ROOT_LIMIT:
        yield Problem(where, f'"{value}" is larger than 1 MB: not a root certificate')
    elif b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
        yield Problem(where, f'"{value}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)')


def _inside(value: str, start: FsPath, root: FsPath | None, path: Path) -> Iterator[Problem]:
    """A problem when ``value`` (relative to ``start``) leads out of the project ``root``."""
    rule = (
        "Pilot uses only files inside the project directory: move them beside pilot.toml "
        "or name a folder that is"
    )
    target = start / value
    if root is None:  # only the text to go by: `..` past the start is all that can be told
        if not target.is_absolute() and FsPath(os.path.normpath(target)).parts[:1] == ("..",):
            yield Problem(path, f'"{value}" is outside the project directory; {rule}')
        return
    real = real_path(target)
    if real is None:
        yield Problem(path, f'"{value}" cannot be followed (a symbolic link loop); {rule}')
    elif not is_within(real, root):
        by_link = FsPath(os.path.normpath(target.absolute())).is_relative_to(root.absolute())
        how = " through a symbolic link" if by_link else ""
        yield Problem(
            path,
            f'"{value}" is outside the project directory {root.absolute()}: '
            f"it leads{how} to {real}; {rule}",
        )


def _secret_values(data: dict[str, Any]) -> Iterator[Problem]:
    """Value-level secret checks the line scan cannot make (it needs to know the field)."""
    for section, key in sorted(NAME_OR_PATH_FIELDS):
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if isinstance(value, str):
            yield from _secret(value, (section, key), name_or_path=True)
    apps = data.get("apps")
    for i, app in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(app, dict):
            continue
        env = app.get("env")
        for name, value in env.items() if isinstance(env, dict) else ():
            if isinstance(value, str):
                yield from _secret(value, ("apps", i, "env", name), name_or_path=False)
                if value and secrets.SECRET_ENV_NAME.search(name):
                    yield Problem(
                        ("apps", i, "env", name),
                        f'"{name}" is named like a secret; '
                        f"if it is one: {secrets.WHERE_APP_SECRETS}",
                        severity="warning",
                        at="key",
                    )
        names = app.get("secrets")
        for j, value in enumerate(names if isinstance(names, list) else []):
            if isinstance(value, str):
                yield from _secret(value, ("apps", i, "secrets", j), name_or_path=True)


def _secret(value: str, path: Path, *, name_or_path: bool) -> Iterator[Problem]:
    found = secrets.classify_value(value, name_or_path=name_or_path)
    # Patterns the line scan finds anywhere are reported by it; only add the field-aware ones.
    if found and found[0] in ("an AWS secret access key", "a URL with a password in it"):
        what, advice = found
        if "env" in path:  # a value an app needs at run time: it belongs under secrets
            advice = secrets.WHERE_APP_SECRETS
        yield Problem(path, f"this looks like {what}; secrets never go in pilot.toml: {advice}")


def ci_worker_refusal(cfg: PilotConfig) -> str | None:
    """Why the CI worker cannot run on this project's Pilot Server (server.ci_worker), or
    None when it can: one rule for pilot.toml's check and the commands."""
    if cfg.server.home == "aws" and cfg.state.backend == "s3":
        return None
    return (
        "the worker on the Pilot Server takes CI runs' requests from the S3 state bucket "
        'with the server\'s AWS role: it needs server.home = "aws" and state.backend = "s3" '
        f'(here server.home = "{cfg.server.home}", state.backend = "{cfg.state.backend}")'
    )
