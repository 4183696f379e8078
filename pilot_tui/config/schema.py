"""The pilot.toml schema: typed settings with their documentation.

This module is the single source of truth for the project file. The validator
(:mod:`pilot_tui.config.validate`), the JSON Schema (``pilot-tui config schema``) and the
Markdown reference (``docs/pilot-toml.md``) are all generated from these dataclasses, so a
key documented here is a key that is checked, and vice versa.

Each field's ``metadata`` carries ``doc`` (one sentence a user can act on) and optionally
``pattern`` (a regex the string must match, with ``pattern_hint`` saying it in words),
``minimum``/``maximum`` for numbers and ``example``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$|^[a-z]$"
NAME_HINT = "lowercase letters, digits and hyphens, starting with a letter, at most 40 characters"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_NAME_HINT = "an environment variable name: letters, digits and _, not starting with a digit"
# The path alone: the check's host is always the app's own (a value like "@10.0.0.2:9/" would
# otherwise move it), and a second "/" would make it a reference to another host.
HEALTH_PATH_PATTERN = r"^/(?!/)[!-~]*$"
HEALTH_PATH_HINT = "a path on the app itself, starting with a single /, e.g. /healthz (no spaces)"
DOMAIN_PATTERN = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
DOMAIN_HINT = "a domain name like app.example.com"

Home = Literal["sandbox", "aws", "gcp", "host"]
StateBackend = Literal["local", "s3", "gcs"]
DockerAccess = Literal["ssh", "mtls"]
Engine = Literal["pilot", "waypoint"]
TlsMode = Literal["auto", "off"]


def setting(default: object = None, doc: str = "", **meta: object) -> Any:
    """A dataclass field with documentation; mutable defaults are copied per instance.
    ``then`` and ``then_off`` (in ``meta``): what to run for it to take effect, turned on
    and turned off, said by `config set` and `config unset`."""
    meta["doc"] = doc
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    if isinstance(default, type):  # a nested table: default is its class
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def required(doc: str, **meta: object) -> Any:
    """A field the user must write."""
    meta["doc"] = doc
    meta["required"] = True
    return field(default=None, metadata=meta)


def watch_setting(how: str) -> Any:
    """The ``watch`` setting of a kind whose releases are watched (``how``: what is looked
    at, and what goes back)."""
    return setting(
        60,
        f"Seconds Pilot watches a new release once it is live, {how}. 0: no watch "
        "(`deploy --no-watch` too).",
        minimum=0,
        maximum=3600,
    )


def failures_setting() -> Any:
    """The ``watch_failures`` setting of a kind whose releases are watched."""
    return setting(
        3, "Health checks failed in a row that revert a watched release.", minimum=1, maximum=100
    )


@dataclass
class ProjectSettings:
    """Who this platform belongs to. The name prefixes every cloud resource Pilot creates."""

    name: str = required(
        "Project name, used to name and tag cloud resources.",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        example="acme",
    )


@dataclass
class AwsSettings:
    """Amazon Web Services: which credentials and region Pilot uses. Never keys themselves."""

    profile: str | None = setting(
        None,
        "Name of an AWS profile in ~/.aws/config or ~/.aws/credentials (SSO profiles work). "
        "Unset: the default credential chain (AWS_PROFILE, environment variables, SSO).",
        example="acme",
    )
    region: str = setting("us-east-1", "AWS region for the Pilot Server and AWS targets.")


@dataclass
class GcpSettings:
    """Google Cloud: the project, a key-file path and the region. Never the key itself."""

    project: str | None = setting(
        None,
        "Google Cloud project id.",
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        pattern_hint="a project id: 6-30 lowercase letters, digits and hyphens",
        example="acme-prod",
    )
    credentials: str | None = setting(
        None,
        "Path to a service-account JSON key file (~ is expanded). "
        "Unset: Application Default Credentials or GOOGLE_APPLICATION_CREDENTIALS.",
        example="~/keys/acme-pilot.json",
    )
    region: str = setting(
        "us-central1", "Google Cloud region for the Pilot Server and GCP targets."
    )


@dataclass
class ServerSettings:
    """The Pilot Server: where it runs, how big it is and who may reach it."""

    home: Home = setting(
        "sandbox",
        "Where the Pilot Server runs: `aws` or `gcp` (Pilot provisions it with Terraform), "
        "`host` (an existing Docker host you name in `server.host`) or `sandbox` "
        "(local emulators; no cloud account needed).",
    )
    size: str | None = setting(
        None,
        "Machine type. Unset: t3.small on AWS, e2-small on GCP.",
        example="t3.small",
    )
    allowed_cidrs: list[str] = setting(
        [],
        "Networks allowed to reach the server's SSH and Docker ports, as CIDRs. "
        "Empty: your own public address (/32), found when you plan. A set covering a large "
        "share of the public internet (a /8 of IPv4, a /32 of IPv6, or more) is warned about.",
        example=["203.0.113.7/32"],
    )
    docker_access: DockerAccess = setting(
        "ssh",
        "How Pilot reaches the server's Docker engine: `ssh` or `mtls` (mutual TLS on 2376). "
        "Plain TCP is never offered.",
    )
    engine: Engine = setting(
        "pilot",
        "Deploy engine: `pilot` (built in) or `waypoint` (needs the waypoint binary).",
    )
    host: str | None = setting(
        None,
        'With home = "host": the Docker host, as ssh://user@host[:port], unix:///path, or '
        "tcps://host:2376 with client certificates in .pilot/keys/tls (plain TCP is refused).",
        example="ssh://deploy@build.example.com",
    )
    http_port: int = setting(
        80,
        "Port Pilot's reverse proxy serves the apps on (on 127.0.0.1 when the Docker host is "
        "this machine). Open to everyone, so never an admin port (22, 2375, 2376, 9701, 9702).",
        minimum=1,
        maximum=65535,
    )
    https_port: int = setting(
        443,
        "Port the edge (Caddy) serves HTTPS on when `tls` is on; opened to everyone beside "
        "`http_port`. Certificates are validated over port 80, so keep http_port = 80 "
        "on a public server.",
        minimum=1,
        maximum=65535,
    )
    tls: TlsMode | None = setting(
        None,
        "HTTPS for the names of apps on a Docker host (`target.domain`, APP.<ip>.sslip.io, "
        "APP.<server.host>): `auto` (certificates from the ACME CA, obtained and renewed "
        "by the edge; HTTP redirects to HTTPS) or `off` (plain HTTP). Names only this "
        "machine resolves (APP.localhost) and IP addresses always stay plain. Unset: "
        "`auto` on aws, gcp and host; `off` in the sandbox.",
    )
    acme_email: str | None = setting(
        None,
        "Contact address of the ACME account, for the CA to reach you about it.",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        pattern_hint="an email address",
        example="ops@example.com",
    )
    acme_ca: str = setting(
        "production",
        "ACME CA the certificates come from: `production` (Let's Encrypt), `staging` "
        "(Let's Encrypt's staging CA: untrusted certificates, generous rate limits; try a "
        "new domain there first) or the https:// URL of another ACME directory.",
        pattern=r"^(production|staging|https://\S+)$",
        pattern_hint='"production", "staging" or an https:// directory URL',
    )
    acme_ca_root: str | None = setting(
        None,
        "A PEM file, relative to pilot.toml and inside the project, holding the root that "
        "signs a private ACME directory's own HTTPS certificate. Unset: the system's roots.",
        example="certs/acme-root.pem",
    )
    ci_worker: bool = setting(
        False,
        "Run the CI worker (`pilot-tui server worker`) on the Pilot Server itself, as a "
        "container that restarts with it: CI runs' deploys of the server's apps then need "
        "no machine of yours left on. `server up` grants the server's role what it needs "
        "(the state bucket's deploy requests, releases and locks; pulls from the apps' ECR "
        "repositories); each deploy from here brings its copy of pilot.toml and the secrets "
        'up to date. Needs home = "aws" and state.backend = "s3".',
        then="`pilot-tui server up` grants the server's role what the worker needs, then "
        "the next `pilot-tui deploy` from here starts it on the Pilot Server",
        then_off="the next `pilot-tui deploy` from here removes the worker from the Pilot "
        "Server (after the release under way)",
    )
    hsts: bool = setting(
        False,
        "Send Strict-Transport-Security (one year) with every HTTPS response: browsers then "
        "refuse plain HTTP for the name. Turn it on once HTTPS works for every app.",
    )

    @property
    def tls_on(self) -> bool:
        """Whether the edge serves HTTPS (``tls`` resolved for the home)."""
        return (self.tls or ("off" if self.home == "sandbox" else "auto")) == "auto"


@dataclass
class StateSettings:
    """Where Terraform state and release history are kept."""

    backend: StateBackend = setting(
        "local",
        "`local` (under .pilot/ beside pilot.toml), `s3` or `gcs` (a versioned bucket Pilot "
        "creates, so teammates share state).",
    )
    bucket: str | None = setting(
        None,
        "State bucket name for s3/gcs. Unset: pilot-state-<project.name>.",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        pattern_hint="a bucket name: 3-63 lowercase letters, digits, dots and hyphens",
    )


@dataclass
class TerraformSettings:
    """Which Terraform runs, and whose templates it renders."""

    binary: str | None = setting(
        None,
        "Terraform or OpenTofu executable: a name on PATH or an absolute path outside the "
        "project directory (never a program that comes with the repository). "
        "$PILOT_TERRAFORM overrides it. Unset: `tofu`, else `terraform` on PATH, else the one "
        "bundled with pilot-tui[sandbox] (which the sandbox prefers to those on PATH).",
        example="tofu",
    )
    templates: str | None = setting(
        None,
        "Directory of your own copy of the server templates, relative to pilot.toml and "
        "inside the project directory (`pilot-tui server eject` sets it). Unset: the "
        "templates shipped with Pilot.",
        example="infra",
    )


# ---- builds: how an app becomes something to run -------------------------------------


@dataclass
class AutoBuild:
    """Detect the stack (Dockerfile, Node, Python, Go, static site) and build accordingly."""

    kind: Literal["auto"] = setting("auto", "Build kind.")


@dataclass
class DockerfileBuild:
    """Build the image from a Dockerfile."""

    kind: Literal["dockerfile"] = setting("dockerfile", "Build kind.")
    dockerfile: str = setting(
        "Dockerfile",
        "Path of the Dockerfile, relative to the app path (inside the project directory).",
    )
    args: dict[str, str] = setting({}, "Build arguments (--build-arg). Not for secrets.")


@dataclass
class StaticBuild:
    """Run a command in a builder container and publish its output directory."""

    kind: Literal["static"] = setting("static", "Build kind.")
    command: str | None = setting(
        None,
        "Build command (it may span lines). Unset: publish the app path as it is.",
        example="npm run build",
        multiline=True,
    )
    output: str = setting(
        "dist",
        "Directory the command produces, relative to the app path (inside the project directory).",
    )
    image: str = setting("node:20-slim", "Builder image the command runs in.")


@dataclass
class BuildpacksBuild:
    """Cloud Native Buildpacks (needs the `pack` binary on the machine that deploys)."""

    kind: Literal["buildpacks"] = setting("buildpacks", "Build kind.")
    builder: str = setting("paketobuildpacks/builder-jammy-base", "Buildpacks builder image.")


Build = AutoBuild | DockerfileBuild | StaticBuild | BuildpacksBuild

# ---- targets: where an app runs -------------------------------------------------------
# Each kind says whose account it runs in (`cloud`: None for the Docker host, wherever the
# server is) and what it serves (`serves`): facts the config checks, the cloud wing (which
# deployer a project needs) and the New-app suggestions (deploy.targets) read, never a kind.
Cloud = Literal["aws", "gcp"]
# "files": a static site's built files; "handler": a function called per request
# (module.function); "web": a web server in a container, listening on $PORT.
Serves = Literal["files", "handler", "web"]


@dataclass
class ServerTarget:
    """Run the app as a container on the Pilot Server, behind its reverse proxy."""

    cloud: ClassVar[Cloud | None] = None
    serves: ClassVar[frozenset[Serves]] = frozenset({"web"})
    kind: Literal["server"] = setting("server", "Target kind.")
    port: int = setting(
        8080,
        "Port the app listens on inside its container ($PORT), on "
        "every address: the proxy reaches it over the host's private Docker "
        "network.",
        minimum=1,
        maximum=65535,
    )
    health_path: str = setting(
        "/",
        "HTTP path that answers 2xx when the app is healthy.",
        pattern=HEALTH_PATH_PATTERN,
        pattern_hint=HEALTH_PATH_HINT,
    )
    health_timeout: int = setting(
        30,
        "Seconds a new release has to become healthy before it is rolled back.",
        minimum=1,
        maximum=3600,
    )
    domain: str | None = setting(
        None,
        "Domain name the proxy serves the app on.",
        pattern=DOMAIN_PATTERN,
        pattern_hint=DOMAIN_HINT,
    )
    stop_timeout: int = setting(
        30,
        "Seconds the previous release has to finish its requests and exit after a new one "
        "is live and it gets SIGTERM (the image's stop signal); then it is killed.",
        minimum=0,
        maximum=3600,
    )
    watch: int = watch_setting(
        "the previous one kept running meanwhile: if its container exits or restarts, "
        "its health check fails `watch_failures` times in a row, or more than "
        "`watch_5xx_percent` of its requests through the proxy answer 5xx, the previous "
        "release serves again, by itself"
    )
    watch_failures: int = failures_setting()
    watch_5xx_percent: int = setting(
        20,
        "Share of a watched release's requests answering 5xx (once it has 10) that reverts it.",
        minimum=1,
        maximum=100,
    )


@dataclass
class CloudRunTarget:
    """Google Cloud Run: one revision per release."""

    cloud: ClassVar[Cloud | None] = "gcp"
    serves: ClassVar[frozenset[Serves]] = frozenset({"web"})
    kind: Literal["cloud-run"] = setting("cloud-run", "Target kind.")
    memory: str = setting(
        "512Mi",
        "Memory limit, e.g. 256Mi or 1Gi.",
        pattern=r"^[0-9]+(Mi|Gi)$",
        pattern_hint="a size like 512Mi or 1Gi",
    )
    cpu: int = setting(1, "vCPUs per instance.", minimum=1, maximum=8)
    port: int = setting(8080, "Port the container listens on.", minimum=1, maximum=65535)
    min_instances: int = setting(0, "Instances kept warm.", minimum=0, maximum=100)
    max_instances: int = setting(10, "Upper bound on instances.", minimum=1, maximum=1000)
    health_path: str = setting(
        "/",
        "HTTP path that answers 2xx when the app is healthy, asked through the service's "
        "URL (a GET).",
        pattern=HEALTH_PATH_PATTERN,
        pattern_hint=HEALTH_PATH_HINT,
    )
    watch: int = watch_setting(
        "asking its health path every 2 s: when it answers other than 2xx, or hangs, "
        "`watch_failures` times in a row, the traffic goes back to the previous "
        "release's revision, by itself"
    )
    watch_failures: int = failures_setting()


@dataclass
class LambdaTarget:
    """AWS Lambda, from a container image or a zip; a function URL is the app's URL."""

    cloud: ClassVar[Cloud | None] = "aws"
    serves: ClassVar[frozenset[Serves]] = frozenset({"handler", "web"})
    kind: Literal["lambda"] = setting("lambda", "Target kind.")
    memory: int = setting(512, "Memory in MB.", minimum=128, maximum=10240)
    timeout: int = setting(30, "Seconds per invocation.", minimum=1, maximum=900)
    package: Literal["image", "zip"] = setting(
        "image",
        "`image`: the app's container image, pushed to ECR, its web server on $PORT "
        "reached through the Lambda Web Adapter. `zip`: the folder's files as a zip, for a "
        "simple function with a handler.",
    )
    handler: str = setting(
        "app.handler",
        "Handler of a zip function, module.function.",
        pattern=r"^[A-Za-z0-9_./-]+\.[A-Za-z0-9_]+$",
        pattern_hint="module.function, e.g. app.handler",
    )
    runtime: str = setting("python3.12", "Runtime of a zip function, e.g. python3.12, nodejs20.x.")
    port: int = setting(
        8080, "Port the image's web server listens on ($PORT).", minimum=1, maximum=65535
    )
    health_path: str = setting(
        "/",
        "HTTP path that answers 2xx when the app is healthy, asked through the live alias "
        "as its function URL would ask it (a GET): by the watch after a release, and once "
        "by each `pilot-tui status` (one invocation, waited for 10 s at most).",
        pattern=HEALTH_PATH_PATTERN,
        pattern_hint=HEALTH_PATH_HINT,
    )
    watch: int = watch_setting(
        "asking its health path every 2 s: when it raises or answers other than 2xx "
        "`watch_failures` times in a row, the alias goes back to the previous release's "
        "version, by itself"
    )
    watch_failures: int = failures_setting()


