"""Settings: pilot.toml in an editor with live validation, safe saving and outside changes.

The text is validated as you type with the same rules and messages as `config validate`;
Save refuses invalid content and writes atomically (refusing too if the file changed on disk
meanwhile). Changes made outside the app are noticed and reloaded, asking first when there are
unsaved edits. "Open in $EDITOR" (ctrl+o) suspends the app and hands the terminal to your editor.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Header, Label, ListItem, ListView, Static, TextArea

from pilot_tui.config.document import ConfigChanged, ConfigRefused, ProjectFile
from pilot_tui.config.problems import Problem
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.ordered_keys import TextEditor
from pilot_tui.wording import counted


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Confirm(ModalScreen[bool]):
    """A yes/no question about the unsaved edits; Esc (or the second button) answers no."""

    QUESTION = ""
    YES = ("", "")  # (label, id)
    NO = ("", "")  # both questions' "no" keeps the edits: its id is "keep"
    AUTO_FOCUS = "#keep"  # Enter, a reflex, must never throw the edits away
    BINDINGS = [Binding("escape", "dismiss(False)", "Keep my edits")]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.QUESTION)
            with Horizontal():
                yield Button(self.YES[0], variant="warning", id=self.YES[1])
                yield Button(self.NO[0], variant="primary", id=self.NO[1])

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == self.YES[1])


class ConfirmReload(Confirm):
    """The file changed on disk while there are unsaved edits: reload or keep editing?"""

    QUESTION = "pilot.toml changed on disk. Reload it and lose your unsaved edits?"
    YES, NO = ("Reload", "reload"), ("Keep my edits", "keep")


class ConfirmDiscard(Confirm):
    """Leaving the editor with unsaved edits: throw them away, or go back to them?"""

    QUESTION = "Discard your unsaved edits to pilot.toml? The file on disk stays as it was."
    YES, NO = ("Discard", "discard"), ("Keep editing", "keep")


class ProblemItem(ListItem):
    def __init__(self, problem: Problem) -> None:
        severity = "[yellow]warning[/]" if problem.severity == "warning" else "[red]error[/]"
        # Messages name tables like [project]: text, not markup.
        super().__init__(
            Label(
                f"{problem.line}:{problem.col} {severity} "
                f"[b]{escape(problem.key)}[/b]: {escape(problem.message)}"
            )
        )
        self.problem = problem


class SettingsScreen(Screen[None]):
    """Edit pilot.toml; nothing invalid is ever written."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "external_editor", "Open in $EDITOR"),
        Binding("escape", "back", "Back", priority=True),
    ]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.pf = ProjectFile.load(path)
        self.saved_digest = _digest(self.pf.text.encode())
        self.problems: list[Problem] = []
        self._asking = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="settings"):
            yield Static(id="settings-status")
            yield TextEditor.code_editor(
                self.pf.text, language="toml", id="editor", soft_wrap=False
            )
            yield ListView(id="problems")
        yield PilotFooter()

    def on_mount(self) -> None:
        self.validate_now()
        self.query_one("#editor", TextArea).focus()
        # Opened on a file with errors: at the first one (found walking: a broken quote on
        # line 40, the editor at line 1)
        first = next((p for p in self.problems if p.severity == "error" and p.line), None)
        if first is not None:  # the cursor there, nothing selected: a key typed replaces nothing
            self.editor.cursor_location = (first.line - 1, max(first.col - 1, 0))
            self.editor.scroll_cursor_visible(center=True)
        self.set_interval(1.0, self.check_outside_change)

    @property
    def editor(self) -> TextArea:
        return self.query_one("#editor", TextArea)

    @property
    def dirty(self) -> bool:
        return _digest(self.editor.text.encode()) != self.saved_digest

    # -- validation -----------------------------------------------------------------------
    @on(TextArea.Changed, "#editor")
    def text_changed(self) -> None:
        self.validate_now()

    def validate_now(self) -> None:
        report = self.pf.check(self.editor.text).report
        self.problems = report.problems
        listing = self.query_one("#problems", ListView)
        listing.clear()
        for problem in self.problems:
            listing.append(ProblemItem(problem))
        errors, warnings = len(report.errors), len(report.warnings)
        state = "[green]valid[/]" if not errors else f"[red]{counted(errors, 'problem')}[/]"
        extra = f", {counted(warnings, 'warning')}" if warnings else ""
        edited = " · [b]unsaved edits[/b]" if self.dirty else ""
        self.query_one("#settings-status", Static).update(
            f"[b]{self.pf.display}[/b] · {state}{extra}{edited} · ctrl+s saves (only a valid file)"
        )

    @on(ListView.Selected, "#problems")
    def jump_to_problem(self, event: ListView.Selected) -> None:
        """Mark the offending line: move there and select it."""
        if isinstance(event.item, ProblemItem):
            line = max(event.item.problem.line - 1, 0)
            self.editor.select_line(line)
            self.editor.focus()

    # -- saving and reloading ---------------------------------------------------------------
    def action_save(self) -> None:
        try:
            self.pf.save(self.editor.text)
        except ConfigRefused as exc:
            self.notify(
                f"Not saved: {counted(len(exc.report.errors), 'problem')} to fix first "
                "(listed below the editor).",
                severity="error",
            )
            return
        except ConfigChanged:
            self.notify(
                "Not saved: pilot.toml changed on disk meanwhile; reload first.", severity="error"
            )
            return
        except OSError as exc:
            self.notify(f"Not saved: {exc}", severity="error")
            return
        self.saved_digest = _digest(self.pf.text.encode())
        self.validate_now()
        self.notify(f"Saved {self.pf.display}")

    def reload(self) -> None:
        self.pf = ProjectFile.load(self.path)
        self.saved_digest = _digest(self.pf.text.encode())
        self.editor.load_text(self.pf.text)
        self.validate_now()

    def check_outside_change(self) -> None:
        if self._asking:
            return
        try:
            on_disk = self.path.read_bytes()
        except OSError:
            return
        if _digest(on_disk) == _digest(self.pf.text.encode()):
            return
        if not self.dirty:
            self.reload()
            self.notify("pilot.toml changed on disk; reloaded.")
            return

        def decided(reload: bool | None) -> None:
            self._asking = False
            if reload:
                self.reload()
            else:  # keep the edits; saving will refuse until the user reloads
                self.pf = ProjectFile(self.path, on_disk.decode("utf-8", "replace"))

        self._asking = True
        self.app.push_screen(ConfirmReload(), decided)

    def action_external_editor(self) -> None:
        """Hand the terminal to $VISUAL/$EDITOR, then reload what it saved."""
        from pilot_tui.runner import Command, RunnerError, run_attached

        if self.dirty:
            self.notify(
                "Save or undo your edits first: the editor opens the file on disk.",
                severity="warning",
            )
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        try:
            with self.app.suspend():
                run_attached(Command((*shlex.split(editor), str(self.path))))
        except RunnerError as exc:
            self.notify(f"{editor}: {exc}", severity="error")
            return
        self.reload()
        self.notify(f"Reloaded {self.pf.display} after {Path(editor.split()[0]).name}")

    def action_back(self) -> None:
        if not self.dirty:
            self.app.pop_screen()
            return

        def decided(discard: bool | None) -> None:
            if discard:
                self.app.pop_screen()
            else:
                self.editor.focus()

        self.app.push_screen(ConfirmDiscard(), decided)
