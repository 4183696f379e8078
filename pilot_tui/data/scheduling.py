"""The backup agent on the Docker host (``pilot_tui.data.agent``), made from pilot.toml:
what it runs as data (``agent_plan``: pure, tested as data), then installed, shown and
removed through the engine in one place each.

One agent per project, container ``pilot-backups-PROJECT``: it backs up every database
whose ``backup.schedule`` is not "off", and dumps each database on RDS or Cloud SQL whose
``backup.dumps`` is not (from a client container it makes, as ``db backup`` does; that
job's settings hold the master password, 0600 in the agent). Its image is the Python
base (``PILOT_PYTHON_BASE``) plus the agent's modules, tagged by their content, so a new
Pilot version brings a new image and an unchanged one is never rebuilt. Its settings go
into the container as a 0600 file before it starts (Postgres dumps run over the database
container's own socket and need no password; a Redis database's is there, as in Redis's
own command); a label holds their hash, so a deploy changes the agent only when something changed.

Where it writes, by the project's state:
- S3: the state bucket, with the Pilot Server's instance role (``server.home = "aws"``;
  terraform/aws grants it ``backups/*`` of that bucket only), or the sandbox's local S3;
- GCS: the same with the server's service account (``server.home = "gcp"``; terraform/gcp
  grants it ``backups/`` of that bucket only), or the sandbox's GCS emulator;
- local: ``.pilot/backups/`` when the engine is this machine's (a bind mount, written as
  this user); a remote engine cannot reach this machine's disk, so that is refused;
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.data import passwords
from pilot_tui.data import schedule as schedules
from pilot_tui.data.agent.cloud_run import CloudRunPreviews
from pilot_tui.data.agent.lambda_previews import LambdaPreviews
from pilot_tui.data.agent.previews import AGENT_ID_ENV, Edge
from pilot_tui.data.backups import BackupError, DumpPlan
from pilot_tui.deploy.build.bases import PYTHON
from pilot_tui.deploy.lock import AGENT_ID_LABEL
from pilot_tui.fsutil import ensure_private_dir

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.config.schema import Database, PilotConfig
    from pilot_tui.deploy.host import DockerTarget

Say = Callable[[str], None]
ROLE = "backup-agent"
SETTINGS_HASH = "pilot.agent.settings"
SETTINGS_PATH = "/pilot/agent.json"
LOCAL_ROOT = "/backups"
HOST_SOCKET = "/var/run/docker.sock"
PACKAGE = Path(__file__).resolve().parents[1]  # pilot_tui/
# The modules the agent runs (the standard library's aside): exactly what importing
# pilot_tui.data.agent loads (tests/unit/test_backup_agent.py checks both ways). The
# previews' pruning needs the edge's files (proxy.py) and the Docker host's names, and
# on Cloud Run its listing (cloud_run/listing.py) and Google's requests as data, on
# Lambda which functions are previews (lambda_/listing.py).
AGENT_MODULES = (
    "__init__.py",
    "cloud/__init__.py",
    "cloud/errors.py",
    "cloud/gcp_api.py",
    "config/__init__.py",
    "config/schema.py",
    "data/__init__.py",
    "data/agent/__init__.py",
    "data/agent/__main__.py",
    "data/agent/aws.py",
    "data/agent/clients.py",
    "data/agent/cloud_run.py",
    "data/agent/engine.py",
    "data/agent/gcs.py",
    "data/agent/lambda_previews.py",
    "data/agent/previews.py",
    "data/agent/run.py",
    "data/agent/s3.py",
    "data/agent/wire.py",
    "data/backups.py",
    "data/execs.py",
    "data/schedule.py",
    "data/stores.py",
    "deploy/__init__.py",
    "deploy/addresses.py",
    "deploy/context.py",
    "deploy/events.py",
    "deploy/history.py",
    "deploy/host.py",
    "deploy/lease_rules.py",
    "deploy/previews.py",
    "deploy/targets/__init__.py",
    "deploy/targets/base.py",
    "deploy/targets/cloud_run/__init__.py",
    "deploy/targets/cloud_run/listing.py",
    "deploy/targets/docker_host/__init__.py",
    "deploy/targets/docker_host/caddy_config.py",
    "deploy/targets/docker_host/containers.py",
    "deploy/targets/docker_host/proxy.py",
    "deploy/targets/lambda_/__init__.py",
    "deploy/targets/lambda_/listing.py",
    "errors.py",
    "fsutil.py",
    "naming.py",
    "provision/__init__.py",
    "provision/keys.py",
    "provision/remote.py",
    "redact.py",
    "runner.py",
    "wording.py",
)
DOCKERFILE = """FROM {base}
COPY pilot_tui /pilot/pilot_tui
ENV PYTHONPATH=/pilot PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["python3", "-m", "pilot_tui.data.agent"]
"""


class AgentUnavailable(BackupError):
    """Scheduled backups cannot run for this project as it is set up; the message says
    why and what to do."""

    title = "Scheduled backups"


@dataclass(frozen=True)
class AgentPlan:
    """The agent's container, as data."""

    name: str
    project: str
    base: str
    image: str  # image_tag(base): the agent's modules read once per plan
    settings: dict[str, object]
    environment: dict[str, str] = field(default_factory=dict)
    binds: dict[str, str] = field(default_factory=dict)  # host path -> container path
    network_mode: str = "bridge"
    user: str | None = None
    group_add: list[int] = field(default_factory=list)

    @property
    def settings_hash(self) -> str:
        data = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()[:16]