@dataclass
class EcsTarget:
    """AWS ECS on Fargate: a task definition and a service."""

    cloud: ClassVar[Cloud | None] = "aws"
    serves: ClassVar[frozenset[Serves]] = frozenset({"web"})
    kind: Literal["ecs"] = setting("ecs", "Target kind.")
    cpu: int = setting(256, "CPU units (1024 = 1 vCPU).", minimum=256, maximum=16384)
    memory: int = setting(512, "Memory in MB.", minimum=512, maximum=122880)
    port: int = setting(8080, "Port the container listens on.", minimum=1, maximum=65535)
    desired_count: int = setting(1, "Tasks to keep running.", minimum=0, maximum=100)
    health_path: str = setting(
        "/",
        "HTTP path the load balancer checks for a 2xx answer, and the watch asks through it.",
        pattern=HEALTH_PATH_PATTERN,
        pattern_hint=HEALTH_PATH_HINT,
    )
    watch: int = watch_setting(
        "asking its health path through the load balancer every 2 s: when it answers "
        "other than 2xx, or hangs, `watch_failures` times in a row, the service goes "
        "back to the previous release's task definition, by itself"
    )
    watch_failures: int = failures_setting()


@dataclass
class S3CloudFrontTarget:
    """A static site in a private S3 bucket served by CloudFront."""

    cloud: ClassVar[Cloud | None] = "aws"
    serves: ClassVar[frozenset[Serves]] = frozenset({"files"})
    kind: Literal["s3-cloudfront"] = setting("s3-cloudfront", "Target kind.")
    domain: str | None = setting(
        None,
        "Custom domain (a certificate is requested for it).",
        pattern=DOMAIN_PATTERN,
        pattern_hint=DOMAIN_HINT,
    )
    index: str = setting("index.html", "Index document.")


