"""The CI worker on the Pilot Server itself (``server.ci_worker``): `pilot-tui server
worker --on-server` in a container that restarts with the engine, so CI runs' deploys of
the server's apps need no machine of the team's left on.

What it is, as data (``worker_plan``: pure but for reading the project's files):
- **Its image**: the worker base (``PILOT_WORKER_BASE``, python:3.12-slim), the packages
  the worker imports pip-installed at the versions this machine runs (``requirements``),
  and Pilot's own modules (never the terminal app's, never the Terraform templates),
  tagged by that content: a new Pilot version brings a new image, an unchanged one is
  never rebuilt. It is built on the server; no secret is in it.
- **Its files**, put into the container before it starts, 0600 under a 0700 folder, and
  kept in no image: pilot.toml, the server's record, the server's apps' secrets and their
  versions, the Docker host's databases' passwords (what a release of them reads,
  ``state_files``); the notification webhook's variable in its environment.
  Never the keys of .pilot/keys: the worker reaches the engine through its socket and
  AWS with the server's instance role, which `server up` grants the requests, releases
  and locks of the state bucket and pulls from the apps' ECR repositories.
- **Its container**: the engine's socket mounted, the host's network (the instance role's
  metadata service answers one hop only, as for the backup agent), a label holding the
  hash of all the above, so a deploy remakes it only when something changed, and a stop
  timeout long enough for a release under way to end (the first SIGTERM waits for it).

Each deploy from a person's machine brings it up to date (worker_install.py, once the
deploy's lease is given back); a CI run's never does (its .pilot/ holds no secret), nor
does a worker's own release. A machine that would give it less (a secret file it lacks,
an older Pilot) leaves it as it is.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from pilot_tui import __version__
from pilot_tui.deploy.build.bases import ALL, WORKER
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from pilot_tui.config.schema import PilotConfig
    from pilot_tui.deploy.host import DockerTarget

Say = Callable[[str], None]
PACKAGE = Path(__file__).resolve().parents[1]  # pilot_tui/
# Installed with Pilot but never run by the worker: the terminal app, the templates.
LEFT_OUT = ("screens", "terraform", "__pycache__")
# The distributions the worker imports (lazily: the deploy engine's Docker and AWS calls,
# pilot.toml's writer); each pinned to this machine's version when it has one.
REQUIREMENTS = ("boto3", "docker", "tomlkit", "platformdirs")
PROJECT_DIR = "/pilot/project"  # the worker's project folder inside the container
MAX_FILE = 1024 * 1024
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"  # role_policy's account, as the template fills it in
DOCKERFILE = """FROM {base}
COPY requirements.txt /pilot/requirements.txt
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check \\
    --root-user-action=ignore -r /pilot/requirements.txt
COPY pilot_tui /pilot/pilot_tui
ENV PYTHONPATH=/pilot PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR {project}
ENTRYPOINT ["python3", "-m", "pilot_tui", "server", "worker", "--on-server"]
"""


class WorkerUnavailable(PilotError):
    """The worker cannot run on the Pilot Server as the project is set up."""

    title = "CI worker on the Pilot Server"


@dataclass(frozen=True)
class WorkerPlan:
    """The worker's container, as data."""

    name: str
    project: str
    base: str
    image: str
    socket: str  # the engine's socket on the server, mounted at the usual path
    # Path inside the project folder -> content, each written 0600.
    files: dict[str, bytes] = field(repr=False)
    # The images this machine names for the Docker host (PILOT_PROXY_IMAGE, a mirror's
    # copies: bases.ALL), for the releases and the agent the worker makes there.
    environment: dict[str, str] = field(default_factory=dict)
    # The notification webhook's variable (its URL holds a token), as this machine has it.
    secret_environment: dict[str, str] = field(default_factory=dict, repr=False)
    version: str = __version__  # Pilot's, that made it
    # The single files (secrets, passwords) and the webhook's variable it should get,
    # whether this machine has them.
    expected: frozenset[str] = frozenset()

    @property
    def settings_hash(self) -> str:
        """What the container is made of. Secret values go in by their own hashes: the label
        is readable only by those who may read them themselves (root on the server)."""
        digest = hashlib.sha256(f"{self.image}\0{self.socket}".encode())
        digest.update(json.dumps(self.environment, sort_keys=True).encode())
        secrets = {**self.files, **{k: v.encode() for k, v in self.secret_environment.items()}}
        for path in sorted(secrets):
            digest.update(path.encode() + b"\0" + hashlib.sha256(secrets[path]).digest())
        return digest.hexdigest()[:16]


