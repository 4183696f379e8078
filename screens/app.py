"""The Pilot app and its factory, shared by the CLI and the tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from pilot_tui import __version__
from pilot_tui.screens.running import RunningWork
from pilot_tui.screens.sandboxes import AppSandboxes
from pilot_tui.screens.welcome import WelcomeScreen


class PilotApp(App[int]):
    """Pilot's guided setup. Screens call the core; the core never touches widgets."""

    CSS_PATH = Path(__file__).with_name("pilot.tcss")
    TITLE = "Pilot"
    SUB_TITLE = f"v{__version__}"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1,question_mark", "help", "Help"),
    ]

    def __init__(self, project: str | None = None, *, sandbox: bool = False) -> None:
        super().__init__()
        self.project_arg = project
        self.sandbox = sandbox
        self.sandboxes = AppSandboxes()  # the ones this run starts; stopped at its exit
        self.running = RunningWork()  # its screens' long work, until each ends
        if sandbox:
            self.sub_title = f"v{__version__} · sandbox (no cloud account)"

    def on_mount(self) -> None:
        from pilot_tui.screens.ui_state import saved_theme

        theme = saved_theme()
        if theme in self.available_themes:
            self.theme = theme
        self.watch(self, "theme", self._theme_changed, init=False)
        self._exit_on_signals()

    def _exit_on_signals(self) -> None:
        """A closed terminal (SIGHUP) or a `kill` (SIGTERM) ends the app as ctrl+q does,
        so the sandbox emulators it started are stopped (found walking: closing the
        terminal left them running)."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._signalled, signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                return

    def _signalled(self, signum: int) -> None:
        # The emulators first: with the terminal gone, the exit's last paint may fail.
        self.sandboxes.stop_all()
        self.exit(return_code=128 + signum)

    def get_default_screen(self) -> Screen[object]:
        # The welcome screen is the app's first, not one pushed over a blank one: the
        # first frame painted is it (one screen made, styled and laid out, not two).
        return WelcomeScreen(self.project_arg)

    def _theme_changed(self, theme: str) -> None:
        from pilot_tui.screens.ui_state import save_theme

        save_theme(theme)  # the palette's theme choice holds for the next run

    def action_help(self) -> None:
        from pilot_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Command-palette entries for the app's actions, beside Textual's own (theme...)."""
        textuals = list(super().get_system_commands(screen))
        yield from textuals
        yield SystemCommand("Help", "Keys and what each screen does", self.action_help)
        # Each title once: Textual's own list has some of the app's bindings (copy)
        listed = {command.title for command in textuals} | {"Help"}
        for binding in screen.active_bindings.values():
            b = binding.binding
            # Every action of the screen, the ones the footer leaves out too (reload)
            if b.description and b.action not in ("quit", "help") and b.description not in listed:
                listed.add(b.description)
                yield SystemCommand(
                    b.description,
                    b.tooltip or f"on this screen, or press {self.get_key_display(b)}",
                    lambda action=b.action: self.run_action(action, screen),
                )

    _stopping = False  # a quit asked while work ran: the work is being stopped first

    async def action_quit(self) -> None:
        """Quit; with a deploy, Terraform run or backup under way (its screen open or not),
        ask first, stop it its own way and quit once it has stopped (found walking: the app
        closed to a blank terminal that sat there for a minute while a deploy's watch ran
        on). Ctrl+Q again while it stops asks whether to quit now, saying what that
        leaves."""
        from pilot_tui.screens.run_screen import ConfirmQuit, ConfirmQuitNow
        from pilot_tui.screens.running import app_running

        running = app_running(self).screens()
        if not running:
            self.exit(0)
            return
        if isinstance(self.screen, (ConfirmQuit, ConfirmQuitNow)):
            return  # already asking
        said = "; ".join(screen.running() for screen in running)
        if self._stopping:
            self.push_screen(
                ConfirmQuitNow(
                    f"Still stopping: {said}. Quit now? "
                    + "; ".join(screen.stop_now_leaves() for screen in running),
                    "Quit now",
                    "Keep waiting",
                ),
                lambda now: self._quit_now(now, said),
            )
            return

        def decided(stop: bool | None) -> None:
            if not stop:
                return
            self._stopping = True
            for screen in running:
                screen.stop_for_quit()
            self.notify(
                "Stopping what runs; Pilot quits once it has (Ctrl+Q again to quit sooner).",
                timeout=30,
            )
            self.set_interval(0.2, self._quit_when_stopped)

        self.push_screen(
            ConfirmQuit(f"{said}. Stop it and quit?", "Stop and quit", "Keep going"), decided
        )

    def _quit_now(self, now: bool | None, said: str) -> None:
        from pilot_tui.screens.running import app_running

        if not now:
            return
        for screen in app_running(self).screens():
            screen.stop_now()
        # (said after the app's screen is gone: the process still waits for the work's
        # threads, and a blank terminal must say why)
        self.exit(0, message=f"pilot-tui: waiting for the work under way to stop ({said})")

    def _quit_when_stopped(self) -> None:
        from pilot_tui.screens.running import app_running

        if not app_running(self).screens():
            self.exit(0)

    def on_unmount(self) -> None:
        self.sandboxes.stop_all()
        self._forget_signals()

    def _forget_signals(self) -> None:
        """The loop's handlers taken back: the loop may outlive the app (tests)."""
        import asyncio
        import contextlib
        import signal

        with contextlib.suppress(RuntimeError):  # no loop running any more
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, ValueError):
                    loop.remove_signal_handler(signum)


def create_app(project: str | None = None, *, sandbox: bool = False) -> PilotApp:
    """Build the app for ``project`` (a pilot.toml or its directory; None: search as the CLI
    does); ``sandbox`` uses the local sandbox whatever server.home says."""
    return PilotApp(project, sandbox=sandbox)