def container_name(project: str) -> str:
    return f"pilot-backups-{project}"


def agent_schedule(db: Database) -> str:
    """When the agent backs ``db`` up: ``backup.schedule`` on the Docker host; a managed
    database's service backs it up itself, and the agent takes Pilot's own dumps of it on
    ``backup.dumps`` ("off" by default)."""
    return db.backup.dumps if db.service is not None else db.backup.schedule


def scheduled(config: PilotConfig) -> list[str]:
    """The databases the agent backs up (a schedule, not "off"; a kind that has backups)."""
    from pilot_tui.data.kinds import KINDS

    return [
        db.name
        for db in config.databases
        if schedules.parse(agent_schedule(db)) is not None
        and KINDS[db.kind].dump_format is not None
    ]


def agent_plan(
    config: PilotConfig,
    target: DockerTarget,
    state_dir: Path,
    sandbox_endpoint: str | None = None,
    edge: Edge | None = None,
    *,
    backups: bool = True,
) -> AgentPlan | None:
    """What the agent runs for this project; None when no database has a schedule and
    no preview runs (``edge``: the edge's settings, given when one does: the agent then
    removes previews past their TTL). ``sandbox_endpoint``: the sandbox's local S3 API or
    GCS emulator (None: the cloud's). AgentUnavailable when the project's state cannot be
    reached from the Docker host for its backups."""
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.provision.backends import bucket_name

    project = config.project.name
    names = scheduled(config) if backups else []  # not: the previews' agent alone
    jobs: list[dict[str, object]] = []
    dumped: list[str] = []
    for db in config.databases:
        if db.name not in names:
            continue
        job: dict[str, object] = {"schedule": agent_schedule(db), "keep": db.backup.keep}
        if db.service is None:
            kind = kind_for(project, db)
            plan = DumpPlan.of(kind, passwords.stored(state_dir, db.name) or "")
        else:  # dumped from a client container the agent makes (managed_client's)
            from pilot_tui.data import managed, managed_client
            from pilot_tui.provision.outputs import saved_outputs

            if managed.address(saved_outputs(state_dir), db.name) is None:
                continue  # not made yet: `server up` makes it, the next deploy schedules it
            # Its password not on this machine: ManagedError, and the agent is left as it is
            # (a plan without this job would stop its dumps with nothing said).
            managed_kind = managed_client.kind_of(config, db, state_dir)
            assert isinstance(managed_kind, managed_client.ManagedPostgres)
            plan = DumpPlan.of(managed_kind, managed_kind.password)
            job["client"] = managed_client.client_spec(managed_kind)
        jobs.append({"plan": asdict(plan), **job})
        dumped.append(db.name)
    names = dumped  # what the agent backs up: a managed database not made yet is not
    run = cloud_run_previews(config, state_dir)
    functions = lambda_previews(config, state_dir)
    if not names and edge is None and run is None and functions is None:
        return None
    socket = target.socket_on_host
    binds = {socket: HOST_SOCKET}
    environment: dict[str, str] = {}
    # On a Pilot Server in a cloud its credentials are the server's, from the metadata
    # service, which the apps' containers may not reach (metadata_guard.py, and a single
    # IMDS hop on AWS): it asks from the host's network.
    network = "host" if config.server.home in ("aws", "gcp") else "bridge"
    user, groups = None, []
    store: dict[str, str] | None = None  # no backups: nothing to write
    if functions is not None and functions.endpoint is not None:
        environment = sandbox_aws_keys()  # the sandbox's local AWS API
        if _loopback(functions.endpoint):
            network = "host"
    if names:
        backend = config.state.backend
        if backend == "local":
            if target.kind != "unix":
                raise AgentUnavailable(
                    f"scheduled backups of {', '.join(names)} need a state bucket: with local "
                    "state they are kept on this machine, which the Docker host at "
                    f"{target.address} cannot reach; set state.backend to s3 or gcs, or "
                    'set backup.schedule (backup.dumps, for RDS or Cloud SQL) to "off" and run '
                    "`pilot-tui db backup` from here"
                )
            root = state_dir / "backups"
            # Made here first (0700, ours): a folder the engine makes for a bind is root's,
            # which an agent running as this user could not write to.
            ensure_private_dir(root)
            binds[str(root)] = LOCAL_ROOT
            store = {"kind": "local", "root": LOCAL_ROOT}
            # Written as this user (the files stay readable here), with the socket's group.
            user = f"{os.getuid()}:{os.getgid()}"
            groups = [Path(socket).stat().st_gid]
        else:
            # S3 with the Pilot Server's instance role, GCS with its service account: each
            # granted backups/ of the state bucket by the server's template, no key stored.
            cloud, identity, home = {
                "s3": ("S3", "instance role", "aws"),
                "gcs": ("GCS", "service account", "gcp"),
            }[backend]
            store = {"kind": backend, "bucket": bucket_name(config)}
            if backend == "s3":
                store["region"] = config.aws.region
            if config.server.home == "sandbox":
                if sandbox_endpoint is None:
                    raise AgentUnavailable(f"the sandbox's local {cloud} API is not running")
                store["endpoint"] = sandbox_endpoint
                if backend == "s3":
                    environment = sandbox_aws_keys()
                if _loopback(sandbox_endpoint):
                    network = "host"  # only the host's own network reaches its 127.0.0.1
            elif config.server.home != home:
                raise AgentUnavailable(
                    f"scheduled backups to {cloud} use the Pilot Server's {identity}, and this "
                    f'project\'s Docker host is not one (server.home = "{config.server.home}"); '
                    'set backup.schedule (backup.dumps, for RDS or Cloud SQL) to "off" and run '
                    "`pilot-tui db backup` from cron or CI"
                )
    settings: dict[str, object] = {
        "project": project,
        "store": store,
        "databases": jobs,
        "previews": edge.to_json() if edge is not None else None,
        "cloud_run": run.to_json() if run is not None else None,
        "lambda": functions.to_json() if functions is not None else None,
    }
    base = PYTHON.image()
    return AgentPlan(
        container_name(project),
        project,
        base,
        image_tag(base),
        settings,
        environment,
        binds,
        network,
        user,
        groups,
    )