@dataclass
class GcsCdnTarget:
    """A static site in a GCS bucket behind Cloud CDN."""

    cloud: ClassVar[Cloud | None] = "gcp"
    serves: ClassVar[frozenset[Serves]] = frozenset({"files"})
    kind: Literal["gcs-cdn"] = setting("gcs-cdn", "Target kind.")
    domain: str | None = setting(
        None,
        "Custom domain (a managed certificate is created).",
        pattern=DOMAIN_PATTERN,
        pattern_hint=DOMAIN_HINT,
    )
    index: str = setting("index.html", "Index document.")


Target = (
    ServerTarget | CloudRunTarget | LambdaTarget | EcsTarget | S3CloudFrontTarget | GcsCdnTarget
)
DURATION_PATTERN = r"^[1-9][0-9]{0,4}[mhd]$"
DURATION_HINT = 'a number of minutes, hours or days, like "30m", "72h" or "7d"'
PREVIEW_SEPARATOR = "--"  # APP--NAME: a preview's name (app names may not hold it)


@dataclass
class PreviewSettings:
    """Preview environments of the app (`pilot-tui deploy APP --preview NAME`): a copy
    named APP--NAME, with its own releases, only the secrets in
    .pilot/secrets/previews/APP.env (never the app's own), and never the app's databases
    (see `[[databases]] preview`). Apps on the Docker host (beside the app, behind the
    edge), on Lambda (a function of its own with its own URL) and on Cloud Run (a service
    of its own with its own URL)."""

    max: int = setting(
        3,
        "How many previews of the app may run at once; one more is refused (expired ones "
        "are removed first). 0: no previews.",
        minimum=0,
        maximum=20,
    )
    ttl: str = setting(
        "72h",
        "How long a preview lives after its last release; then the agent on the Pilot "
        "Server removes it (a Docker host preview; a Cloud Run one with the server on "
        "Google Cloud; a Lambda one with the server on AWS, or in the hourly run `ci "
        "github` writes), as do `pilot-tui preview prune` and every preview deploy.",
        pattern=DURATION_PATTERN,
        pattern_hint=DURATION_HINT,
    )
    env: dict[str, str] = setting(
        {},
        "Environment variables set in previews over the app's `env` (like a test payment "
        'key\'s name or DEBUG = "1").',
        key_pattern=ENV_NAME_PATTERN,
        key_pattern_hint=ENV_NAME_HINT,
    )
    domain: str | None = setting(
        None,
        "A domain whose names point at the Pilot Server (a wildcard DNS record *.DOMAIN): "
        "previews then also answer at APP--NAME.DOMAIN, with HTTPS. Without it they answer "
        "at APP--NAME.<server address>.sslip.io (and APP--NAME.localhost in the sandbox).",
        pattern=DOMAIN_PATTERN,
        pattern_hint=DOMAIN_HINT,
        example="preview.example.com",
    )

    def ttl_seconds(self) -> int:
        """``ttl`` in seconds."""
        units = {"m": 60, "h": 3600, "d": 86400}
        return int(self.ttl[:-1]) * units[self.ttl[-1]]


