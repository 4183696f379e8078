"""Deploy (or roll back) one app and watch it: the four stages with their state and time, the
build and container output streaming into a capped log pane, and the result: the app's URL,
or the failure pinned at the top with the new release's last lines.

The engine runs in a thread worker; its events come back through the run screen's event
pump (screens/run_screen.py). Esc
while it runs asks, then sets the engine's cancel flag: it stops at the next check and
removes what it started, and the previous release keeps serving.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import DataTable, Header, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker

from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.context import Cancelled, CancelToken
from pilot_tui.deploy.events import (
    STAGES,
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    describe,
)
from pilot_tui.deploy.targets import target_for
from pilot_tui.project import Project
from pilot_tui.screens.colorlog import ColorLog, colour_level
from pilot_tui.screens.failures import ErrorPanel
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.run_screen import LOG_LINES, STATES, ConfirmCancel, RunScreen, tracked

# The stages' columns but the detail, and their widths ("– not needed" is 12 wide); the
# detail takes what is left, wrapped, and never less than DETAIL_MIN.
STAGE_COLUMNS = (("stage", 9), ("state", 12), ("time", 7))
DETAIL_MIN = 24


class DeployScreen(RunScreen):
    WORKERS = "deploy"
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / Back"),
        Binding("l", "app_logs", "App logs"),
    ]

    def __init__(
        self,
        project_file: Path,
        app: str,
        *,
        rollback: bool = False,
        release: str | None = None,
        preview: str | None = None,
    ) -> None:
        super().__init__(Project(project_file).state_dir)
        self.project_file = project_file
        self.app_name = app
        self.rollback = rollback
        self.release = release
        self.preview = preview  # the name asked for: a preview of the app is deployed
        self.cancel = CancelToken()
        self.started = time.monotonic()
        self.outcome: str | None = None
        # The app writes logs of its own (a static site does not; a preview's are its own)
        self.has_logs = preview is None
        # Each stage's cells (stage, state, time, detail), shown again on each change
        self.stages: dict[str, list[str | Text]] = {}

    def compose(self) -> ComposeResult:
        verb = "Rolling back" if self.rollback else "Deploying"
        what = escape(self.app_name)
        if self.preview is not None:
            what = f"a preview of {what}: {escape(self.preview)}"
        yield Header()
        with Vertical(id="deploy"):
            yield Static(f"[b]{verb} {what}[/b]", id="deploy-title")
            yield ErrorPanel(id="deploy-error", classes="hidden")
            yield DataTable(id="stages", cursor_type="none", show_cursor=False)
            yield Static("Starting…", id="deploy-result")
            yield ColorLog(id="deploy-log", max_lines=LOG_LINES)
        yield PilotFooter()

    def on_mount(self) -> None:
        table = self.query_one("#stages", DataTable)
        for name, width in STAGE_COLUMNS:
            table.add_column(name, key=name, width=width)
        table.add_column("detail", key="detail", width=DETAIL_MIN)
        self.stages = {stage: [stage, STATES["pending"], "", Text("")] for stage in STAGES}
        self._show_stages()
        self.run_engine()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_stages)  # once the table has its new width

    def _set_stage(self, stage: str, state: str, *, took: str = "", detail: str = "") -> None:
        cells = self.stages.get(stage)
        if cells is None:  # not a row of the table ("rollback": choosing the release);
            return  # its failure is pinned above the log all the same
        cells = self.stages[stage]
        cells[1] = state
        cells[2] = took or cells[2]
        cells[3] = Text(detail) if detail else cells[3]  # plain: a detail's [ is no markup
        self._show_stages()

    def _show_stages(self) -> None:
        """The stages again, the detail column as wide as the screen leaves it and each
        row as tall as its detail wraps to (at 80 columns a built image's reference was
        cut; a DataTable sizes a row's height once, when it is added)."""
        table = self.query_one("#stages", DataTable)
        width = table.scrollable_content_region.width or self.size.width
        fixed = sum(w for _, w in STAGE_COLUMNS) + 2 * table.cell_padding * (len(STAGE_COLUMNS) + 1)
        table.columns[ColumnKey("detail")].width = max(DETAIL_MIN, width - fixed - 1)
        table.clear()
        for stage, cells in self.stages.items():
            table.add_row(*cells, key=stage, height=None)

    @work(thread=True, exclusive=True, group="deploy", name="deploy", exit_on_error=False)
    @tracked
    def run_engine(self) -> object:
        return self._deploy()

    def _deploy(self) -> object:
        """The deploy, rollback or preview, through the engine (in the worker's thread)."""
        from pilot_tui.deploy.session import open_deployer
        from pilot_tui.screens.project_config import effective_config

        config = effective_config(self.app, self.project_file)
        if config is None:
            raise ValueError("pilot.toml is not valid; fix it in the editor first")
        app = config.app(self.app_name)
        # The app logs viewer follows apps, not their previews.
        self.has_logs = self.preview is None and (app is None or target_for(app).has_logs)
        if self.preview is not None and app is not None:  # the name it gets, not as typed
            self.app.call_from_thread(self._preview_title, config, app)
        self.app.call_from_thread(self.refresh_bindings)  # l goes where there are none
        if config.server.home == "sandbox":  # recorded before a start: the exit stops it
            self.record_sandbox(self.state_dir)
        with open_deployer(
            self.project_file,
            config,
            self.core_event,
            apps=[self.app_name],
            warn=self.core_event,  # a line for the log
            cancel=self.cancel,
        ) as engine:
            if self.rollback:
                return engine.rollback(self.app_name, self.release)
            if self.preview is not None:
                return engine.deploy_preview(self.app_name, self.preview)
            return engine.deploy(self.app_name)

    def handle(self, event: object) -> None:
        if isinstance(event, str):
            self.log_line(event)
        elif isinstance(event, StageStarted):
            self._set_stage(event.stage, STATES["running"], detail=event.detail)
            self.log_line(describe(event))
        elif isinstance(event, StageFinished):
            done = f"{event.seconds:.1f}s"
            self._set_stage(event.stage, STATES["done"], took=done, detail=event.detail)
            self.log_line(describe(event))
        elif isinstance(event, StageFailed):
            self._set_stage(event.stage, STATES["failed"])
            self._pin(f"{event.stage} failed: {event.message}", event.logs)
        elif isinstance(event, Output):
            self.log_line(event.text)
        elif isinstance(event, Released):
            for stage, cells in self.stages.items():  # live without them (unchanged):
                if cells[1] == STATES["pending"]:  # not left waiting
                    self._set_stage(stage, STATES["skipped"])
            self.outcome = event.url
            self.log_line(describe(event))
            where = (f" at [b]{escape(event.url)}[/b]" if event.url else "") + (
                f" [dim](simulated: {escape(event.simulated)})[/dim]" if event.simulated else ""
            )
            # (found walking: a rollback ended "v4 is live", not saying it is v2 again)
            note = f" ({escape(event.note)})" if event.note else ""
            self._result(
                f"[green b]{event.release}{note} is live[/]{where} · "
                f"{event.seconds:.1f}s · "
                + ("[b]l[/b] follows its logs · " if self.has_logs else "")  # a site has none
                + "Esc to go back"
            )

    def _pin(self, message: str, logs: tuple[str, ...] = ()) -> None:
        tail = "\n".join(f"  | {line}" for line in logs[-12:])
        self.error_panel.pin(message, f"\nThe new release's last lines:\n{tail}" if tail else "")
        for line in logs:
            self.log_line(colour_level("error", line))

    def _result(self, markup: str) -> None:
        self.query_one("#deploy-result", Static).update(markup)

    def succeeded(self, worker: Worker[object]) -> None:
        if self.outcome is None:
            self._result(f"Done in {time.monotonic() - self.started:.1f}s · Esc to go back")

    def failed(self, worker: Worker[object]) -> None:
        if isinstance(worker.error, Cancelled):
            self._result(
                "[yellow]Cancelled[/]: nothing changed; the previous release "
                "keeps serving · Esc to go back"
            )
            return
        self._result(
            "[red b]Not deployed[/] · the previous release (if any) keeps serving · Esc to go back"
        )
        if self.error_panel.has_class("hidden"):  # a failed stage pinned its own lines
            super().failed(worker)

    def _preview_title(self, config: PilotConfig, app: AppSettings) -> None:
        """ "a preview of api: feature-login", as it is named (found walking: the title
        said "Feature/Login!" as typed); a name it cannot have is said by the deploy."""
        from pilot_tui.deploy.engine import preview_name
        from pilot_tui.deploy.previews import PreviewError

        assert self.preview is not None
        try:
            named = preview_name(config, app, self.preview)
        except PreviewError:
            return
        what = f"a preview of {escape(self.app_name)}: {escape(named)}"
        verb = "Rolling back" if self.rollback else "Deploying"
        self.query_one("#deploy-title", Static).update(f"[b]{verb} {what}[/b]")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`l` only where the app writes logs of its own: not a static site's, not a
        preview's (found walking: offered there, it answered with an error)."""
        if action == "app_logs":
            return self.has_logs
        return True

    def action_app_logs(self) -> None:
        from pilot_tui.screens.app_logs import AppLogsScreen

        self.app.push_screen(AppLogsScreen(self.project_file, self.app_name))

    def cancellable(self) -> bool:
        return self.busy() and self.outcome is None  # released: only cleanup is left

    def running(self) -> str:
        verb = "rollback" if self.rollback else "deploy"
        return (
            f"A {verb} of {self.app_name} is under way (a new release not yet live is removed "
            "if stopped; one live and being watched stays live)"
        )

    def stop_for_quit(self) -> None:
        self.cancel.set()  # (the watch of a live release ends at its next check, too)

    def stop_now_leaves(self) -> str:
        return "the deploy stops at its next step, as asked (a live release stays live)"

    def ask_to_cancel(self) -> None:
        def stop() -> None:
            self.cancel.set()
            self.log_line(
                "cancelling: a new release not yet live is removed (the previous one keeps "
                "serving); one being watched stays live"
            )

        self.confirm(
            ConfirmCancel(
                f"Stop deploying {self.app_name}? A new release not yet live is removed "
                "and the live one is not touched; a new release being watched stays live."
            ),
            stop,
        )
