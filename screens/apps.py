"""Apps: the [[apps]] list, and a New-app form that detects how the source builds.

Every field is checked against the whole file with the validator (`config validate`'s own
messages) before anything is written; saving appends an [[apps]] table, comments kept.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from pilot_tui import redact
from pilot_tui.app_questions import (
    QUESTIONS,
    app_table,
    check_app,
    default_name,
    detected_build,
)
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy.build.stack import Detected
from pilot_tui.deploy.history import Release
from pilot_tui.deploy.targets import kinds_for, suggested_kind
from pilot_tui.errors import PilotError
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.ordered_keys import TextInput

COLUMNS = ("name", "live", "target", "build", "path", "env", "secrets")


class AppsScreen(Screen[None]):
    """The apps, each followed by its previews (as this machine's release histories know
    them: `pilot-tui preview list` asks where they run)."""

    BINDINGS = [
        Binding("n", "new_app", "New app"),
        Binding("d", "deploy", "Deploy"),
        Binding("r", "rollback", "Roll back"),
        Binding("l", "logs", "Logs"),
        Binding("p", "preview", "Preview"),
        # Only for a preview's row: said in the title line, not in the footer (80 columns).
        # Not in the footer (it would push f1 Help off 80 columns): help lists it, and a
        # preview's row says so.
        Binding("x", "remove_preview", "Remove preview", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="apps"):
            yield Static(
                "[b]Apps[/b] · [b]n[/b] adds one · [b]d[/b] deploys the selected app "
                "· [b]r[/b] rolls it back · [b]l[/b] follows its logs · [b]p[/b] deploys a "
                "preview of it · [b]x[/b] removes the selected preview",
                id="apps-title",
            )
            yield DataTable(id="app-list", cursor_type="row", zebra_stripes=True)
            # The selected row in full: its address is cut in the table at 80 columns.
            yield Static("", id="app-detail")
            yield Static(
                "No apps yet: press [b]n[/b] to add one (the questions of `pilot-tui app new`).",
                id="apps-empty",
            )
        yield PilotFooter()

    def on_mount(self) -> None:
        table = self.query_one("#app-list", DataTable)
        # The live release next to the name: at 80 columns the last columns are cut, and
        # it was the one cut (found walking); each row in full is under the table too.
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.refresh_list()

    def on_screen_resume(self) -> None:
        self.refresh_list()

    def refresh_list(self) -> None:
        from pilot_tui.deploy import history
        from pilot_tui.deploy.addresses import of_release
        from pilot_tui.project import Project

        table = self.query_one("#app-list", DataTable)
        row = table.cursor_row  # coming back from a deploy: stay on that app
        table.clear()
        config = ProjectFile.load(self.path).check().config
        state_dir = Project(self.path).state_dir
        self.previews: dict[str, tuple[str, str]] = {}  # row key -> (app, preview name)
        self.details: dict[str, str] = {}  # row key -> the row in full (#app-detail)
        for app in config.apps if config else []:
            live = history.live_release(state_dir, app.name)
            self.details[app.name] = _detail(app.name, live, app.env, app.secrets)
            table.add_row(
                app.name,
                f"{live.id} {of_release(live).text()}" if live else "—",
                app.target.kind,
                app.build.kind,
                app.path,
                ", ".join(app.env) or "—",
                ", ".join(app.secrets) or "—",
                key=app.name,
            )
            for full in _preview_histories(state_dir, app.name):
                live = history.live_release(state_dir, full)
                self.previews[full] = (app.name, full[len(app.name) + 2 :])
                env = {**app.env, **app.previews.env}
                self.details[full] = _detail(full, live, env, app.secrets)
                table.add_row(
                    f"└ {full}",
                    f"{live.id} {of_release(live).text()}" if live else "—",
                    f"{app.target.kind} preview",
                    app.build.kind,
                    app.path,
                    ", ".join(env) or "—",
                    ", ".join(app.secrets) or "—",
                    key=full,
                )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.query_one("#apps-empty", Static).display = table.row_count == 0
        self._show_detail()

    @on(DataTable.RowHighlighted, "#app-list")
    def _show_detail(self) -> None:
        key = self._cursor_key()
        shown = self.query_one("#app-detail", Static)
        shown.update(self.details.get(key or "", ""))
        shown.display = key is not None

    def _cursor_key(self) -> str | None:
        """The highlighted row's key (an app, or a preview APP--NAME); None: no row."""
        table = self.query_one("#app-list", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _selected(self) -> str | None:
        key = self._cursor_key()
        if key is None:
            self.notify("No apps yet: press n to add one.")
        return key

    def _selected_app(self, doing: str) -> str | None:
        """The selected app; None (and said why) on a preview's row."""
        name = self._selected()
        if name in self.previews:
            self.notify(
                f"{name} is a preview: {doing} its app, or press d to deploy it again, "
                "x to remove it.",
                severity="warning",
            )
            return None
        return name

    def action_deploy(self) -> None:
        from pilot_tui.screens.deploy import DeployScreen

        name = self._selected()
        if name in self.previews:  # deployed again, from the source as it is now
            app, preview = self.previews[name]
            self.app.push_screen(DeployScreen(self.path, app, preview=preview))
        elif name is not None:
            self.app.push_screen(DeployScreen(self.path, name))

    def action_preview(self) -> None:
        """Ask for the preview's name (its branch, prefilled), then deploy it."""
        from pilot_tui.screens.deploy import DeployScreen
        from pilot_tui.screens.preview_name import PreviewName, git_branch

        name = self._selected_app("select")
        config = ProjectFile.load(self.path).check().config if name else None
        app = config.app(name) if config and name else None
        if config is None or app is None:
            return
        from pilot_tui.deploy.targets import target_for

        refused = target_for(app).previews_refused
        if refused is not None:
            self.notify(f"{app.name} runs on {app.target.kind}: {refused}", severity="warning")
            return

        def chosen(wanted: str | None) -> None:
            if wanted is not None:
                self.app.push_screen(DeployScreen(self.path, app.name, preview=wanted))

        from pilot_tui.deploy.engine import preview_room
        from pilot_tui.deploy.previews import PreviewError

        try:  # the deploy's own answer (a Cloud Run service's 49 characters included)
            room = preview_room(config, app)
        except PreviewError as exc:
            self.notify(str(exc), severity="warning")
            return
        suggested = git_branch(self.path.parent / app.path)
        self.app.push_screen(PreviewName(app.name, suggested, room), chosen)

    def action_remove_preview(self) -> None:
        """Ask, then remove the selected preview where it runs (a worker: it takes time)."""
        from pilot_tui.screens.run_screen import ConfirmCancel

        name = self._selected()
        if name is None:
            return
        if name not in self.previews:
            self.notify(f"{name} is an app: select one of its previews (└) to remove it.")
            return
        app, preview = self.previews[name]

        def answered(remove: bool | None) -> None:
            if remove:
                self.notify(f"removing {name}…")
                self.remove_preview(app, preview)

        question = (
            f"Remove the preview {name}: what runs it, its address and its history? "
            f"{app} itself is not touched."
        )
        self.app.push_screen(ConfirmCancel(question, "Remove", "Keep"), answered)

    # Not exclusive: a second removal must not mark the first cancelled (a thread runs on).
    @work(thread=True, group="previews", exit_on_error=False)
    def remove_preview(self, app: str, preview: str) -> str:
        """Remove the preview; its full name, for the notice."""
        from pilot_tui.deploy.previews import full_name
        from pilot_tui.deploy.session import open_deployer

        config = ProjectFile.load(self.path).check().config
        if config is None:
            raise PilotError("pilot.toml is not valid; fix it in the editor first")
        with open_deployer(self.path, config, lambda event: None, apps=[app]) as engine:
            engine.destroy_preview(app, preview, lambda line: None)
        return full_name(app, preview)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "previews":
            return
        if event.state == WorkerState.SUCCESS:
            self.notify(f"{event.worker.result} removed")
            self.refresh_list()
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            why = str(error) if isinstance(error, PilotError) else f"{type(error).__name__}"
            why += "" if isinstance(error, PilotError) else f": {error}"
            self.notify(
                f"The preview was not removed: {redact.text(why)}", severity="error", timeout=15
            )
            self.refresh_list()

    def action_rollback(self) -> None:
        """Ask first, offering the releases to go back to: a rollback changes what serves."""
        from pilot_tui.deploy import history
        from pilot_tui.project import Project
        from pilot_tui.screens.deploy import DeployScreen
        from pilot_tui.screens.rollback import RollbackPicker

        name = self._selected_app("roll back")
        if name is None:
            return
        try:
            releases = history.load(Project(self.path).state_dir, name)
            suggested = history.rollback_candidate(releases, None).id
        except history.HistoryError as exc:
            self.notify(f"Cannot roll back {name}: {exc}", severity="warning")
            return

        def chosen(release: str | None) -> None:
            if release is not None:
                self.app.push_screen(DeployScreen(self.path, name, rollback=True, release=release))

        self.app.push_screen(RollbackPicker(name, releases, suggested), chosen)

    def action_logs(self) -> None:
        from pilot_tui.screens.app_logs import AppLogsScreen

        name = self._selected()  # a preview's own logs too
        if name is not None:
            self.app.push_screen(AppLogsScreen(self.path, name))

    def action_new_app(self) -> None:
        self.app.push_screen(NewAppScreen(self.path))

    def action_back(self) -> None:
        self.app.pop_screen()


def _preview_histories(state_dir: Path, app: str) -> list[str]:
    """The full names (APP--NAME) of ``app``'s previews with a release history here."""
    from pilot_tui.deploy import history
    from pilot_tui.deploy.previews import full_name

    folder = history.history_file(state_dir, app).parent
    return sorted(path.stem for path in folder.glob(f"{full_name(app, '*')}.json"))


def _detail(name: str, live: Release | None, env: dict[str, str], secrets: list[str]) -> str:
    """A row in full (markup): where its live release answers, its env and secret names."""
    from rich.markup import escape

    from pilot_tui.deploy.addresses import of_release

    # " at URL", or " (simulated: …)": "live at simulated: …" read oddly (found walking)
    where = f"{live.id} live{of_release(live).at()}" if live else "not deployed yet"
    names = ", ".join(env) or "none"
    return (
        f"[b]{escape(name)}[/b] · {escape(where)} · env: {escape(names)} · secrets: "
        f"{escape(', '.join(secrets) or 'none')}"
    )


class NewAppScreen(Screen[None]):
    AUTO_FOCUS = "#path"  # typing goes into the first question, not the scroll container
    BINDINGS = [Binding("ctrl+s", "save", "Add app"), Binding("escape", "back", "Cancel")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.pf = ProjectFile.load(path)
        config = self.pf.check().config
        self.home = config.server.home if config else "sandbox"
        self.taken = {a.name for a in config.apps} if config else set()
        self.first_problem: str | None = None  # what ctrl+s says when it cannot add

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="new-app"):
            yield Static(
                "[b]New app[/b] · ctrl+s adds it to pilot.toml · the same questions "
                "as `pilot-tui app new`"
            )
            for question in QUESTIONS:
                yield Label(question.prompt)
                if question.field == "target":
                    yield Select(
                        [(t, t) for t in kinds_for(self.home)],
                        value="server",
                        allow_blank=False,
                        id="target",
                    )
                else:
                    value = {
                        "path": ".",
                        "name": default_name(self.path.parent, ".", self.taken),
                    }.get(question.field, "")
                    yield TextInput(value, placeholder=question.placeholder, id=question.field)
                if question.field == "path":
                    yield Static(id="detected")
            yield Static(id="new-app-problems")
        yield PilotFooter()

    def on_mount(self) -> None:
        # Focusing the first field scrolls it to the top, hiding the title and its label.
        self.call_after_refresh(self.query_one("#new-app").scroll_home, animate=False)
        self.detected: Detected | None = None
        self.suggested = self.query_one("#name", Input).value
        self.source_changed()
        self.shown: dict[str, object] = {}
        self.call_after_refresh(self._remember_shown)

    def _remember_shown(self) -> None:
        from pilot_tui.screens.form_guard import form_values

        self.shown = form_values(self)

    @on(Input.Changed, "#path")
    def source_changed(self) -> None:
        source = self.query_one("#path", Input).value
        self.detected = detected_build(self.path.parent, source)
        name = self.query_one("#name", Input)
        if self.detected is not None and name.value == getattr(self, "suggested", None):
            # Still the suggestion (not typed by the person): follow the folder.
            self.suggested = default_name(self.path.parent, source, self.taken)
            name.value = self.suggested
        if self.detected is None:
            folder = self.path.parent / source.strip()
            self.query_one("#detected", Static).update(f"[red]no folder {folder}[/]")
            return
        build = ", ".join(f"{k} = {v!r}" for k, v in self.detected.build.items())
        self.query_one("#detected", Static).update(
            f"Detected {self.detected.reason} → build {{ {build} }}"
        )
        target = self.query_one("#target", Select)
        target.value = suggested_kind(self.home, self.detected, str(target.value))
        self.check()

    @on(Input.Changed, "#name, #env, #secrets")
    @on(Select.Changed, "#target")
    def check(self) -> str | None:
        """The new file text when valid, else None (problems shown under the form)."""
        from rich.markup import escape

        problems = self.query_one("#new-app-problems", Static)
        try:
            app = self.app_table()
        except ValueError as exc:
            self.first_problem = str(exc)
            problems.update(f"[red]{escape(self.first_problem)}[/]")
            return None
        text, mine = check_app(self.pf.text, app, self.path.parent)
        self.first_problem = f"{mine[0][0]}: {mine[0][1]}" if mine else None
        problems.update(
            "\n".join(f"[red]{escape(f'{key}: {message}')}[/]" for key, message in mine)
            or "[green]ready to add[/]"
        )
        return text

    def app_table(self) -> dict[str, object]:
        answers = {
            q.field: self.query_one(f"#{q.field}", Input).value
            for q in QUESTIONS
            if q.field != "target"
        }
        answers["target"] = str(self.query_one("#target", Select).value)
        return app_table(answers, getattr(self, "detected", None))

    def action_save(self) -> None:
        text = self.check()
        if text is None:  # said whole, and the list under the form brought into view (at
            # 80x24 it was below the fold, and the toast named no problem; found walking)
            self.query_one("#new-app-problems", Static).scroll_visible()
            self.notify(f"Not added: {self.first_problem}", severity="error")
            return
        try:
            self.pf.save(text)
        except PilotError as exc:  # refused, or pilot.toml changed meanwhile
            self.notify(f"Not saved: {exc}", severity="error")
            return
        self.notify(f"Added app {self.query_one('#name', Input).value.strip()}")
        self.app.pop_screen()

    def action_back(self) -> None:
        from pilot_tui.screens.form_guard import leave_form

        leave_form(self, self.shown)