# The one list of target kinds: each kind's `kind` default, in the union's order.
TARGET_KINDS: tuple[str, ...] = tuple(kind().kind for kind in get_args(Target))
STATIC_TARGETS = frozenset(k().kind for k in get_args(Target) if "files" in k.serves)
GCP_TARGETS = frozenset(k().kind for k in get_args(Target) if k.cloud == "gcp")
AWS_TARGETS = frozenset(k().kind for k in get_args(Target) if k.cloud == "aws")


@dataclass
class AppSettings:
    """One app: its source, how it is built, where it runs, its configuration."""

    name: str = required(
        "App name, unique in this file; used in URLs and resource names.",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        example="api",
    )
    path: str = setting(
        ".",
        "Source directory, relative to pilot.toml; it must lie inside "
        "the project directory (symbolic links are followed).",
    )
    build: Build = setting(AutoBuild, "How the app is built; `kind` picks the builder.")
    target: Target = setting(ServerTarget, "Where the app runs; `kind` picks the target.")
    env: dict[str, str] = setting(
        {},
        "Plain environment variables. Secrets do not belong here: list them in `secrets`.",
        key_pattern=ENV_NAME_PATTERN,
        key_pattern_hint=ENV_NAME_HINT,
    )
    secrets: list[str] = setting(
        [],
        "Names of secret environment variables. Values are read at deploy time from the "
        "environment or .pilot/secrets (0600), never from this file.",
        item_pattern=ENV_NAME_PATTERN,
        item_pattern_hint=ENV_NAME_HINT,
        example=["DATABASE_URL"],
    )
    previews: PreviewSettings = setting(
        PreviewSettings, "Its preview environments (`pilot-tui deploy APP --preview NAME`)."
    )


