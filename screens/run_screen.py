"""The base of the screens that run long work and watch it (deploy, server): what they share.

- **The event pump.** The core reports progress as events, from a worker thread or the UI
  loop; ``core_event`` posts each as a Message, so ``handle`` sees them on the UI loop, in
  order, and none reaches a screen that has closed. Lines for the log pane are batched and
  written once per tick, which keeps a busy stream cheap.
- **The pinned error.** One ``ErrorPanel`` above the log (it masks and escapes what it pins).
- **The worker outcome.** The screen's worker group ends in ``succeeded`` / ``failed`` /
  ``finished``; Esc while it runs asks first (``ConfirmCancel``), then ``ask_to_cancel``
  passes the stop on to the screen's cancellation (a deploy's token, Terraform's interrupt).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label
from textual.worker import Worker, WorkerState

from pilot_tui.screens.colorlog import ColorLog
from pilot_tui.screens.failures import ErrorPanel
from pilot_tui.screens.running import app_running
from pilot_tui.screens.sandboxes import app_sandboxes

LOG_LINES = 5000  # the log pane keeps the newest ones
FLUSH_SECONDS = 0.1
# A row's state in a run screen's table (a deploy's stages, Terraform's resources).
STATES = {
    "pending": "·",
    "running": "⟳ working",
    "done": "✓ done",
    "failed": "✗ failed",
    "skipped": "– not needed",  # a run that ended live without it (nothing changed)
}


class ConfirmCancel(ModalScreen[bool]):
    """Ask before stopping a run; dismissed with True to stop."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Keep going")]
    AUTO_FOCUS = "#keep"  # Enter, a reflex, must not stop or remove anything
    TERRAFORM = (
        "Stop Terraform? It finishes the resources in flight, saves its state and "
        "releases its lock; running Apply again resumes."
    )

    def __init__(
        self, question: str = TERRAFORM, stop: str = "Stop gracefully", keep: str = "Keep going"
    ) -> None:
        super().__init__()
        self.question = question
        self.labels = (stop, keep)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question)
            with Horizontal():
                yield Button(self.labels[0], variant="error", id="stop")
                yield Button(self.labels[1], variant="primary", id="keep")

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop")


Method = TypeVar("Method", bound=Callable[..., Any])


def tracked(method: Method) -> Method:
    """A RunScreen worker's body, counted by the app as running work from its first line
    to its last (RunScreen.working): under @work, on the method it runs."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(self: RunScreen, *args: Any, **kwargs: Any) -> Any:
            with self.working():
                return await method(self, *args, **kwargs)

        return cast(Method, run_async)

    @functools.wraps(method)
    def run(self: RunScreen, *args: Any, **kwargs: Any) -> Any:
        with self.working():
            return method(self, *args, **kwargs)

    return cast(Method, run)


class ConfirmQuit(ConfirmCancel):
    """Ctrl+Q while work runs: stop it and quit once it has stopped?"""


class ConfirmQuitNow(ConfirmCancel):
    """Ctrl+Q again while that work stops: quit now, with what that breaks said?"""


class RunScreen(Screen[None]):
    """A screen that runs its ``WORKERS`` group and shows the core's events as they come.
    Its compose yields one ``ErrorPanel`` and one ``ColorLog``."""

    WORKERS: ClassVar[str]  # the group of the screen's workers
    # (Each screen binds Esc to cancel_or_back in its own BINDINGS, in its footer's order.)

    class CoreEvent(Message):
        """One of the core's events, on its way to the screen's UI loop."""

        bubble = False

        def __init__(self, event: object) -> None:
            super().__init__()
            self.event = event

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.state_dir = state_dir
        self._pending: list[str] = []

    def on_mount(self) -> None:  # (Textual also runs the subclass's own on_mount)
        self.set_interval(FLUSH_SECONDS, self._flush_log)

    # -- the event pump ---------------------------------------------------------------------
    def core_event(self, event: object) -> None:
        """The core's event sink: safe from any thread."""
        self.post_message(self.CoreEvent(event))

    def on_run_screen_core_event(self, message: CoreEvent) -> None:
        self.handle(message.event)

    def handle(self, event: object) -> None:
        """Show one core event (on the UI loop)."""
        raise NotImplementedError

    def log_line(self, line: str) -> None:
        """Queue ``line`` for the log pane (on the UI loop); masked as it is written."""
        self._pending.append(line)

    def _flush_log(self) -> None:
        if self._pending:  # one batched write per tick
            lines, self._pending = self._pending, []
            self.query_one(ColorLog).write_lines(lines)

    # -- the pinned error -------------------------------------------------------------------
    @property
    def error_panel(self) -> ErrorPanel:
        return self.query_one(ErrorPanel)

    # -- the worker and its outcome ----------------------------------------------------------
    def busy(self) -> bool:
        return any(w.group == self.WORKERS and not w.is_finished for w in self.workers)

    def record_sandbox(self, state_dir: Path) -> None:
        """Before the work may start the sandbox's emulators: the app's exit stops them even
        if it comes while they are starting."""
        app_sandboxes(self.app).starting(state_dir)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place the outcome of the screen's workers arrives."""
        worker = event.worker
        if worker.group != self.WORKERS:
            return
        if event.state == WorkerState.SUCCESS:
            self.succeeded(worker)
        elif event.state == WorkerState.ERROR:
            self.failed(worker)
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.finished(event.state)

    def succeeded(self, worker: Worker[object]) -> None:
        """A worker of the group returned."""

    def failed(self, worker: Worker[object]) -> None:
        """A worker of the group raised: pinned under its error's title."""
        self.error_panel.pin_failure(worker, self.state_dir)

    def finished(self, state: WorkerState) -> None:
        """After any end of a worker of the group (cancelled too)."""

    # -- Esc: cancel, or go back ---------------------------------------------------------------
    def action_cancel_or_back(self) -> None:
        if self.cancellable():
            self.ask_to_cancel()
        else:
            self.app.pop_screen()

    def cancellable(self) -> bool:
        return self.busy()

    def working(self) -> AbstractContextManager[None]:
        """Around a worker's body: the app counts the work as running until it ends."""
        return app_running(self.app).of(self)

    def running(self) -> str:
        """What runs, said to a person asked whether to quit: "A deploy of api runs"."""
        return "Work is under way"

    def stop_for_quit(self) -> None:
        """Stop the work because the app quits (already asked): the screen's own way."""
        return None

    def stop_now_leaves(self) -> str:
        """What quitting at once leaves of this work (said before Ctrl+Q again quits)."""
        return "it ends when its current step does"

    def stop_now(self) -> None:
        """Ctrl+Q again, answered: stop at once where that can be done."""
        return None

    def ask_to_cancel(self) -> None:
        """Esc while the work runs: ask (``confirm``), then stop it the screen's way."""
        raise NotImplementedError

    def confirm(self, dialog: ConfirmCancel, stop: Callable[[], None]) -> None:
        """Ask ``dialog``'s question; ``stop`` runs if the answer is to stop."""

        def decided(answer: bool | None) -> None:
            if answer:
                stop()

        self.app.push_screen(dialog, decided)