def cloud_run_previews(config: PilotConfig, state_dir: Path) -> CloudRunPreviews | None:
    """Where the agent looks for expired Cloud Run previews: the apps that run previews on
    Cloud Run, when the Pilot Server may list the region's services (its template's
    ``cloud_run_previews`` output, true once `server up` granted it); None otherwise (their
    previews then go at a laptop's `preview prune` or the next preview deploy)."""
    from pilot_tui.provision.outputs import saved_outputs

    if config.server.home != "gcp" or not config.gcp.project:
        return None
    if saved_outputs(state_dir).get("cloud_run_previews") is not True:
        return None
    from pilot_tui.cloud.policy_gcp import cloud_run_preview_apps
    from pilot_tui.provision.backends import bucket_name

    ttls = {app.name: float(app.previews.ttl_seconds()) for app in cloud_run_preview_apps(config)}
    if not ttls:
        return None
    state = bucket_name(config) if config.state.backend == "gcs" else None
    return CloudRunPreviews(config.gcp.project, config.gcp.region, ttls, state_bucket=state)


def lambda_previews(config: PilotConfig, state_dir: Path) -> LambdaPreviews | None:
    """Where the agent looks for expired Lambda previews: the apps that run previews on
    Lambda and that the Pilot Server's role may remove the previews of (its template's
    ``lambda_previews`` output, the apps `server up` granted it, whatever the state
    backend; the leases are read with S3 state); in the sandbox the same, on its local
    AWS API. None
    otherwise (their previews then go at a laptop's `preview prune`, CI's hourly run or
    the next preview deploy)."""
    from pilot_tui.cloud.policy_aws import lambda_preview_apps
    from pilot_tui.provision.outputs import saved_outputs

    home, endpoint = config.server.home, None
    if home == "sandbox":
        from pilot_tui.cloud.sandbox import Sandbox

        emulator = Sandbox(state_dir).running().get("aws")
        if emulator is None:
            return None  # nothing to look at: its previews went with the local AWS API
        endpoint = emulator.url
    elif home != "aws":
        return None
    granted = saved_outputs(state_dir).get("lambda_previews")
    if not isinstance(granted, list):
        return None
    ttls = {
        app.name: float(app.previews.ttl_seconds())
        for app in lambda_preview_apps(config)
        if app.name in granted
    }
    from pilot_tui.provision.backends import bucket_name

    state = bucket_name(config) if config.state.backend == "s3" else None
    return LambdaPreviews(config.aws.region, ttls, endpoint, state) if ttls else None


