"""Data: the [[databases]] with their state, last backup and last drill, and keys that back
one up now (b), drill its newest backup (t) or restore it (r, after its name is typed).

Each runs in a thread worker, as `pilot-tui db backup|drill|restore` would (the same core
functions), its lines streaming into the log pane; the list is read in a worker too (the
backup store may be a bucket), and read again after each run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Header, Input, Label, Static
from textual.worker import Worker, WorkerState

from pilot_tui.data.overview import DatabaseRow
from pilot_tui.project import Project
from pilot_tui.screens.colorlog import ColorLog
from pilot_tui.screens.failures import ErrorPanel, worker_failure
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.run_screen import LOG_LINES, RunScreen, tracked
from pilot_tui.wording import plural

if TYPE_CHECKING:
    from docker import DockerClient

    from pilot_tui.config.schema import PilotConfig
    from pilot_tui.deploy.engine import Deployer

ACTIONS = {"backup": "Backing up", "drill": "Drilling", "restore": "Restoring"}


class ConfirmRestore(ModalScreen[bool]):
    """A restore replaces what the apps see: the database's name must be typed first."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, name: str, backup: str) -> None:
        super().__init__()
        self.database, self.backup = name, backup

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(
                f"Restore [b]{escape(self.database)}[/b] from backup {escape(self.backup)}? It "
                "is checked in a fresh volume first; then the linked apps are redeployed onto "
                "it, and the data of now is kept in its volume. Type the database's name:"
            )
            yield Input(placeholder=self.database, id="confirm-name")
            with Horizontal():
                yield Button("Restore", variant="warning", id="restore-go", disabled=True)
                yield Button("Cancel", variant="primary", id="restore-cancel")

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        self.query_one("#restore-go", Button).disabled = event.value.strip() != self.database

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.database:
            self.dismiss(True)

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "restore-go")


@dataclass(frozen=True)
class Listing:
    """What the list's worker read: a row per database, and the warnings said meanwhile."""

    rows: list[DatabaseRow]
    warnings: list[str]


