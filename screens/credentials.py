"""Credentials: what this machine has for AWS and Google, each checked live in a worker."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, LoadingIndicator, Static
from textual.worker import Worker, WorkerState

from pilot_tui.cloud.credentials import Row, credential_report
from pilot_tui.config.schema import PilotConfig
from pilot_tui.screens.failures import worker_failure
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.sandboxes import app_sandboxes


def _tilde(text: str) -> str:
    """Paths under the home folder as ~/..., as people write them (and narrower)."""
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home != "/" else text


class CredentialsScreen(Screen[None]):
    """Found credentials, validated with STS / Cloud Storage; failures say how to fix them."""

    BINDINGS = [
        Binding("r", "check", "Check again"),
        Binding("k", "pick_key", "Google key file"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, project_file: Path, config: PilotConfig) -> None:
        super().__init__()
        self.project_file = project_file
        self.root = project_file.parent
        self.config = config

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="credentials"):
            yield Static(
                f"[b]Credentials[/b] · home [b]{self.config.server.home}[/b] · names "
                "and paths only; keys are never shown",
                id="credentials-title",
            )
            yield LoadingIndicator(id="checking")
            yield DataTable(id="found", cursor_type="row", zebra_stripes=True)
            yield Static(id="credentials-summary")
        yield PilotFooter()

    def on_mount(self) -> None:
        table = self.query_one("#found", DataTable)
        for column in ("", "cloud", "name", "source", "result"):
            table.add_column(column, key=column or "mark")
        self.action_check()

    def action_check(self) -> None:
        self.query_one("#checking").display = True
        self.query_one("#credentials-summary", Static).update("Checking each one live…")
        self.check_all()

    @work(
        thread=True,
        exclusive=True,
        group="credentials",
        name="check credentials",
        exit_on_error=False,
    )
    def check_all(self) -> list[Row]:
        from pilot_tui.project import STATE_DIR

        app = self.app  # the check may outlive the app's exit: keep hold of it
        state_dir = self.root / STATE_DIR
        sandbox = self.config.server.home == "sandbox"
        if sandbox:  # recorded before the check starts them, so the exit stops them
            app_sandboxes(app).starting(state_dir)
        rows = credential_report(self.config, self.config.server.home, self.root)
        if sandbox:
            app_sandboxes(app).stop_if_shutting_down(state_dir)
        return rows

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "credentials" or not event.worker.is_finished:
            return
        self.query_one("#checking").display = False
        summary = self.query_one("#credentials-summary", Static)
        if event.state == WorkerState.ERROR:
            from pilot_tui.project import STATE_DIR

            summary.update(f"[red]{worker_failure(event.worker, self.root / STATE_DIR)}[/]")
            return
        rows: list[Row] = event.worker.result or []
        table = self.query_one("#found", DataTable)
        table.clear()
        for row in rows:
            mark = "[green]✓[/]" if row.ok else "[red]✗[/]"
            name = _tilde(row.name)
            name = f"{name} [b](used)[/b]" if row.configured else name
            table.add_row(mark, row.cloud, name, row.source, row.message)
        failed = [r for r in rows if r.configured and not r.ok]
        if not rows:
            summary.update(
                "Nothing found. Set up AWS (`aws configure`) or Google (`gcloud "
                "auth application-default login`), or use the sandbox: set "
                'server.home = "sandbox" (no cloud account needed).'
            )
        elif failed:
            summary.update(
                "[red b]The credentials pilot.toml uses failed:[/] "
                + "; ".join(_tilde(f"{r.name}: {r.message}") for r in failed)
            )
        else:  # the verdict on the credentials used, whole (the table cuts it when narrow)
            used = [r for r in rows if r.configured]
            verdict = escape(_tilde(f"{used[0].name}: {used[0].message}")) + ". " if used else ""
            summary.update(f"[green]Ready.[/] {verdict}{self._next_step()}")

    def _next_step(self) -> str:
        """Where to go from here: the server while there is none, else the apps (found
        walking: it sent a person whose server was up to make one)."""
        from pilot_tui.project import STATE_DIR
        from pilot_tui.screens.home_status import saved_server

        if saved_server(self.root / STATE_DIR, ask_engine=False) is None:
            return "Next: the Pilot Server (Esc, then s)."
        return "The Pilot Server is up: deploy apps (Esc, then a)."

    def action_pick_key(self) -> None:
        from pilot_tui.screens.key_picker import KeyPickerScreen

        self.app.push_screen(KeyPickerScreen(Path.home()), self._use_key)

    def _use_key(self, key: Path | None) -> None:
        from pilot_tui.config.document import ConfigChanged, ConfigRefused, ProjectFile
        from pilot_tui.screens.key_picker import config_path, loose_permissions

        if key is None:
            return
        value = config_path(key, self.root)
        pf = ProjectFile.load(self.project_file)
        try:
            checked = pf.save(pf.with_value("gcp.credentials", value))
        except ConfigRefused as exc:
            self.notify(f"Not saved: {exc.report.errors[0].message}", severity="error")
            return
        except ConfigChanged as exc:
            self.notify(f"Not saved: {exc}", severity="error")
            return
        assert checked.config is not None
        self.config = checked.config
        self.notify(f"gcp.credentials = {value!r} saved to {self.project_file.name}")
        if loose_permissions(key):
            self.notify(
                f"{key} can be read by other users: chmod 600 {key}", severity="warning", timeout=10
            )
        if key.is_relative_to(self.root.resolve()) and not value.startswith(".pilot/"):
            self.notify(
                "The key is inside the project folder: keep it out of git (move it "
                "under .pilot/, which is ignored).",
                severity="warning",
                timeout=10,
            )
        self.action_check()

    def action_back(self) -> None:
        self.app.pop_screen()
