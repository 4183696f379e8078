"""Welcome: what Pilot will do, where the project file is, and the next step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from pilot_tui.project import (
    Project,
    ProjectFileUnusable,
    ProjectNotFound,
    find_project,
    project_file_for,
)
from pilot_tui.screens.failures import worker_failure
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.home_status import (
    any_live,
    app_rows,
    next_step,
    sandbox_server_gone,
    saved_server,
)
from pilot_tui.screens.project_config import as_run, effective_config
from pilot_tui.wording import counted

if TYPE_CHECKING:  # read and checked after the first frame (the checks' imports cost)
    from pilot_tui.config.problems import Report
    from pilot_tui.config.schema import PilotConfig
    from pilot_tui.config.validate import Checked
    from pilot_tui.deploy.targets.base import AppStatus

STEPS = (
    ("Credentials", "find and check your AWS or Google Cloud credentials"),
    ("Server", "choose where the Pilot Server runs: AWS, GCP, a Docker host or a local sandbox"),
    ("Plan & apply", "review the Terraform plan, then watch it build your server"),
    ("Apps", "describe each app: source, build, target, env vars, secret names"),
    ("Deploy", "build, push, deploy and release, with live logs and rollback"),
)


# The actions that act on the project: a key for one may come before its status is read.
PROJECT_ACTIONS = frozenset(
    {"credentials", "server", "server_settings", "apps", "data", "logs", "settings", "init"}
)


WATCH_SECONDS = 1.0  # how often the home screen looks whether pilot.toml changed


class WelcomeScreen(Screen[None]):
    """The first screen: the plan of the journey and this project's state."""

    BINDINGS = [
        Binding("c", "credentials", "Creds"),
        Binding("s", "server", "Server"),
        Binding("o", "server_settings", "Options"),
        Binding("a", "apps", "Apps"),
        Binding("d", "data", "Data"),
        Binding("l", "logs", "Logs"),
        Binding("e", "settings", "Edit"),
        Binding("r", "reload", "Reload pilot.toml", show=False),
        Binding("i", "init", "Create pilot.toml"),
    ]

    def __init__(self, project_arg: str | None) -> None:
        super().__init__()
        self.project_arg = project_arg
        self._stamp: tuple[int, int] | None = None  # pilot.toml as last read
        self._status_head: list[str] = []
        self._apps_shown: tuple[Path, list[str]] | None = None
        self._status_ready = False  # read after the first frame, or by the first key
        # What the last health check said of each app (None: not known yet; text: why not).
        self.app_health: dict[str, str] | str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="welcome"):
            yield Static("Welcome to Pilot", id="title")
            yield Static(
                "Your own platform-as-a-service, on your own cloud account: no platform fee, "
                "no lock-in. Every choice is saved in pilot.toml, which you can also edit by "
                "hand.",
                id="intro",
            )
            yield Static(id="project-status")
            yield Static(id="health", classes="hidden")  # shown once apps are live
            yield Static(id="next-step")
            steps = "\n".join(
                f"  {n}. [b]{name}[/b] — {what}" for n, (name, what) in enumerate(STEPS, 1)
            )
            yield Static(f"[b]The journey[/b]\n{steps}", id="steps")
        yield PilotFooter(compact=True)

    def on_mount(self) -> None:
        # In a terminal the first frame is painted before the project is read and checked:
        # what that imports (the config's checks, the deploy targets) is imported in a
        # worker meanwhile, and the status follows a moment later. Headless (tests,
        # snapshots) no frame waits: the status is made at once.
        if self.app.is_headless:
            self.call_after_refresh(self._first_status)
        else:
            self._prepare_status()

    @work(thread=True, group="first-status", exit_on_error=False)
    def _prepare_status(self) -> None:
        try:
            import pilot_tui.config.document
            import pilot_tui.deploy.secrets
            import pilot_tui.deploy.targets  # noqa: F401
        finally:  # the status comes whatever happened here (its own errors shown there)
            self.app.call_from_thread(self._first_status)

    def _first_status(self) -> None:
        if self._status_ready:
            return  # a key came first and read it (_ready)
        self._status_ready = True
        self.refresh_status()
        # pilot.toml changed by hand (another editor, git) is read again while this screen
        # shows (found walking: a file fixed elsewhere still showed its old problem, and
        # its keys stayed off)
        self.set_interval(WATCH_SECONDS, self._reread_if_changed)
        if self.project_file is not None and self.config is None:
            # A broken pilot.toml opens the editor with its problems instead of failing.
            self.action_settings()
        elif self.project_file is not None:
            self._resume()

    def _state_dir(self) -> Path | None:
        return Project(self.project_file).state_dir if self.project_file else None

    def _resume(self) -> None:
        """Reopen the screen this project was left on last time."""
        from pilot_tui.screens.ui_state import last_screen

        state_dir = self._state_dir()
        screen = last_screen(state_dir) if state_dir and state_dir.is_dir() else "home"
        if screen != "home" and self.check_action(screen, ()):
            getattr(self, f"action_{screen}")()
            self.notify("Reopened where you left off; Esc goes back home.", timeout=4)

    def _remember(self, screen: str) -> None:
        from pilot_tui.screens.ui_state import remember_screen

        state_dir = self._state_dir()
        if state_dir is not None and state_dir.is_dir():
            remember_screen(state_dir, screen)

    def on_screen_resume(self) -> None:
        if getattr(self, "project_file", None) is not None and self.app.screen is self:
            self.refresh_status()  # back from a screen that may have changed things
            self._remember("home")  # back home: the next run starts here too

    def _file_stamp(self) -> tuple[int, int] | None:
        """pilot.toml's (mtime, size) as last read, or None when there is none."""
        file = self.project_file
        if file is None:
            try:
                file = find_project(self.project_arg).file
            except (ProjectFileUnusable, ProjectNotFound):
                return None
        try:
            found = file.stat()
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size

    def _reread_if_changed(self) -> None:
        if self.app.screen is self and self._file_stamp() != self._stamp:
            self.refresh_status()

    def refresh_status(self) -> None:
        """Find and check the project file, then show its state and the next step."""
        self.missing = False
        self.config = None
        self.project_file = None
        self._apps_shown = None
        # taken before the read: a save between the two is seen by the next look (review)
        stamp = self._file_stamp()
        loaded = self._load_project()
        self._stamp = stamp
        if loaded is None:
            self.query_one("#health", Static).add_class("hidden")  # of no project now
            return  # what is wrong with the file is shown
        project, checked = loaded
        self.config = checked.config
        self.project_file = project.file
        head = [f"[b]Project file[/b]\n  {escape(str(project.file))}"]
        if checked.report.ok and checked.config is not None:
            lines, next_step = self._project_state(project, checked.config, checked.report)
            self._show(head + lines, next_step)
        else:
            problems = [f"  [red]{counted(len(checked.report.errors), 'problem')}[/red]:"]
            problems += [f"  {escape(line)}" for line in checked.report.lines()[:8]]
            self._show(
                head + problems,
                "[b]Next:[/b] press [reverse] e [/reverse] to fix pilot.toml in "
                "the editor (every problem is listed there).",
            )

    def _load_project(self) -> tuple[Project, Checked] | None:
        """The project and its checked file; None (with the reason shown) when there is
        none, or it cannot be read."""
        try:
            project = find_project(self.project_arg)
        except ProjectFileUnusable as exc:  # something is there: never offer to write over it
            self._show(
                [f"[b]Project file[/b]\n  [red]{escape(str(exc))}[/]"],
                "[b]Next:[/b] fix that path, then press [reverse] r [/reverse].",
            )
            return None
        except ProjectNotFound as exc:
            self.missing = True
            self._show(
                [f"[b]Project file[/b]\n  {escape(str(exc))}"],
                "[b]Next:[/b] press [reverse] i [/reverse] to create a commented "
                "pilot.toml here (or run `pilot-tui init`)",
            )
            return None
        from pilot_tui.config.document import ProjectFile

        try:
            return project, ProjectFile.load(project.file).check()
        except (OSError, UnicodeDecodeError) as exc:
            self._show(
                [f"[b]Project file[/b]\n  [red]cannot read {escape(f'{project.file}: {exc}')}[/]"],
                "[b]Next:[/b] fix the file's permissions or encoding (UTF-8), "
                "then press [reverse] r [/reverse].",
            )
            return None

    def _project_state(
        self, project: Project, config: PilotConfig, report: Report
    ) -> tuple[list[str], str]:
        """A valid project: its server and apps (the live ones' health asked for in a
        worker), and the next step."""
        from pilot_tui.deploy import secrets
        from pilot_tui.deploy.engine import needs_docker

        secrets.register_project(project.state_dir, config)  # for every pane
        warn = f", {counted(len(report.warnings), 'warning')}" if report.warnings else ""
        lines = [f"  [green]valid[/green]{warn}"]
        server = saved_server(project.state_dir)
        # Apps that need no Docker engine (zip Lambdas, sites without a build) need no
        # Pilot Server: the next step is theirs, not its. An image app on a managed target
        # is built on the server, so it still needs one.
        serverless = bool(config.apps) and not any(needs_docker(a) for a in config.apps)
        if config.server.home == "host":
            where = f"your Docker host {config.server.host or '(server.host unset)'}"
            lines.append(f"[b]Server[/b] (host): {where}")
            server = server or config.server.host
        else:
            state = f"[green]up[/green] {escape(server)}" if server else "not provisioned"
            if not server and sandbox_server_gone(project.state_dir):  # as `server status`
                state = (
                    "gone: the sandbox's local AWS API stopped, and the server with it "
                    "(s, then p and a, make it again)"
                )
            elif not server and serverless:
                state += " (no app needs it: none is built or runs there)"
            lines.append(f"[b]Server[/b] ({config.server.home}): {state}")
        apps = [a.name for a in config.apps]
        lines.append("[b]Apps[/b]: " + ("none yet" if not apps else ""))
        live = any_live(project.state_dir, apps)
        # What the rows say of each live app comes from the health check, which also
        # runs in the sandbox: an app is never called live on the history's word alone.
        self._apps_shown = (project.state_dir, apps)
        self.app_health = None if live else {}
        if live:
            self.check_health(project.file)
        else:  # nothing live (a destroy since?): no health line of what was before
            self.workers.cancel_group(self, "health")
            self.query_one("#health", Static).add_class("hidden")
        return lines, next_step(bool(server) or serverless, bool(apps), config.server.home)

    def _show(self, head: list[str], next_step: str) -> None:
        self._status_head = head
        self._show_status()
        self.query_one("#next-step", Static).update(next_step)
        self.refresh_bindings()

    def _show_status(self) -> None:
        """The project's lines, then one row per app with its health as last checked."""
        lines = list(self._status_head)
        if self._apps_shown is not None:
            state_dir, apps = self._apps_shown
            lines += [f"  {row}" for row in app_rows(state_dir, apps, self.app_health)]
        self.query_one("#project-status", Static).update("\n".join(lines))

    @work(
        thread=True,
        exclusive=True,
        group="health",
        name="check the apps' health",
        exit_on_error=False,
    )
    def check_health(self, project_file: Path) -> tuple[str, dict[str, str]]:
        """Ask how each live app is doing, as `pilot-tui status` does (status.statuses):
        (the dashboard's health line, app -> health for the app rows)."""
        from pilot_tui.deploy.session import open_deployer
        from pilot_tui.deploy.status import look
        from pilot_tui.deploy.targets import on_docker_host

        self.app.call_from_thread(self._health, "[dim]checking the apps' health…[/dim]")
        config = effective_config(self.app, project_file)
        assert config is not None
        served = on_docker_host(config.apps)
        # The Docker host only for its apps and databases; the apps elsewhere are still
        # asked when it cannot be opened, as `status` does.
        looked = look(
            lambda apps: open_deployer(
                project_file, config, lambda _: None, apps=apps, share=False
            ),
            None if config.databases else served,
        )
        proxy, apps = looked.proxy, looked.rows
        refused = looked.refused
        unreachable = f"\n[red]Docker host:[/] {escape(str(refused))}" if refused else ""
        marks = [f"{a.app} {_mark(a)} {a.health}[/]" for a in apps if a.release != "-"]
        where = f" (proxy {proxy})" if served else ""
        # What the edge says of each app behind it: certificates and the last minutes'
        # traffic (req/s, 5xx rate, p95), as `pilot-tui status` prints them.
        edge = [f"\n[b]{escape(a.app)}[/b] " + escape(" · ".join(a.notes)) for a in apps if a.notes]
        text = f"[b]Health[/b]{where}: " + " · ".join(marks) + "".join(edge) + unreachable
        return text, {a.app: a.health for a in apps}

    def _health(self, text: str) -> None:
        health = self.query_one("#health", Static)
        health.remove_class("hidden")
        health.update(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "health" or not event.worker.is_finished:
            return
        if self.app_health == {}:  # nothing is live now: a check begun before says nothing
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, tuple):
            line, self.app_health = event.worker.result
            self._health(line)
        elif event.state == WorkerState.ERROR:
            self._health(
                f"[b]Health[/b]: [red]cannot ask the Docker host:[/] "
                f"{worker_failure(event.worker, self._state_dir())}"
            )
            self.app_health = "health unknown: the Docker host did not answer"
        else:
            return
        self._show_status()

    def _ready(self) -> None:
        """The status read now when a key comes before it (the first frame is painted before
        it is read): the key then acts on it, and no screen of last time is reopened."""
        if not self._status_ready:
            self._status_ready = True
            self.refresh_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not getattr(self, "_status_ready", True) and action in PROJECT_ACTIONS:
            return True  # the status is not read yet: the action reads it first (_ready)
        if action == "init":
            return getattr(self, "missing", False)
        if action in ("server", "credentials", "server_settings", "apps", "data"):
            return getattr(self, "config", None) is not None
        if action in ("settings", "logs"):
            return getattr(self, "project_file", None) is not None
        return True

    def action_credentials(self) -> None:
        from pilot_tui.screens.credentials import CredentialsScreen

        self._ready()
        if self.config is not None and self.project_file is not None:
            self._remember("credentials")
            self.app.push_screen(
                CredentialsScreen(self.project_file, self.config), lambda _: self.refresh_status()
            )

    def action_server_settings(self) -> None:
        from pilot_tui.screens.server_form import ServerFormScreen

        self._ready()
        if self.config is not None and self.project_file is not None:
            self._remember("server_settings")
            self.app.push_screen(
                ServerFormScreen(self.project_file), lambda _: self.refresh_status()
            )

    def action_apps(self) -> None:
        from pilot_tui.screens.apps import AppsScreen

        self._ready()
        if self.project_file is not None and self.config is not None:
            self._remember("apps")
            self.app.push_screen(AppsScreen(self.project_file), lambda _: self.refresh_status())

    def action_data(self) -> None:
        from pilot_tui.screens.data import DataScreen

        self._ready()
        if self.project_file is not None and self.config is not None:
            self._remember("data")
            self.app.push_screen(DataScreen(self.project_file), lambda _: self.refresh_status())

    def action_logs(self) -> None:
        from pilot_tui.screens.logs import LogsScreen

        self._ready()
        if self.project_file is not None:
            self._remember("logs")
            self.app.push_screen(LogsScreen(Project(self.project_file).state_dir))

    def action_settings(self) -> None:
        from pilot_tui.screens.settings import SettingsScreen

        self._ready()
        if self.project_file is not None:
            self._remember("settings")
            self.app.push_screen(SettingsScreen(self.project_file), lambda _: self.refresh_status())

    def action_server(self) -> None:
        from pilot_tui.screens.server import ServerScreen

        self._ready()
        config = self.config
        if config is None or self.project_file is None:
            return
        config = as_run(self.app, config)
        self._remember("server")
        self.app.push_screen(ServerScreen(Project(self.project_file), config))

    def action_reload(self) -> None:
        self.refresh_status()

    def action_init(self) -> None:
        from pilot_tui.config.starter import project_name_from, starter_text
        from pilot_tui.project import create_project

        self._ready()
        target = project_file_for(self.project_arg)
        if target.exists():
            self.notify(f"{target} already exists", severity="warning")
            return
        create_project(target, starter_text(project_name_from(target.parent.name)))
        self.notify(f"created {target}")
        self.refresh_status()


def _mark(row: AppStatus) -> str:
    """✓ healthy, ✗ failing, ? not known (an unknown is no failure: found walking, a
    database the host could not be asked of showed "✗ unknown")."""
    if row.ok:
        return "[green]✓"
    return "[red]✗" if row.known else "[yellow]?"