def role_policy(project: str, bucket: str, region: str, account: str) -> dict[str, object]:
    """What the server's instance role is granted for the worker (``server up`` with
    ``server.ci_worker``): in the state bucket the deploy requests, the shared releases and
    the deploy leases only (never the Terraform state or the backups); from ECR, pulls of
    the project's own repositories and their lifecycle (the newest images kept), never a
    push or a repository made or removed."""
    from pilot_tui.deploy.lease_rules import LOCKS
    from pilot_tui.deploy.server_queue import PREFIX as DEPLOYS
    from pilot_tui.deploy.shared_history import PREFIX as RELEASES
    from pilot_tui.naming import prefix

    prefixes = (DEPLOYS, RELEASES, LOCKS)
    repositories = f"arn:aws:ecr:{region}:{account}:repository/{prefix(project)}*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeployRequestsReleasesAndLeases",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{p}/*" for p in prefixes],
            },
            {
                # A week-old request's records, and a removed preview's history and lease
                # (APP--NAME); an app's own are never removed here (a lease is given back
                # by a write).
                "Sid": "TidyRequestsAndRemovedPreviews",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": [
                    f"arn:aws:s3:::{bucket}/{DEPLOYS}/*",
                    f"arn:aws:s3:::{bucket}/{RELEASES}/*--*.json",
                    f"arn:aws:s3:::{bucket}/{LOCKS}/*--*.json",
                ],
            },
            {
                # The names only. Without it S3 answers 403 for a key that is not there
                # (a first release's history or lease, a request's result not written
                # yet), which is not told from a refusal.
                "Sid": "ListTheBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Sid": "SignInToEcr",  # GetAuthorizationToken names no resource
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": "*",
            },
            {
                "Sid": "PullTheProjectsImages",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:DescribeRepositories",
                    "ecr:PutLifecyclePolicy",
                ],
                "Resource": repositories,
            },
        ],
    }


def container_name(project: str) -> str:
    return f"pilot-worker-{project}"


def refusal(config: PilotConfig) -> str | None:
    """Why the worker cannot run on this project's server; None when it can (the rule
    pilot.toml's check applies to server.ci_worker)."""
    from pilot_tui.config.checks import ci_worker_refusal

    return ci_worker_refusal(config)


def ensure_granted(state_dir: Path) -> None:
    """WorkerUnavailable unless the server's record says its role holds the worker's grant
    (the template's ``ci_worker`` output, true once `server up` ran with the setting on):
    without it each of the worker's calls is refused, and it would restart forever."""
    from pilot_tui.provision.outputs import saved_outputs

    if saved_outputs(state_dir).get("ci_worker") is not True:
        raise WorkerUnavailable(
            "the Pilot Server's role does not hold the worker's grant yet: run "
            "`pilot-tui server up` (it adds the grant to the server as it is), then deploy again"
        )


def worker_plan(
    config: PilotConfig, project_file: Path, state_dir: Path, target: DockerTarget
) -> WorkerPlan:
    """The worker's container for this project, its files read from ``project_file``'s
    folder and ``state_dir``; WorkerUnavailable when it cannot run there."""
    why = refusal(config)
    if why is not None:
        raise WorkerUnavailable(why)
    files = {"pilot.toml": _read(project_file, "pilot.toml")}
    root = project_file.parent
    server = config.server
    if server.acme_ca_root and server.tls_on:  # the edge's CA root, read by a release
        from pilot_tui.deploy.targets.docker_host.release import read_ca_root

        files[server.acme_ca_root] = read_ca_root(root, server.acme_ca_root)
    files |= dict(state_files(config, state_dir))
    base = WORKER.image()
    named = {b.variable: os.environ[b.variable] for b in ALL if os.environ.get(b.variable)}
    webhook = config.notify.webhook_env
    hooked = {webhook: os.environ[webhook]} if webhook and os.environ.get(webhook) else {}
    return WorkerPlan(
        container_name(config.project.name),
        config.project.name,
        base,
        image_tag(base),
        target.socket_on_host,
        files,
        named,
        hooked,
        expected=expected_files(config) | ({webhook} if webhook else set()),
    )


def expected_files(config: PilotConfig) -> frozenset[str]:
    """The single files a release of the server's apps may read of .pilot/ (by their path
    in the worker's project folder): those apps' secrets (their previews' too) and the
    Docker host's databases' passwords."""
    from pilot_tui.deploy.targets import on_docker_host

    apps = on_docker_host(config.apps)
    return frozenset(
        [f".pilot/secrets/{app}.env" for app in apps]
        + [f".pilot/secrets/previews/{app}.env" for app in apps]
        + [f".pilot/databases/{db.name}.password" for db in config.databases if db.service is None]
    )


def state_files(config: PilotConfig, state_dir: Path) -> Iterator[tuple[str, bytes]]:
    """What a release of the server's apps reads of ``state_dir``, by its path in the
    worker's project folder: the server's record, ``expected_files`` and those apps'
    secret versions. Regular files only (a link could name a file outside the project)."""
    from pilot_tui.deploy.targets import on_docker_host

    folders = ["outputs", *(f"secrets/versions/{app}" for app in on_docker_host(config.apps))]
    places = [state_dir / f for f in folders]
    places += [state_dir / p.removeprefix(".pilot/") for p in sorted(expected_files(config))]
    for place in places:
        if place.is_symlink():
            continue
        found = sorted(place.rglob("*")) if place.is_dir() else [place]
        for path in found:
            if path.is_symlink() or not path.is_file():
                continue
            inside = path.relative_to(state_dir).as_posix()
            yield f".pilot/{inside}", _read(path, f".pilot/{inside}")


def _read(path: Path, shown: str) -> bytes:
    try:
        if path.is_symlink() or path.stat().st_size > MAX_FILE:
            raise WorkerUnavailable(f"{shown} is not a file of at most 1 MB")
        return path.read_bytes()
    except OSError as exc:
        raise WorkerUnavailable(f"cannot read {shown}: {exc.strerror}") from exc


def requirements() -> str:
    """requirements.txt of the image: each package at this machine's version."""
    lines = []
    for name in REQUIREMENTS:
        try:
            lines.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(name)
    return "\n".join(lines) + "\n"


def modules() -> list[Path]:
    """Pilot's modules the worker runs, relative to the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside = path.relative_to(PACKAGE)
        if not any(part in LEFT_OUT for part in inside.parts):
            found.append(inside)
    return found


def image_tag(base: str) -> str:
    digest = hashlib.sha256(base.encode() + b"\0" + requirements().encode())
    for module in modules():
        digest.update(module.as_posix().encode() + b"\0" + (PACKAGE / module).read_bytes())
    return f"pilot-ci-worker:{digest.hexdigest()[:12]}"


def build_context(base: str) -> bytes:
    """The image's build context: its Dockerfile, requirements.txt and Pilot's modules."""
    files = {
        "Dockerfile": DOCKERFILE.format(base=base, project=PROJECT_DIR).encode(),
        "requirements.txt": requirements().encode(),
    }
    files |= {f"pilot_tui/{m.as_posix()}": (PACKAGE / m).read_bytes() for m in modules()}
    return _tar(files, mode=0o644)


def files_archive(plan: WorkerPlan) -> bytes:
    """The worker's files under PROJECT_DIR: 0600 files in 0700 folders, root's."""
    inside = PROJECT_DIR.lstrip("/")
    return _tar({f"{inside}/{path}": data for path, data in plan.files.items()}, mode=0o600)


def _tar(files: dict[str, bytes], *, mode: int) -> bytes:
    buffer = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            parents = PurePosixPath(name).parents
            for folder in reversed([p.as_posix() for p in parents if p.as_posix() != "."]):
                if folder not in made:
                    made.add(folder)
                    entry = tarfile.TarInfo(folder)
                    entry.type, entry.mode = tarfile.DIRTYPE, 0o700 if mode == 0o600 else 0o755
                    tar.addfile(entry)
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
