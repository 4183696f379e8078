"""An app's own logs, followed live: its container on the Pilot Server, or CloudWatch /
Cloud Logging for apps on managed targets (deploy.app_logs). Opened with `l` from the Apps
screen and the deploy viewer.

A thread worker polls every two seconds and hands new lines to the pane in one batch; the
worker stops when the screen closes (its stop flag), so no poll outlives the screen.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from pilot_tui.screens.colorlog import ColorLog
from pilot_tui.screens.failures import worker_failure
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.wording import counted

POLL_SECONDS = 2.0
LOG_LINES = 5000  # the pane keeps the newest ones (and says so)
FIRST_FETCH = 200  # lines asked for when the pane opens (older ones: `pilot-tui logs --tail`)


class AppLogsScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, project_file: Path, app: str) -> None:
        super().__init__()
        self.project_file = project_file
        self.app_name = app
        self.stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="app-logs"):
            yield Static(f"[b]Logs of {self.app_name}[/b]", id="app-logs-title")
            yield Static("Asking for the logs…", id="app-logs-state")
            yield ColorLog(id="app-logs-log", max_lines=LOG_LINES)
        yield PilotFooter()

    def on_mount(self) -> None:
        self.follow()

    def on_unmount(self) -> None:
        self.stop.set()

    @work(thread=True, exclusive=True, group="app-logs", exit_on_error=False)
    def follow(self) -> None:
        import contextlib

        from pilot_tui.deploy import app_logs
        from pilot_tui.deploy.targets import app_or_preview, target_for
        from pilot_tui.project import Project
        from pilot_tui.screens.project_config import effective_config

        config = effective_config(self.app, self.project_file)
        if config is None:
            raise ValueError("pilot.toml is not valid; fix it in the editor first")
        app = app_or_preview(config, self.app_name)  # a preview's logs are its own
        if app is None:
            raise ValueError(f"no app {self.app_name!r} in pilot.toml")
        project = Project(self.project_file)
        where = app_logs.source_name(config, app)
        with contextlib.ExitStack() as stack:
            client = None
            if target_for(app).on_docker_host:  # its container's logs, on the host
                from pilot_tui.deploy.session import open_deployer

                engine = stack.enter_context(
                    open_deployer(
                        self.project_file, config, lambda event: None, apps=[app.name], share=False
                    )
                )
                client = engine.client
            logs = app_logs.Follower(
                config, project.state_dir, project.root, app, limit=FIRST_FETCH, client=client
            )
            first, earlier = True, ""
            while not self.stop.is_set():
                fresh = logs.poll()
                if first and not fresh:
                    self.app.call_from_thread(
                        self._show,
                        # one short line a line: the log pane does not wrap (80 columns)
                        [f"(no log lines yet in {where}:", " they appear here as the app runs)"],
                        "",
                    )
                if first and len(fresh) >= logs.limit:  # the app logged more before
                    earlier = f" · older lines: pilot-tui logs {app.name} --tail N"
                first = False
                stamp = time.strftime("%H:%M:%S")
                count = len(logs.seen)
                shown = (
                    f"showing the last {LOG_LINES:,} of {count:,} lines"
                    if count > LOG_LINES
                    else f"{counted(count, 'line')}"
                )
                self.app.call_from_thread(
                    self._show,
                    [line.text for line in fresh],
                    f"Following {where} · checked {stamp} · {shown}{earlier} · Esc to go back",
                )
                self.stop.wait(POLL_SECONDS)

    def _show(self, lines: list[str], state: str) -> None:
        if lines:
            self.query_one("#app-logs-log", ColorLog).write_lines(lines)
        if state:
            self.query_one("#app-logs-state", Static).update(state)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "app-logs" and event.state == WorkerState.ERROR:
            from pilot_tui.project import Project

            failure = worker_failure(event.worker, Project(self.project_file).state_dir)
            self.query_one("#app-logs-state", Static).update(
                f"[red b]No logs[/]: {failure} · Esc to go back"
            )

    def action_back(self) -> None:
        self.stop.set()
        self.app.pop_screen()