class DataScreen(RunScreen):
    WORKERS = "data"
    BINDINGS = [
        Binding("b", "backup", "Back up now"),
        Binding("t", "drill", "Drill"),
        Binding("r", "restore", "Restore"),
        Binding("escape", "cancel_or_back", "Back"),
    ]

    def __init__(self, project_file: Path) -> None:
        super().__init__(Project(project_file).state_dir)
        self.project_file = project_file
        self.rows: dict[str, DatabaseRow] = {}
        self.acted = False  # a backup, drill or restore ran (its outcome is on show)
        self.unread = False  # the last listing failed: its panel says why

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="data"):
            yield Static(
                "[b]Data[/b] · [b]b[/b] backs the selected database up now · [b]t[/b] drills "
                "its newest backup (restores it into a throwaway database and checks it) · "
                "[b]r[/b] restores it",
                id="data-title",
            )
            yield ErrorPanel(id="data-error", classes="hidden")
            yield DataTable(id="db-list", cursor_type="row", zebra_stripes=True)
            yield Static("Reading the databases…", id="data-result")
            yield ColorLog(id="data-log", max_lines=LOG_LINES)
        yield PilotFooter()

    def on_mount(self) -> None:
        table = self.query_one("#db-list", DataTable)
        table.add_columns("name", "kind", "state", "last backup", "last drill", "schedule")
        self.load_rows()

    # -- the list -------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="data-list",
        name="reading the databases",
        exit_on_error=False,
    )
    def load_rows(self) -> Listing:
        from pilot_tui.data import overview

        config = self._config()
        warnings: list[str] = []

        @contextlib.contextmanager
        def docker_host() -> Iterator[DockerClient]:
            with self._engine(config) as engine:
                yield engine.docker_client

        def warn(text: str) -> None:
            warnings.append(text.removeprefix("warning: "))
            self.core_event(text)

        return Listing(
            overview.listed(config, Project(self.project_file), docker_host, warn), warnings
        )

    def _show_rows(self, listing: Listing) -> None:
        rows = listing.rows
        table = self.query_one("#db-list", DataTable)
        row = table.cursor_row
        table.clear()
        self.rows = {r.settings.name: r for r in rows}
        for r in rows:
            s = r.settings
            table.add_row(
                s.name,
                f"{s.kind} {s.version}",
                r.state,
                r.backup_text(),
                r.drill_text() if r.offers_dumps else "—",
                r.schedule_text(),
                key=s.name,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        # An action's outcome (a failure pinned) stays on show; else a host that did not
        # answer, or what the agent lacks.
        unreached = [r.settings.name for r in rows if r.unreachable]
        unscheduled = [f"{r.settings.name}: {p}" for r in rows if (p := r.schedule_problem())]
        if unreached and not self.acted:
            self.error_panel.pin(
                "The Docker host cannot be reached",
                f"\nThe state of {', '.join(unreached)} is unknown; backing up, drilling and "
                "restoring need the host.\n" + "\n".join(listing.warnings),
            )
        elif unscheduled and not self.acted:
            lines = "\n" + "\n".join(unscheduled)
            self.error_panel.pin("Scheduled backups are not being taken", lines)
        elif not self.acted:
            self.error_panel.clear()
        if not rows:
            self._result(
                "No databases yet: add a [[databases]] table to pilot.toml (Esc, then e edits it)."
            )
        elif not self.acted and len(unreached) == len(rows):  # none can be acted on
            self._result("Start the Docker host, then Esc and d again to act on a database.")
        elif not self.acted:  # else the last run's outcome stays on show
            self._result("Select a database; b, t or r acts on it.")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "data-list":
            if event.state == WorkerState.SUCCESS and isinstance(worker.result, Listing):
                self.unread = False
                self._show_rows(worker.result)
            elif event.state == WorkerState.ERROR:
                self.unread = True
                self.error_panel.pin_failure(worker, self.state_dir)
                self._result("[red]Cannot read the databases[/] · Esc to go back")
            return
        super().on_worker_state_changed(event)

    # -- the actions ------------------------------------------------------------------------
    def action_backup(self) -> None:
        self._start("backup")

    def action_drill(self) -> None:
        self._start("drill")

    def action_restore(self) -> None:
        name = self._selected()
        if name is None or self._refused("restore", name):
            return
        newest = self.rows[name].last_backup
        if newest is None:
            self.notify(f"{name} has no backup to restore yet: press b first.", severity="warning")
            return

        def decided(go: bool | None) -> None:
            if go:
                self._run("restore", name)

        self.app.push_screen(ConfirmRestore(name, newest.id), decided)

    def _start(self, action: str) -> None:
        name = self._selected()
        if name is not None and not self._refused(action, name):
            self._run(action, name)

    def _refused(self, action: str, name: str) -> bool:
        """Said why ``action`` cannot run on ``name`` now."""
        if self.busy():
            self.notify("Wait for the run in progress to finish.", severity="warning")
            return True
        row = self.rows[name]
        if row.unreachable:
            self.notify(
                f"{name} is on the Docker host, and {row.unreachable}: see above.",
                severity="warning",
            )
            return True
        if row.service is not None and action == "restore":
            title = row.service.title
            self.notify(
                f"{name} is on {title}: restore it with {title}'s point-in-time recovery, or "
                f"put a dump into a new database with `pilot-tui db restore {name} --to NEW`.",
                severity="warning",
            )
            return True
        if not row.offers_dumps:
            kind = row.settings.kind
            self.notify(f"Backups of {kind} databases are not offered yet.", severity="warning")
            return True
        return False

    def _selected(self) -> str | None:
        table = self.query_one("#db-list", DataTable)
        if table.row_count == 0 and self.unread:  # the panel above says why
            self.notify("The databases could not be read: see above.", severity="warning")
            return None
        if table.row_count == 0:
            self.notify("No databases yet: add a [[databases]] table to pilot.toml.")
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _run(self, action: str, name: str) -> None:
        self.acted = True
        self.error_panel.clear()
        self._result(f"{ACTIONS[action]} {escape(name)}…")
        self.log_line(f"— {ACTIONS[action].lower()} {name}")
        self.run_action(action, name)

    @work(thread=True, exclusive=True, group="data", name="the run", exit_on_error=False)
    @tracked
    def run_action(self, action: str, name: str) -> str:
        from pilot_tui.data import managed_client, restore
        from pilot_tui.data.backups import BackupError
        from pilot_tui.data.kinds import kind_for
        from pilot_tui.data.stores import store_for

        config = self._config()
        settings = config.database(name)
        if settings is None:
            raise BackupError(f"no database {name!r} in pilot.toml any more")
        kind = kind_for(config.project.name, settings)
        project = Project(self.project_file)
        store = store_for(config, project.state_dir, project.root)
        say = self.core_event
        # A restore redeploys the apps: with the shared release history, as a deploy.
        with self._engine(config, share=action == "restore") as engine:
            if action == "backup":  # a managed database's from a client container
                keep = settings.backup.keep
                source = managed_client.kind_of(config, settings, project.state_dir)
                record, pruned = managed_client.take(
                    engine.docker_client, source, store, keep=keep, say=say
                )
                gone = f"; {len(pruned)} older removed (keep = {keep})" if pruned else ""
                rows = f"{record.rows:,} {plural(record.rows, 'row')}"
                return f"backup {record.id}: {record.size / 1e6:.1f} MB, {rows}{gone}"
            if action == "drill":
                result = restore.drill(engine.docker_client, kind, store, None, say)
                if not result.ok:
                    raise BackupError(f"drill FAILED on backup {result.backup}: {result.detail}")
                return f"drill passed on {result.backup}: {result.detail}"
            done = restore.restore_and_move(engine, kind, store, None, say)
            if done.stuck:
                stuck = "; ".join(f"{app}: {why}" for app, why in done.stuck.items())
                raise BackupError(
                    f"restored, but these apps still use the data from before: {stuck}"
                )
            return f"restored {name} from backup {done.restored.checked.record.id}"

    def _config(self) -> PilotConfig:
        from pilot_tui.errors import PilotError
        from pilot_tui.screens.project_config import effective_config

        config = effective_config(self.app, self.project_file)
        if config is None:
            raise PilotError("pilot.toml is not valid: fix it in the editor (e) first")
        if config.server.home == "sandbox":  # recorded before a start: the exit stops it
            self.record_sandbox(self.state_dir)
        return config

    def _engine(
        self, config: PilotConfig, *, share: bool = False
    ) -> AbstractContextManager[Deployer]:
        from pilot_tui.deploy.session import open_deployer

        return open_deployer(
            self.project_file, config, self.core_event, share=share, warn=self.core_event
        )

    def handle(self, event: object) -> None:
        if isinstance(event, str):
            self.log_line(event)

    def succeeded(self, worker: Worker[object]) -> None:
        self._result(f"[green b]{escape(str(worker.result))}[/]")

    def failed(self, worker: Worker[object]) -> None:
        super().failed(worker)
        self._result(
            f"[red b]Failed[/]: {escape(worker_failure(worker, self.state_dir))} · the live "
            "database is untouched unless this says otherwise"
        )

    def finished(self, state: WorkerState) -> None:
        self.load_rows()

    def _result(self, markup: str) -> None:
        self.query_one("#data-result", Static).update(markup)

    def running(self) -> str:
        return (
            "A backup, drill or restore is under way (it cannot be stopped halfway: Pilot "
            "quits when it ends)"
        )

    def ask_to_cancel(self) -> None:
        self.notify(
            "A backup, drill or restore cannot be stopped halfway here; it ends on its own "
            "(a failure leaves the live database as it was).",
            severity="warning",
        )
