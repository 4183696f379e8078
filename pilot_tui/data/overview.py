"""Each database at a glance, for `pilot-tui db list` and the app's Data screen alike: its
state on the Docker host and, from the backup store, its backups and last drills."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.data import backups, docker_db, managed, schedule, scheduling
from pilot_tui.data.backups import BackupRecord, DrillRecord, ScheduledRun
from pilot_tui.data.kinds import KINDS, kind_for
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from docker import DockerClient

    from pilot_tui.config.schema import Database, ManagedService, PilotConfig
    from pilot_tui.data.stores import BackupStore
    from pilot_tui.project import Project


UNREACHABLE = "the Docker host cannot be reached"


@dataclass(frozen=True)
class DatabaseRow:
    settings: Database
    state: str  # running, exited, not created, data only…
    container: str
    volume: str | None
    kept_volumes: tuple[str, ...]
    backups: int | None = None  # None: the store could not be read (``problem`` says why)
    last_backup: BackupRecord | None = None
    last_drill: DrillRecord | None = None
    last_good_drill: DrillRecord | None = None
    last_scheduled: ScheduledRun | None = None  # the backup agent's last run
    # Whether the project's backup agent runs now; None: unknown (no Docker host asked)
    agent_running: bool | None = False
    problem: str | None = None
    # Why its Docker host could not be reached (its state unknown; its backups, in the
    # store, listed as ever); None: reached, or not on the Docker host.
    unreachable: str | None = None

    def to_json(self) -> dict[str, object]:
        s = self.settings
        return {
            "name": s.name,
            "kind": s.kind,
            "version": s.version,
            "apps": s.apps,
            "url_env": s.url_env,
            "state": self.state,
            "container": self.container,
            "volume": self.volume,
            "kept_volumes": list(self.kept_volumes),  # the data from before each restore
            "backups": self.backups,
            "last_backup": asdict(self.last_backup) if self.last_backup else None,
            "last_drill": asdict(self.last_drill) if self.last_drill else None,
            "last_good_drill": asdict(self.last_good_drill) if self.last_good_drill else None,
            "on": s.on,
            "schedule": self.settings.backup.schedule,
            "dumps": self.settings.backup.dumps,  # a managed one's: Pilot's, by the agent
            "agent_running": self.agent_running,
            "last_scheduled": asdict(self.last_scheduled) if self.last_scheduled else None,
            "problem": self.problem,
            "unreachable": self.unreachable,
        }

    @property
    def service(self) -> ManagedService | None:
        """The managed service that runs it and backs it up (None: the Docker host)."""
        return self.settings.service

    def backup_text(self) -> str:
        if self.service is not None:
            service, keep = self.service, self.settings.backup.keep
            own = f"by {service.title} each day, kept {keep} {service.keep_unit}"
            if self.problem:
                return f"{own}; Pilot's dumps: unknown ({self.problem})"
            if self.last_backup is None:
                return own
            return f"{own}; Pilot's dump {self._last_backup_text()}"
        if self.problem:
            return f"unknown ({self.problem})"
        if self.last_backup is None:
            return "never" if self.kind_backs_up else "not offered yet"
        return self._last_backup_text()

    def _last_backup_text(self) -> str:
        b = self.last_backup
        assert b is not None
        return f"{b.id} · {b.size / 1e6:.1f} MB · {b.rows:,} rows ({self.backups} kept)"

    def drill_text(self) -> str:
        good, last = self.last_good_drill, self.last_drill
        if last is None:
            return "never"
        if last.ok:
            return f"passed {last.at} ({last.backup})"
        since = f"; last passed {good.at}" if good else ""
        return f"FAILED {last.at} ({last.backup}){since}"

    @property
    def scheduled(self) -> bool:
        """Whether the backup agent backs this database up (a kind with backups, and a
        schedule that is not "off": a managed one's ``backup.dumps``)."""
        when = scheduling.agent_schedule(self.settings)
        return self.offers_dumps and schedule.parse(when) is not None

    def schedule_problem(self) -> str | None:
        """Why scheduled backups are not being taken (the agent is down, or its last run
        failed); None when they are, or none are scheduled."""
        if not self.scheduled:
            return None
        if self.agent_running is None:
            return None  # not known to be a problem: schedule_text says it is unknown
        if not self.agent_running:
            return "agent not running (pilot-tui db schedule starts it)"
        last = self.last_scheduled
        if last is not None and not last.ok:
            return f"FAILED {last.at}: {last.detail.removeprefix('failed: ')}"
        return None

    def schedule_text(self) -> str:
        own = f"daily · by {self.service.title}" if self.service is not None else ""
        if not self.scheduled:
            return own or "off"
        when, last = scheduling.agent_schedule(self.settings), self.last_scheduled
        problem = self.schedule_problem()
        if self.agent_running is None:
            agent = f"{when} · agent unknown (the Docker host was not reached)"
        elif problem is not None:
            agent = f"{when} · {problem}"
        else:
            agent = f"{when} · ran {last.at}" if last is not None else f"{when} · no run yet"
        return f"{own}; Pilot's dumps {agent}" if own else agent

    @property
    def kind_backs_up(self) -> bool:
        """Whether Pilot itself backs it up (a managed service backs up its own)."""
        return self.service is None and self.offers_dumps

    @property
    def offers_dumps(self) -> bool:
        """Whether Pilot's own dumps and drills are offered for it (a managed database's
        too, beside its service's backups, when asked for: `db backup NAME`)."""
        return KINDS[self.settings.kind].dump_format is not None


def open_store(config: PilotConfig, project: Project) -> tuple[BackupStore | None, str | None]:
    """The backup store, or None and why it cannot be opened (a listing goes on without)."""
    from pilot_tui.data.stores import store_for

    if not any(KINDS[db.kind].dump_format is not None for db in config.databases):
        return None, None
    try:
        # A listing only reads: a state bucket not made yet is said, never made here.
        return store_for(config, project.state_dir, project.root, create=False), None
    except PilotError as exc:
        return None, redact.clip(str(exc), 160)


def rows(
    client: DockerClient | None,
    config: PilotConfig,
    store: BackupStore | None,
    store_problem: str | None = None,
    state_dir: Path | None = None,
    unreachable: str | None = None,
) -> list[DatabaseRow]:
    """One row per [[databases]] entry; with ``store``, its backups and drills too
    (``store_problem``: why there is no store, said in each row that would have used it).
    ``state_dir``: where the server's outputs say which managed databases exist.
    ``client`` is None when no Docker host was asked (``unreachable`` says why): the
    agent's state and each of its databases' is then unknown, their backups listed."""
    found_rows = []
    agent = scheduling.find(client, config.project.name) if client is not None else None
    agent_running = (agent is not None and agent.status == "running") if client else None
    outputs = server_outputs(config, state_dir)
    for settings in config.databases:
        if settings.service is not None:  # with Pilot's own dumps of it, when any
            row = replace(managed_row(config, settings, outputs), agent_running=agent_running)
            if store is not None:
                row = _with_backups(row, store)
            elif store_problem:
                row = replace(row, problem=store_problem)
            found_rows.append(row)
            continue
        kind = kind_for(config.project.name, settings)
        if client is None:  # none asked (unreachable: why; else none was needed)
            row = DatabaseRow(
                settings,
                f"unknown ({unreachable or 'no Docker host'})",
                kind.container,
                None,
                (),
                agent_running=agent_running,
                unreachable=unreachable,
            )
        else:
            found = docker_db.find(client, kind)
            row = DatabaseRow(
                settings,
                found.state,
                found.kind.container,
                found.kind.volume if found.volume else None,
                found.kept,
                agent_running=agent_running,
            )
        if store is not None and row.kind_backs_up:
            row = _with_backups(row, store)
        elif store_problem and row.kind_backs_up:
            row = replace(row, problem=store_problem)
        found_rows.append(row)
    return found_rows


def listed(
    config: PilotConfig,
    project: Project,
    docker_client: Callable[[], AbstractContextManager[DockerClient]],
    warn: Callable[[str], None],
) -> list[DatabaseRow]:
    """Every database's row, for `db list`, `db status` and the Data screen. The Docker
    host (``docker_client``, opened only when needed) is asked when a database runs there,
    or the backup agent there dumps a managed one. When it cannot be reached, that is a
    warning: its databases' state and the agent's are unknown (``DatabaseRow.unreachable``),
    and every backup in the store is listed as ever."""
    store, problem = open_store(config, project)
    state_dir = project.state_dir
    on_host = bool(config.databases_on("docker"))
    if not on_host and not scheduling.scheduled(config):
        return rows(None, config, store, problem, state_dir)
    with contextlib.ExitStack() as opened:
        try:
            client = opened.enter_context(docker_client())
        except PilotError as exc:  # the opening only: a failure once it answers is raised
            unasked = (
                "the databases on it could not be asked (their backups are listed "
                "from the store), and "
                if on_host
                else ""
            )
            warn(f"warning: {exc}; {unasked}whether the backup agent runs is unknown")
        else:
            return rows(client, config, store, problem, state_dir)
    return rows(None, config, store, problem, state_dir, UNREACHABLE)


def server_outputs(config: PilotConfig, state_dir: Path | None) -> dict[str, object]:
    """The server's last apply's outputs, read once for every managed database's row
    (none to read when no database is managed)."""
    from pilot_tui.provision.server import saved_outputs

    if state_dir is None or not config.managed_databases():
        return {}
    return saved_outputs(state_dir)


def managed_row(config: PilotConfig, settings: Database, outputs: dict[str, object]) -> DatabaseRow:
    """A managed database as the server's last apply left it (``outputs``: its address and
    instance name), or not made yet."""
    title = settings.service
    where = managed.address(outputs, settings.name)
    on = f"on {title.title if title else '?'}"
    state = f"{on} at {where.host}" if where else "not made yet (pilot-tui server up)"
    instance = (where.instance if where else "") or managed.identifier(
        config.project.name, settings.name
    )
    return DatabaseRow(settings, state, instance, None, ())


def _with_backups(row: DatabaseRow, store: BackupStore) -> DatabaseRow:
    name = row.settings.name
    try:
        known = backups.records(store, name)
        drills = backups.drills(store, name)
        last_scheduled = backups.scheduled_run(store, name)
    except PilotError as exc:
        return replace(row, problem=redact.clip(str(exc), 160))
    good = backups.last_good(drills)
    return replace(
        row,
        backups=len(known),
        last_backup=known[-1] if known else None,
        last_drill=drills[-1] if drills else None,
        last_good_drill=good,
        last_scheduled=last_scheduled,
    )
