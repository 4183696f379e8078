"""Each database at a glance, for `pilot-tui db list` and the app's Data screen alike: its
state on the Docker host and, from the backup store, its backups and last drills."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from pilot_tui.data import backups, docker_db
from pilot_tui.data.backups import BackupRecord, DrillRecord
from pilot_tui.data.kinds import KINDS, kind_for
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from docker import DockerClient

    from pilot_tui.config.schema import Database, PilotConfig
    from pilot_tui.data.stores import BackupStore
    from pilot_tui.project import Project


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
    problem: str | None = None

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
            "problem": self.problem,
        }

    def backup_text(self) -> str:
        if self.problem:
            return f"unknown ({self.problem})"
        if self.last_backup is None:
            return "never" if self.kind_backs_up else "not offered yet"
        b = self.last_backup
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
    def kind_backs_up(self) -> bool:
        return KINDS[self.settings.kind].dump_format is not None


def open_store(config: PilotConfig, project: Project) -> tuple[BackupStore | None, str | None]:
    """The backup store, or None and why it cannot be opened (a listing goes on without)."""
    from pilot_tui.data.stores import store_for

    if not any(KINDS[db.kind].dump_format is not None for db in config.databases):
        return None, None
    try:
        return store_for(config, project.state_dir, project.root), None
    except PilotError as exc:
        return None, str(exc)[:160]


def rows(
    client: DockerClient,
    config: PilotConfig,
    store: BackupStore | None,
    store_problem: str | None = None,
) -> list[DatabaseRow]:
    """One row per [[databases]] entry; with ``store``, its backups and drills too
    (``store_problem``: why there is no store, said in each row that would have used it)."""
    found_rows = []
    for settings in config.databases:
        kind = kind_for(config.project.name, settings)
        found = docker_db.find(client, kind)
        row = DatabaseRow(
            settings,
            found.state,
            found.kind.container,
            found.kind.volume if found.volume else None,
            found.kept,
        )
        if store is not None and row.kind_backs_up:
            row = _with_backups(row, store)
        elif store_problem and row.kind_backs_up:
            row = replace(row, problem=store_problem)
        found_rows.append(row)
    return found_rows


def _with_backups(row: DatabaseRow, store: BackupStore) -> DatabaseRow:
    name = row.settings.name
    try:
        known = backups.records(store, name)
        drills = backups.drills(store, name)
    except PilotError as exc:
        return replace(row, problem=str(exc)[:160])
    good = backups.last_good(drills)
    return replace(
        row,
        backups=len(known),
        last_backup=known[-1] if known else None,
        last_drill=drills[-1] if drills else None,
        last_good_drill=good,
    )