MEMORY_PATTERN = r"^[1-9][0-9]*[mg]$"
MEMORY_HINT = "megabytes or gigabytes, like 512m or 2g"


@dataclass
class BackupSettings:
    """Backups of a database, on a schedule (a small agent container on the Docker host) or
    now with `pilot-tui db backup NAME`: each streams one (Postgres: pg_dump -Fc; Redis: an
    RDB snapshot) to the state bucket (S3, encrypted; GCS) under backups/NAME/, or to
    .pilot/backups/NAME/ with local state."""

    schedule: str = setting(
        "daily",
        'When the backup agent on the Docker host takes one, without this machine: "daily" '
        '(03:00 UTC), "hourly", "off", or a cron expression in UTC ("30 2 * * *").',
        example="hourly",
    )
    keep: int = setting(
        14,
        "How many backups are kept: each new one removes the oldest beyond this number.",
        minimum=1,
        maximum=1000,
    )
    dumps: str = setting(
        "off",
        "A database on RDS or Cloud SQL only: when the backup agent on the Docker host takes "
        "Pilot's own dump of it (pg_dump -Fc into the same store, beside the service's daily "
        'backups), without this machine: "off", "daily", "hourly" or cron in UTC; `keep` of '
        "them are kept.",
        example="daily",
    )