def sandbox_aws_keys() -> dict[str, str]:
    """moto's placeholders (it takes any): no key of the team's leaves this machine."""
    from pilot_tui.cloud.sandbox import ACCESS_KEY, SECRET_KEY

    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def image_tag(base: str) -> str:
    digest = hashlib.sha256(base.encode())
    for module in AGENT_MODULES:
        digest.update(module.encode() + b"\0" + (PACKAGE / module).read_bytes())
    return f"pilot-backup-agent:{digest.hexdigest()[:12]}"


def build_context(base: str) -> bytes:
    """The image's build context: its Dockerfile and the agent's modules."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        files = {"Dockerfile": DOCKERFILE.format(base=base).encode()}
        files |= {f"pilot_tui/{m}": (PACKAGE / m).read_bytes() for m in AGENT_MODULES}
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def install(client: DockerClient, plan: AgentPlan, say: Say) -> bool:
    """The agent running as ``plan`` says; True when it was (re)made, False when it ran
    so already."""
    from docker.errors import NotFound
    from docker.types import LogConfig

    try:
        current = client.containers.get(plan.name)
    except NotFound:
        current = None
    if (
        current is not None
        and current.labels.get(SETTINGS_HASH) == plan.settings_hash
        and current.status == "running"
    ):
        return False
    _ensure_image(client, plan, say)
    _ensure_client_images(client, plan, say)
    if current is not None:
        current.remove(force=True)  # a routes lock it held is broken by the next taker
    agent_id = secrets.token_hex(8)  # names this container on the locks it takes (lock.py)
    container = client.containers.create(
        plan.image,
        name=plan.name,
        labels={
            "pilot.project": plan.project,
            "pilot.role": ROLE,
            SETTINGS_HASH: plan.settings_hash,
            AGENT_ID_LABEL: agent_id,
        },
        environment={**plan.environment, AGENT_ID_ENV: agent_id},
        volumes={host: {"bind": inside, "mode": "rw"} for host, inside in plan.binds.items()},
        network_mode=plan.network_mode,
        user=plan.user or "",
        group_add=plan.group_add or None,
        restart_policy={"Name": "unless-stopped"},  # type: ignore[arg-type]  # stubs lack it
        mem_limit="128m",
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "3"}),
    )
    container.put_archive("/", _settings_archive(plan))
    container.start()
    say(f"backup agent {plan.name} started: {_summary(plan)}")
    return True


def _ensure_image(client: DockerClient, plan: AgentPlan, say: Say) -> None:
    from pilot_tui.deploy.build.bases import ensure_built

    failed = ensure_built(
        client,
        plan.image,
        lambda: build_context(plan.base),
        DOCKERFILE.format(base=plan.base),
        lambda: say(f"building the backup agent's image {plan.image} from {plan.base}"),
    )
    if failed is not None:
        raise BackupError(f"the backup agent's image: {failed}")


def _ensure_client_images(client: DockerClient, plan: AgentPlan, say: Say) -> None:
    """The image of each managed database's client container on the host: the agent
    makes them, and never pulls."""
    from pilot_tui.deploy.targets.docker_host.containers import ensure_image

    jobs = plan.settings["databases"]
    assert isinstance(jobs, list)
    for job in jobs:
        spec = job.get("client")
        if isinstance(spec, dict):
            ensure_image(client, str(spec["image"]), say, "the postgres image")


def _settings_archive(plan: AgentPlan) -> bytes:
    uid, gid = (int(n) for n in plan.user.split(":")) if plan.user else (0, 0)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = json.dumps(plan.settings, indent=2).encode()
        info = tarfile.TarInfo(SETTINGS_PATH.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = len(data), 0o600, uid, gid
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _summary(plan: AgentPlan) -> str:
    jobs = plan.settings["databases"]
    assert isinstance(jobs, list)
    store = plan.settings["store"]
    said = []
    if isinstance(store, dict):
        scheme = {"s3": "s3", "gcs": "gs"}.get(str(store["kind"]))
        where = (
            f"{scheme}://{store['bucket']}/backups" if scheme else "the project's .pilot/backups"
        )
        each = ", ".join(
            f"{j['plan']['database']} {j['schedule']} (keep {j['keep']})" for j in jobs
        )
        said.append(f"{each}, to {where}")
    if plan.settings.get("previews"):
        said.append("previews past their TTL removed")
    return "; ".join(said)


def timetable(plan: AgentPlan, now: datetime | None = None) -> list[dict[str, object]]:
    """Each database the agent backs up: its schedule, keep and next run (UTC)."""
    jobs = plan.settings["databases"]
    assert isinstance(jobs, list)
    moment = now or datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for job in jobs:
        parsed = schedules.parse(job["schedule"])
        following = parsed.next_after(moment) if parsed is not None else None
        rows.append(
            {
                "database": job["plan"]["database"],
                "schedule": job["schedule"],
                "keep": job["keep"],
                "next": following.isoformat(timespec="minutes") if following else None,
            }
        )
    return rows


def pruned(plan: AgentPlan) -> list[str]:
    """The previews the agent removes once their TTL runs out, in a person's words."""
    looks = []
    if plan.settings.get("previews"):
        looks.append("previews on the Docker host")
    run = plan.settings.get("cloud_run")
    if isinstance(run, dict):
        looks.append(f"Cloud Run previews of {', '.join(sorted(run['ttls']))}")
    functions = plan.settings.get("lambda")
    if isinstance(functions, dict):
        looks.append(f"Lambda previews of {', '.join(sorted(functions['ttls']))}")
    return looks


