"""Server settings: where the Pilot Server runs, its size (with price), who may reach it.

Every field is checked as you type with the rules and messages of `config validate` (the
core's question definitions), and Save writes only the keys that changed, keeping comments.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from pilot_tui import exposure, prices
from pilot_tui.config.document import ConfigChanged, ConfigRefused, ProjectFile
from pilot_tui.config.regions import AWS_REGIONS, GCP_REGIONS
from pilot_tui.config.schema import default_size
from pilot_tui.questions import QUESTIONS, Question, check_answer, to_value
from pilot_tui.screens.failures import worker_failure
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.ordered_keys import TextInput


def _question(key: str) -> Question:
    return next(q for q in QUESTIONS if q.key == key)


class ServerFormScreen(Screen[None]):
    AUTO_FOCUS = "#home"  # the first field, not the scroll container
    BINDINGS = [Binding("ctrl+s", "save", "Save"), Binding("escape", "back", "Back")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.pf = ProjectFile.load(path)
        checked = self.pf.check()
        assert checked.config is not None, "the form opens only on a valid pilot.toml"
        self.config = checked.config

    def compose(self) -> ComposeResult:
        cfg = self.config.server
        cloud = "gcp" if cfg.home == "gcp" else "aws"
        yield Header()
        with VerticalScroll(id="server-form"):
            yield Static("[b]Pilot Server settings[/b] · saved to pilot.toml (comments kept)")
            yield Label("Where it runs")
            yield Select(
                [(h, h) for h in ("sandbox", "aws", "gcp", "host")],
                value=cfg.home,
                allow_blank=False,
                id="home",
            )
            yield Label(
                "Docker host (ssh://user@host, unix:///path or tcps://host:2376)", id="host-label"
            )
            yield TextInput(cfg.host or "", placeholder="ssh://deploy@build.example.com", id="host")
            yield Static(id="host-problem", classes="problem")
            yield Label("Region", id="region-label")
            yield Select(
                self._regions(cloud), value=self._region(cloud), allow_blank=False, id="region"
            )
            yield Label(f"Size (a month: {prices.EXTRAS}; {prices.SOURCE}, as of {prices.AS_OF})")
            yield Select(
                self._sizes(cloud),
                value=cfg.size or default_size(cloud) or "",
                allow_blank=False,
                id="size",
            )
            yield Label("Who may reach SSH and Docker (CIDRs, comma separated)")
            yield TextInput(
                ", ".join(cfg.allowed_cidrs),
                placeholder="203.0.113.7/32 (empty: your own address)",
                id="allowed_cidrs",
            )
            yield Static(id="allowed_cidrs-problem", classes="problem")
            yield Static(id="allowed_cidrs-hint", classes="hint")
            yield Label("Docker access")
            yield Select(
                [
                    ("ssh (the socket stays local)", "ssh"),
                    ("mtls (TLS client certificates on 2376)", "mtls"),
                ],
                value=cfg.docker_access,
                allow_blank=False,
                id="docker_access",
            )
            yield Label("Deploy engine")
            yield Select(
                [("pilot", "pilot"), ("waypoint", "waypoint")],
                value=cfg.engine,
                allow_blank=False,
                id="engine",
            )
            yield Static(id="form-status")
        yield PilotFooter()

    def _show_for_home(self, home: str) -> None:
        """A Docker host is asked for only with home = "host"; regions only for clouds."""
        for widget in ("#host-label", "#host", "#host-problem"):
            self.query_one(widget).display = home == "host"
        for widget in ("#region-label", "#region"):
            self.query_one(widget).display = home != "host"

    def on_mount(self) -> None:
        self._show_for_home(self.config.server.home)
        self.shown: dict[str, object] = {}
        self.call_after_refresh(self._remember_shown)
        # Focusing the first field scrolls it to the top, hiding the title and its label.
        self.call_after_refresh(self.query_one("#server-form").scroll_home, animate=False)
        hint = self.query_one("#allowed_cidrs-hint", Static)
        hint.display = False  # shown only while (and after) looking up the address
        if not self.config.server.allowed_cidrs and self.config.server.home != "sandbox":
            hint.display = True
            hint.update("Looking up your address…")
            self.find_address()

    @work(
        thread=True,
        exclusive=True,
        group="address",
        name="find your public address",
        exit_on_error=False,
    )
    def find_address(self) -> None:
        from pilot_tui.netinfo import public_address

        address = public_address()
        self.app.call_from_thread(self._prefill, address)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "address" and event.state == WorkerState.ERROR:
            from pilot_tui.project import Project

            self.query_one("#allowed_cidrs-hint", Static).update(
                worker_failure(event.worker, Project(self.path).state_dir)
                + "\nType the CIDRs that may reach the server."
            )

    def _prefill(self, address: str | None) -> None:
        hint = self.query_one("#allowed_cidrs-hint", Static)
        field = self.query_one("#allowed_cidrs", Input)
        if address is None:
            hint.update(
                "Your public address could not be found: type the CIDRs that may reach the server."
            )
            return
        if field.value.strip():
            hint.update("")
            return  # the user typed while we looked: theirs wins
        suffix = "/128" if ":" in address else "/32"
        field.value = address + suffix
        self.shown["allowed_cidrs"] = field.value  # proposed, not typed: no edit to lose
        hint.update(
            f"Prefilled with your address as the internet sees it ({address}); "
            "saved only when you save."
        )

    def _regions(self, cloud: str) -> list[tuple[str, str]]:
        return [(r, r) for r in (GCP_REGIONS if cloud == "gcp" else AWS_REGIONS)]

    def _region(self, cloud: str) -> str:
        return self.config.gcp.region if cloud == "gcp" else self.config.aws.region

    def _sizes(self, cloud: str) -> list[tuple[str, str]]:
        options = [(prices.label(cloud, s), s) for s, _ in prices.SIZES[cloud]]
        current = self.config.server.size
        if current and current not in dict(prices.SIZES[cloud]):
            options.insert(0, (current, current))
        return options

    @on(Select.Changed, "#home")
    def home_changed(self, event: Select.Changed) -> None:
        self._show_for_home(str(event.value))
        cloud = "gcp" if event.value == "gcp" else "aws"
        was = "gcp" if self.config.server.home == "gcp" else "aws"
        if cloud == was and str(event.value) == self.config.server.home:
            return  # the initial value, or back to where it was: keep what is set
        region = self.query_one("#region", Select)
        region.set_options(self._regions(cloud))
        region.value = self._region(cloud)
        size = self.query_one("#size", Select)
        size.set_options(self._sizes(cloud))
        size.value = default_size(cloud) or ""

    @on(Input.Changed, "#host")
    def host_changed(self, event: Input.Changed) -> None:
        problem = (
            check_answer(self.pf.text, _question("server.host"), event.value)
            if event.value.strip()
            else None
        )
        self.query_one("#host-problem", Static).update(f"[red]{problem}[/]" if problem else "")

    @on(Input.Changed, "#allowed_cidrs")
    def cidrs_changed(self, event: Input.Changed) -> None:
        question = _question("server.allowed_cidrs")
        problem = check_answer(self.pf.text, question, event.value)
        wide = None if problem else exposure.warning(to_value(question, event.value))
        self.query_one("#allowed_cidrs-problem", Static).update(
            f"[red]{escape(problem)}[/]"
            if problem
            else f"[yellow]warning: {escape(wide)}[/]"
            if wide
            else ""
        )

    def _changes(self) -> list[tuple[str, object]]:
        home = str(self.query_one("#home", Select).value)
        cloud = "gcp" if home == "gcp" else "aws"
        size = str(self.query_one("#size", Select).value)
        cidr_text = self.query_one("#allowed_cidrs", Input).value
        cidrs = [c.strip() for c in cidr_text.split(",") if c.strip()]
        host = self.query_one("#host", Input).value.strip()
        wanted: list[tuple[str, object]] = [
            *([("server.host", host or None)] if host or self.config.server.host else []),
            ("server.home", home),
            (f"{cloud}.region", str(self.query_one("#region", Select).value)),
            ("server.allowed_cidrs", cidrs),
            ("server.docker_access", str(self.query_one("#docker_access", Select).value)),
            ("server.engine", str(self.query_one("#engine", Select).value)),
        ]
        if size != (self.config.server.size or default_size(cloud)):
            wanted.append(("server.size", size))
        current = {
            "server.host": self.config.server.host,
            "server.home": self.config.server.home,
            "aws.region": self.config.aws.region,
            "gcp.region": self.config.gcp.region,
            "server.allowed_cidrs": self.config.server.allowed_cidrs,
            "server.docker_access": self.config.server.docker_access,
            "server.engine": self.config.server.engine,
        }
        return [(k, v) for k, v in wanted if current.get(k, object()) != v]

    def action_save(self) -> None:
        changes = self._changes()
        if not changes:
            self.notify("Nothing changed.")
            return
        text = self.pf.text
        for key, value in changes:
            draft = ProjectFile(self.path, text)
            text = draft.without_key(key) if value is None else draft.with_value(key, value)
        try:
            checked = self.pf.save(text)
        except ConfigRefused as exc:
            first = exc.report.errors[0]
            self._refused(f"{first.key}: {first.message}")
            return
        except ConfigChanged as exc:
            self._refused(str(exc))
            return
        assert checked.config is not None
        self.config = checked.config
        keys = ", ".join(k for k, _ in changes)
        self._remember_shown()  # saved: nothing to lose now
        self.query_one("#form-status", Static).update(f"[green]Saved[/] {keys}")
        self.notify(f"Saved {keys}")

    def _refused(self, why: str) -> None:
        """Said where it shows: at 80x24 the status line is below the fold, so ctrl+s
        seemed to do nothing (found walking); a toast says it too, and the line scrolls
        into view."""
        status = self.query_one("#form-status", Static)
        status.update(f"[red]Not saved:[/] {escape(why)}")
        status.scroll_visible()
        self.notify(f"Not saved: {why}", severity="error")

    def _remember_shown(self) -> None:
        from pilot_tui.screens.form_guard import form_values

        self.shown.update(form_values(self))

    def action_back(self) -> None:
        from pilot_tui.screens.form_guard import leave_form

        leave_form(self, self.shown)