DatabaseHome = Literal["docker", "rds", "cloud-sql"]
DatabasePreview = Literal["none", "empty", "copy-of-latest-backup"]
RDS_MAX_RETENTION_DAYS = 35  # RDS keeps automated backups for at most this many days
RDS_MAX_IDENTIFIER = 63  # characters in an RDS instance's name (pilot-PROJECT-NAME)
CLOUD_SQL_MAX_IDENTIFIER = 63


@dataclass(frozen=True)
class ManagedService:
    """What pilot.toml's checks and Pilot's listings know of a managed database service
    (`on = "rds"`, `on = "cloud-sql"`): facts, no client."""

    on: str
    title: str  # in a person's words: "RDS", "Cloud SQL"
    homes: tuple[str, ...]  # the server homes whose network it joins
    cloud: str  # whose account: "AWS", "Google Cloud"
    default_instance: str  # the machine when `managed.instance` is empty
    instance_pattern: str
    instance_hint: str
    max_keep: int  # automated backups kept, at most
    max_identifier: int  # characters in its instance name
    name_suffix: int  # characters the template adds after pilot-PROJECT-NAME
    terraform_address: str  # a regular expression; group 1 is the pilot.toml name
    restore_hint: str  # how its own backups are restored
    final_backup: str  # what `server destroy` keeps of a database it deletes
    # Whether that goes into the project's state bucket (a destroy that removes the bucket
    # would remove it too: refused unless told).
    final_to_state_bucket: bool
    min_keep: int  # automated backups kept, at least
    keep_unit: str  # what backup.keep counts: "days" of backups, or "backups"


MANAGED_SERVICES: dict[str, ManagedService] = {
    "rds": ManagedService(
        on="rds",
        title="RDS",
        homes=("aws", "sandbox"),
        cloud="AWS",
        default_instance="db.t4g.micro",
        instance_pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        instance_hint="an RDS instance class like db.t4g.micro or db.m7g.large",
        max_keep=RDS_MAX_RETENTION_DAYS,
        max_identifier=RDS_MAX_IDENTIFIER,
        name_suffix=0,
        terraform_address=r'aws_db_instance\.database\["([a-z0-9-]+)"\]',
        restore_hint="in the RDS console or `aws rds restore-db-instance-to-point-in-time`",
        final_backup="a final snapshot",
        final_to_state_bucket=False,
        min_keep=1,
        keep_unit="days",
    ),
    "cloud-sql": ManagedService(
        on="cloud-sql",
        title="Cloud SQL",
        homes=("gcp",),
        cloud="Google Cloud",
        default_instance="db-g1-small",
        # Enterprise edition's tiers (the template's): shared-core, or custom CPUs/memory.
        instance_pattern=r"^db-(f1-micro|g1-small|custom-[0-9]+-[0-9]+)$",
        instance_hint="a Cloud SQL tier like db-g1-small or db-custom-2-7680",
        max_keep=365,  # retained backups
        # An instance name may not be used again for a week after its deletion, so the
        # template adds 5 characters ("-" and 4 random hex) to pilot-PROJECT-NAME; names
        # are kept to a DNS label's length, as RDS's are.
        max_identifier=CLOUD_SQL_MAX_IDENTIFIER,
        name_suffix=5,
        terraform_address=r'google_sql_database_instance\.database\["([a-z0-9-]+)"\]',
        restore_hint="in the Cloud SQL console or `gcloud sql backups restore`",
        final_backup="a final export to the state bucket",
        final_to_state_bucket=True,
        # Cloud SQL wants more backups kept than days of transaction log (up to 7, for
        # point-in-time recovery): at least 2, the log then kept keep - 1 days.
        min_keep=2,
        keep_unit="backups",
    ),
}


