"""The agent's work: each database's backup when its schedule says, and every minute the
project's previews past their TTL removed (on the Docker host: previews.py; on Cloud Run:
cloud_run.py), forever; or one backup now
(``--now NAME``: what ``pilot-tui db backup NAME --on-server`` runs, to prove the
schedule's path works), or one look for expired previews (``--prune-previews [--at
SECONDS]``, the clock given for tests). Each backup's outcome goes to
``NAME/schedule.json`` in the store, where ``db status`` and the Data screen read it; a run
missed while the host was down is taken once when the agent starts again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pilot_tui.data import schedule as schedules
from pilot_tui.data.agent import cloud_run, lambda_previews, previews
from pilot_tui.data.agent.aws import AwsApi
from pilot_tui.data.agent.clients import left_over, run_name
from pilot_tui.data.agent.engine import Engine
from pilot_tui.data.agent.gcs import AgentGcsStore, MetadataTokens
from pilot_tui.data.agent.s3 import AgentS3Store
from pilot_tui.data.backups import (
    DumpPlan,
    ScheduledRun,
    dump_into,
    mb,
    record_scheduled_run,
    scheduled_run,
)
from pilot_tui.data.stores import BackupStore, LocalStore
from pilot_tui.errors import PilotError
from pilot_tui.wording import counted

SETTINGS = "/pilot/agent.json"
CATCH_UP = timedelta(days=7)  # a run missed longer ago than this is not taken late

Say = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    plan: DumpPlan
    schedule: schedules.Schedule
    keep: int
    # A managed database's: the client container its dump runs in (managed_client's spec);
    # None: the dump runs in the database's own container.
    client: dict[str, object] | None = None


@dataclass(frozen=True)
class Settings:
    project: str
    store: dict[str, str] | None  # None: no database is backed up
    jobs: list[Job]
    edge: previews.Edge | None = None  # None: the project runs no previews on the host
    cloud_run: cloud_run.CloudRunPreviews | None = None  # None: none on Cloud Run
    lambda_: lambda_previews.LambdaPreviews | None = None  # None: none on Lambda

    @property
    def prunes(self) -> bool:
        """Whether the agent looks for expired previews."""
        return any(where is not None for where in (self.edge, self.cloud_run, self.lambda_))


def load(path: Path) -> Settings:
    """The agent's settings; a database scheduled "off" is none of its jobs (Pilot
    writes none such: ``scheduling.agent_plan`` leaves them out)."""
    raw = json.loads(path.read_text())
    jobs = [
        Job(DumpPlan(**item["plan"]), schedule, int(item["keep"]), item.get("client"))
        for item in raw["databases"]
        if (schedule := schedules.parse(item["schedule"])) is not None
    ]
    store = raw.get("store")
    edge = raw.get("previews")
    run = raw.get("cloud_run")
    functions = raw.get("lambda")
    return Settings(
        str(raw["project"]),
        dict(store) if store else None,
        jobs,
        previews.Edge.from_json(edge) if edge else None,
        cloud_run.CloudRunPreviews.from_json(run) if run else None,
        lambda_previews.LambdaPreviews.from_json(functions) if functions else None,
    )


def store_from(spec: Mapping[str, str] | None, environment: Mapping[str, str]) -> BackupStore:
    if spec is None:
        return LocalStore(Path("/nonexistent"))  # no database has a schedule: never written
    if spec["kind"] == "s3":
        return AgentS3Store(spec["bucket"], spec["region"], spec.get("endpoint"), environment)
    if spec["kind"] == "gcs":
        return AgentGcsStore(spec["bucket"], spec.get("endpoint"))
    if spec["kind"] == "local":
        return LocalStore(Path(spec["root"]))
    raise PilotError(f"the backup agent cannot write to a {spec['kind']} store")


def live_container(engine: Engine, project: str, database: str) -> str:
    """The running container serving ``database`` (the newest generation: a restore's)."""
    found = engine.containers(
        [f"pilot.project={project}", f"pilot.database={database}", "pilot.role=database"]
    )

    def generation(container: dict[str, object]) -> int:
        labels = container.get("Labels")
        value = labels.get("pilot.database.generation", "1") if isinstance(labels, dict) else "1"
        return int(value) if str(value).isdigit() else 1

    if not found:
        raise PilotError(f"database {database} is not running on this Docker host")
    return str(max(found, key=generation)["Id"])


def start_client(engine: Engine, spec: Mapping[str, object]) -> str:
    """A managed database's client container (``managed_client.client_spec``) made and
    started, after removing those of its labels a run that failed left; its id."""
    labels = spec["labels"]
    assert isinstance(labels, dict)
    for left in engine.containers([f"{k}={v}" for k, v in labels.items()], all=True):
        if left_over(str(left.get("State", ""))):
            engine.remove(str(left["Id"]))
    container = engine.create(
        run_name(str(spec["name"])),
        {
            "Image": spec["image"],
            "Cmd": spec["command"],
            "Labels": labels,
            "HostConfig": {"AutoRemove": True, "Memory": spec["memory"]},
        },
    )
    try:
        engine.start(container)
    except BaseException:  # never started, it would never end by itself
        with contextlib.suppress(PilotError, OSError):
            engine.remove(container)
        raise
    return container


def run_one(
    engine: Engine, store: BackupStore, project: str, job: Job, say: Say, now: float
) -> bool:
    """One backup; its outcome in the store's status file. True when it was taken."""
    started = datetime.fromtimestamp(now, UTC)
    name = job.plan.database
    client: str | None = None
    try:
        if job.client is not None:
            container = client = start_client(engine, job.client)
        else:
            container = live_container(engine, project, name)
        record, pruned = dump_into(engine, container, job.plan, store, keep=job.keep, say=say)
    except (PilotError, OSError) as exc:
        detail, ok = f"failed: {exc}", False
        for line in getattr(exc, "logs", ()):
            say(f"  {line}")
    except Exception as exc:  # a bug: said in full in the agent's log, kept running
        say(traceback.format_exc().rstrip())
        detail, ok = f"failed: {type(exc).__name__}: {exc}", False
    else:
        detail, ok = f"backup {record.id}: {mb(record.size)}, {counted(record.rows, 'row')}", True
        if pruned:
            detail += f"; pruned {', '.join(pruned)}"
    finally:
        if client is not None:
            with contextlib.suppress(PilotError, OSError):  # it ends itself within a day
                engine.remove(client)
    say(f"{name}: {detail}")
    outcome = ScheduledRun(
        at=started.isoformat(timespec="seconds"),
        ok=ok,
        detail=detail,
        schedule=job.schedule.text,
        next=job.schedule.next_after(started).isoformat(),
    )
    try:
        record_scheduled_run(store, name, outcome)
    except PilotError as exc:
        say(f"{name}: cannot record the run's outcome: {exc}")
    return ok


def last_run(store: BackupStore, database: str, now: float) -> float:
    """When the database's last scheduled run started (for runs missed while down); now
    when there is none or it is too old to take late."""
    try:
        last = scheduled_run(store, database)
        at = datetime.fromisoformat(last.at).timestamp() if last is not None else now
    except (PilotError, ValueError):
        return now
    return at if now - at < CATCH_UP.total_seconds() else now


def due(jobs: list[Job], last: dict[str, float], now: float) -> list[Job]:
    """The jobs whose next run after their last one has come."""
    return [job for job in jobs if _next(job.schedule, last[job.plan.database]) <= now]


def next_wake(jobs: list[Job], last: dict[str, float]) -> float | None:
    times = [_next(j.schedule, last[j.plan.database]) for j in jobs]
    return min(times) if times else None


def _next(schedule: schedules.Schedule, after: float) -> float:
    return schedule.next_after(datetime.fromtimestamp(after, UTC)).timestamp()


def serve(
    engine: Engine,
    store: BackupStore,
    settings: Settings,
    say: Say,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Forever: sleep until the next run is due, take every backup that is; between
    naps, remove the previews whose TTL ran out."""
    now = clock()
    last = {job.plan.database: last_run(store, job.plan.database, now) for job in settings.jobs}
    for job in settings.jobs:
        say(f"{job.plan.database}: schedule {job.schedule.text}, keeping {job.keep}")
    if settings.prunes:
        say(f"previews past their TTL are removed within {previews.EVERY:.0f} s")
    tokens = MetadataTokens()  # the Cloud Run calls': fetched again only near expiry
    aws = lambda_api(settings)  # the Lambda calls': its credentials kept until near expiry
    looked = Hushed(say)  # a look's lines, the same each minute while nothing changes
    while True:
        wake = next_wake(settings.jobs, last)
        if wake is None and not settings.prunes:
            say("no database has a schedule and no preview runs: nothing to do")
            sleep(86_400)
            continue
        if wake is not None:
            when = datetime.fromtimestamp(wake, UTC).isoformat(timespec="minutes")
            say(f"next run at {when}")
        while wake is None or (left := wake - clock()) > 0:
            prune_previews(engine, settings, looked, clock(), tokens, aws)
            # Short naps: a host clock set forward is followed, and previews are looked at.
            sleep(previews.EVERY if wake is None else min(left, previews.EVERY))
        now = clock()
        for job in due(settings.jobs, last, now):
            run_one(engine, store, settings.project, job, say, now)
            last[job.plan.database] = now


class Hushed:
    """``say``, but a line said in the last ``every`` seconds is not said again (the agent
    looks every minute: a preview it may not remove would fill its log)."""

    def __init__(
        self, say: Say, every: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.say, self.every, self.clock = say, every, clock
        self.last: dict[str, float] = {}

    def __call__(self, line: str) -> None:
        now = self.clock()
        if now - self.last.get(line, -self.every) >= self.every:
            self.last = {k: t for k, t in self.last.items() if now - t < self.every}
            self.last[line] = now
            self.say(line)


def prune_previews(
    engine: Engine,
    settings: Settings,
    say: Say,
    now: float,
    tokens: MetadataTokens | None = None,
    aws: AwsApi | None = None,
) -> bool:
    """One look for the project's expired previews (on the Docker host, on Cloud Run, on
    Lambda), removing them; False when one look failed (said, and tried again at the next
    look)."""
    project, ok = settings.project, True
    if (edge := settings.edge) is not None:
        ok = _looked("previews", say, lambda: previews.prune(engine, project, edge, now, say))
    if (where := settings.cloud_run) is not None:
        send = cloud_run.http_transport(tokens or MetadataTokens())
        pruned = _looked(
            "Cloud Run previews", say, lambda: cloud_run.prune(where, project, now, say, send)
        )
        ok = ok and pruned
    if (functions := settings.lambda_) is not None:
        api = aws or lambda_api(settings)
        assert api is not None
        pruned = _looked(
            "Lambda previews",
            say,
            lambda: lambda_previews.prune(functions, project, now, say, api),
        )
        ok = ok and pruned
    return ok


def lambda_api(settings: Settings) -> AwsApi | None:
    """The AWS APIs the Lambda previews' look calls, as the server's instance role (or
    the sandbox's placeholders, from the environment); None: no such look."""
    if (functions := settings.lambda_) is None:
        return None
    return AwsApi(functions.region, os.environ, functions.endpoint)


def _looked(what: str, say: Say, look: Callable[[], object]) -> bool:
    """``look`` done; False when it failed (said: a bug in full, and the agent goes on)."""
    try:
        look()
    except (PilotError, OSError) as exc:
        say(f"{what}: {exc}")
        return False
    except Exception:  # a bug: said in full in the agent's log, kept running
        say(traceback.format_exc().rstrip())
        return False
    return True


def main(argv: list[str]) -> int:
    def say(line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} {line}", flush=True)

    path = Path(os.environ.get("PILOT_AGENT_SETTINGS", SETTINGS))
    try:
        settings = load(path)
        store = store_from(settings.store, os.environ)
    except (OSError, ValueError, KeyError, TypeError, PilotError) as exc:
        say(f"cannot read the agent's settings {path}: {exc}")
        return 2
    engine = Engine(os.environ.get("PILOT_DOCKER_SOCKET", "/var/run/docker.sock"))
    if argv[:1] == ["--now"] and len(argv) == 2:
        job = next((j for j in settings.jobs if j.plan.database == argv[1]), None)
        if job is None:
            say(f"the agent backs up no database named {argv[1]}")
            return 2
        return 0 if run_one(engine, store, settings.project, job, say, time.time()) else 1
    if argv[:1] == ["--prune-previews"] and len(argv) in (1, 3) and argv[1:2] in ([], ["--at"]):
        try:
            at = float(argv[2]) if len(argv) == 3 else time.time()
        except ValueError:
            say(f"--at takes seconds since the epoch, not {argv[2]!r}")
            return 2
        return 0 if prune_previews(engine, settings, say, at) else 1
    if argv:
        say("usage: python -m pilot_tui.data.agent [--now DATABASE | --prune-previews [--at S]]")
        return 2
    serve(engine, store, settings, say)
    return 0
