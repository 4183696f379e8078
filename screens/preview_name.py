"""Ask which preview of an app to deploy: a name, usually the branch (prefilled with the
app folder's git branch), shown as the name the preview will have. Dismissed with the name
as typed (the engine makes it a preview name, as `deploy --preview` does), or None."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from pilot_tui.deploy.previews import PreviewError, full_name, slug
from pilot_tui.runner import Command, RunnerError, capture


def git_branch(folder: Path) -> str:
    """The branch checked out in ``folder`` ("" when none: not a repository, detached),
    also before its first commit."""
    try:
        asked = ("git", "symbolic-ref", "--short", "-q", "HEAD")  # (detached: none)
        done = capture(Command(asked, cwd=folder, timeout=5))
    except RunnerError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


class PreviewName(ModalScreen[str | None]):
    """Which preview of ``app_name`` to deploy; dismissed with the name, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, app_name: str, suggested: str, room: int) -> None:
        super().__init__()
        self.app_name = app_name
        self.suggested = suggested
        self.room = room  # how long the app's previews' names may be (previews.name_room)

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-name"):
            yield Label(
                f"Deploy a preview of [b]{self.app_name}[/b] from its source as it is now. "
                "Name it after its branch; a preview of that name is redeployed. Esc cancels."
            )
            yield Input(self.suggested, placeholder="feature/login", id="preview-name-input")
            yield Static("", id="preview-name-shown")
            with Horizontal():
                yield Button("Deploy preview", variant="primary", id="preview-go")
                yield Button("Cancel", id="preview-cancel")

    def on_mount(self) -> None:
        self.shown(self.suggested)
        self.query_one(Input).focus()

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        self.shown(event.value)

    def shown(self, value: str) -> None:
        label = self.query_one("#preview-name-shown", Static)
        if not value.strip():  # a hint, not an error: nothing typed yet
            label.update(f"[dim]deploys {self.app_name}--NAME: type its name (its branch's)[/dim]")
            return
        try:
            named = full_name(self.app_name, slug(value, self.room))
            label.update(Text.assemble("deploys ", (named, "bold")))
        except PreviewError as exc:  # it quotes what was typed: text, never markup
            label.update(Text(str(exc), style="red"))

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.go()

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        if event.button.id == "preview-go":
            self.go()
        else:
            self.dismiss(None)

    def go(self) -> None:
        value = self.query_one(Input).value.strip()
        try:
            slug(value, self.room)
        except PreviewError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.dismiss(value)