@dataclass
class ManagedDatabase:
    """A managed database's machine (`on = "rds"` or `"cloud-sql"`); ignored on the
    Docker host."""

    instance: str = setting(
        "",
        "RDS instance class (db.t4g.micro when empty) or Cloud SQL tier (db-g1-small when empty).",
        pattern=r"^(db\.[a-z0-9]+\.[a-z0-9]+|db-[a-z0-9-]+)?$",
        pattern_hint="an RDS instance class like db.t4g.micro or a Cloud SQL tier like db-g1-small",
        example="db.t4g.small",
    )
    storage_gb: int = setting(
        20, "Storage allocated at first, in GB (encrypted).", minimum=20, maximum=65536
    )
    max_storage_gb: int = setting(
        100,
        "The service grows the storage by itself up to this many GB.",
        minimum=20,
        maximum=65536,
    )


@dataclass
class PostgresDatabase:
    """PostgreSQL, in a container on the Docker host beside the apps, or on a managed
    service (RDS, Cloud SQL)."""

    kind: Literal["postgres"] = setting("postgres", "Database kind.")
    on: DatabaseHome = setting(
        "docker",
        'Where it runs: "docker" (a container on the Docker host), "rds" (Amazon RDS, '
        'with a server on AWS) or "cloud-sql" (Google Cloud SQL, with a server on Google '
        "Cloud). A managed one is made in the Pilot Server's network by `pilot-tui server "
        "up`: encrypted, not public, reachable from the server only, automated daily "
        "backups kept `backup.keep` days, deletion protection.",
        example="rds",
    )
    managed: ManagedDatabase = setting(
        ManagedDatabase, 'Its machine when `on = "rds"` or `"cloud-sql"`.'
    )
    name: str = required(
        "Database name, unique in this file; names its container and its volume.",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        example="main",
    )
    version: int = setting(
        16,
        "Major version: 15, 16 or 17. A new minor version keeps the data; a new major "
        "version is refused (dump, then restore into a new database).",
        minimum=15,
        maximum=17,
    )
    apps: list[str] = setting(
        [],
        "Apps that get its URL, as a secret in `url_env`.",
        item_pattern=NAME_PATTERN,
        item_pattern_hint=NAME_HINT,
        example=["api"],
    )
    url_env: str = setting(
        "DATABASE_URL",
        "The variable the apps get its URL in (postgres://USER:PASSWORD@HOST:5432/NAME).",
        pattern=ENV_NAME_PATTERN,
        pattern_hint=ENV_NAME_HINT,
    )
    size: str = setting(
        "512m", "Memory limit of its container.", pattern=MEMORY_PATTERN, pattern_hint=MEMORY_HINT
    )
    backup: BackupSettings = setting(BackupSettings, "Its backups (`pilot-tui db backup`).")
    preview: DatabasePreview = setting(
        "none",
        'What previews of its apps get (`deploy APP --preview NAME`): "none" (no URL at all: '
        'a preview never reaches this database), "empty" (a new, empty database of their '
        'own, NAME--PREVIEW), or "copy-of-latest-backup" (its newest backup restored into '
        "one, checked as a drill checks it). The previews of one branch share it; it goes "
        "with the last of them. On the Docker host only.",
        example="copy-of-latest-backup",
    )

    @property
    def service(self) -> ManagedService | None:
        """The managed service it runs on (None: a container on the Docker host)."""
        return MANAGED_SERVICES.get(self.on)

    @property
    def machine(self) -> str:
        """Its instance class or tier: pilot.toml's, else its service's default."""
        service = self.service
        return self.managed.instance or (service.default_instance if service else "")