def find(client: DockerClient, project: str) -> Container | None:
    from docker.errors import NotFound

    try:
        return client.containers.get(container_name(project))
    except NotFound:
        return None


def remove(client: DockerClient, project: str) -> bool:
    """The agent gone (its image stays: others' projects may share it); whether it was."""
    container = find(client, project)
    if container is None:
        return False
    container.remove(force=True)
    return True


def run_now(client: DockerClient, project: str, database: str, say: Say) -> int:
    """One backup of ``database`` by the agent itself, now: its output said line by line;
    the agent's exit status (0: taken)."""
    container = find(client, project)
    if container is None or container.status != "running":
        raise BackupError(
            f"no backup agent runs for project {project}: `pilot-tui db schedule` starts it"
        )
    exec_id = client.api.exec_create(
        container.id, ["python3", "-m", "pilot_tui.data.agent", "--now", database]
    )["Id"]
    pending = b""
    for chunk in client.api.exec_start(exec_id, stream=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            say(line.decode(errors="replace"))
    if pending:
        say(pending.decode(errors="replace"))
    code = client.api.exec_inspect(exec_id).get("ExitCode")
    return code if isinstance(code, int) else 1


def sandbox_store(config: PilotConfig, state_dir: Path) -> str | None:
    """The sandbox's local S3 API or GCS emulator, for an agent writing to the sandbox's
    state bucket (None outside the sandbox, or with local state)."""
    if config.server.home != "sandbox" or config.state.backend == "local":
        return None
    from pilot_tui.cloud.sandbox import Sandbox

    running = Sandbox(state_dir).ensure()[0]
    emulator = running.get("aws" if config.state.backend == "s3" else "gcs")
    return emulator.url if emulator is not None else None


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