@dataclass
class RedisDatabase:
    """Redis, in a container on the Docker host beside the apps."""

    kind: Literal["redis"] = setting("redis", "Database kind.")
    on: Literal["docker"] = setting(
        "docker", 'Where it runs: "docker" (a container on the Docker host), the only choice.'
    )
    name: str = required(
        "Database name, unique in this file; names its container and its volume.",
        pattern=NAME_PATTERN,
        pattern_hint=NAME_HINT,
        example="cache",
    )
    version: int = setting(7, "Major version: 7.", minimum=7, maximum=7)
    apps: list[str] = setting(
        [],
        "Apps that get its URL, as a secret in `url_env`.",
        item_pattern=NAME_PATTERN,
        item_pattern_hint=NAME_HINT,
        example=["api"],
    )
    url_env: str = setting(
        "REDIS_URL",
        "The variable the apps get its URL in (redis://default:PASSWORD@HOST:6379/0).",
        pattern=ENV_NAME_PATTERN,
        pattern_hint=ENV_NAME_HINT,
    )
    size: str = setting(
        "256m", "Memory limit of its container.", pattern=MEMORY_PATTERN, pattern_hint=MEMORY_HINT
    )
    backup: BackupSettings = setting(BackupSettings, "Its backups (`pilot-tui db backup`).")
    preview: DatabasePreview = setting(
        "none",
        'What previews of its apps get (`deploy APP --preview NAME`): "none" (no URL at all: '
        'a preview never reaches this database), "empty" (a new, empty database of their '
        'own, NAME--PREVIEW), or "copy-of-latest-backup" (its newest backup restored into '
        "one, checked as a drill checks it). The previews of one branch share it; it goes "
        "with the last of them. On the Docker host only.",
        example="copy-of-latest-backup",
    )

    @property
    def service(self) -> ManagedService | None:
        """No managed service runs Redis here: always the Docker host."""
        return None


Database = PostgresDatabase | RedisDatabase
DATABASE_KINDS: tuple[str, ...] = tuple(kind().kind for kind in get_args(Database))


@dataclass
class NotifySettings:
    """Where Pilot says what happened to a release: deployed, failed, reverted by the
    watch, rolled back."""

    webhook_env: str | None = setting(
        None,
        "Name of the environment variable holding a Slack-compatible incoming webhook URL "
        "(the URL holds a token: it never goes in pilot.toml). Each deploy, failed deploy, "
        "automatic revert, rollback and preview deploy POSTs JSON to it: `text` for Slack, "
        "and `event`, `project`, `app`, `release`, "
        "`url`, `by` and `reason`. Unset: no notification.",
        pattern=ENV_NAME_PATTERN,
        pattern_hint=ENV_NAME_HINT,
        example="PILOT_WEBHOOK_URL",
    )


@dataclass
class PilotConfig:
    """The whole pilot.toml."""

    project: ProjectSettings = setting(ProjectSettings, "The project.")
    aws: AwsSettings = setting(AwsSettings, "Amazon Web Services.")
    gcp: GcpSettings = setting(GcpSettings, "Google Cloud.")
    server: ServerSettings = setting(ServerSettings, "The Pilot Server.")
    state: StateSettings = setting(StateSettings, "Where state is kept.")
    terraform: TerraformSettings = setting(TerraformSettings, "Terraform itself.")
    apps: list[AppSettings] = setting([], "The apps, one [[apps]] table each.")
    databases: list[Database] = setting(
        [], "Databases beside the apps, one [[databases]] table each."
    )
    notify: NotifySettings = setting(NotifySettings, "Notifications of releases.")

    def app(self, name: str) -> AppSettings | None:
        """The app called ``name``, if any."""
        return next((app for app in self.apps if app.name == name), None)

    def no_app(self, name: str, where: str = "pilot.toml") -> str:
        """What to say of an app ``name`` that is not in ``where``: the closest name, and
        the apps there are (one message for every command that names an app)."""
        from pilot_tui.config.problems import did_you_mean

        names = [app.name for app in self.apps]
        listed = ", ".join(names) or "none yet"
        return f'no app "{name}" in {where}{did_you_mean(name, names)} (apps: {listed})'

    def database(self, name: str) -> Database | None:
        """The database called ``name``, if any."""
        return next((db for db in self.databases if db.name == name), None)

    def databases_on(self, home: DatabaseHome) -> list[Database]:
        """The databases that run there: "docker" (containers on the Docker host, backed up
        by Pilot), "rds" or "cloud-sql"."""
        return [db for db in self.databases if db.on == home]

    def managed_databases(self) -> list[PostgresDatabase]:
        """The databases a managed service runs (RDS, Cloud SQL), made with the server."""
        return [db for db in self.databases if isinstance(db, PostgresDatabase) and db.service]

    def in_sandbox(self) -> PilotConfig:
        """These settings with the server in the local sandbox, whatever server.home says
        (`--sandbox`); pilot.toml itself is not changed."""
        import dataclasses

        return dataclasses.replace(self, server=dataclasses.replace(self.server, home="sandbox"))


def default_size(home: str) -> str | None:
    """The machine type used when ``server.size`` is unset."""
    return {"aws": "t3.small", "gcp": "e2-small"}.get(home)
