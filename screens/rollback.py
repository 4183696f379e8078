"""Ask before a rollback, and let the person pick the release to go back to.

A rollback changes what serves traffic, so `r` never acts at once: this modal lists the
releases that went live (newest first, the one `pilot-tui rollback APP` would pick
highlighted) and returns the chosen release id, or None when cancelled.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList
from textual.widgets.option_list import Option

from pilot_tui.deploy.history import CANCELLED, FAILED, Release, live


def choices(releases: list[Release]) -> list[Release]:
    """Releases a rollback may go back to: they went live once and are not live now."""
    current = live(releases)
    good = [
        r
        for r in releases
        if r.status not in (FAILED, CANCELLED) and (current is None or r.id != current.id)
    ]
    return list(reversed(good))


def describe(release: Release) -> str:
    image = release.revision or release.image.rsplit(":", 1)[-1][:12]
    note = f" · {release.note}" if release.note else ""
    return f"{release.id}  {release.created}  {image}{note}"


class RollbackPicker(ModalScreen[str | None]):
    """Which release to roll ``app`` back to; dismissed with its id, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, app_name: str, releases: list[Release], suggested: str) -> None:
        super().__init__()
        self.app_name = app_name
        self.releases = choices(releases)
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="rollback-picker"):
            yield Label(
                f"Roll [b]{self.app_name}[/b] back to which release? The one you "
                "pick starts serving again (no rebuild); Esc cancels."
            )
            yield OptionList(
                *(Option(describe(r), id=r.id) for r in self.releases), id="rollback-releases"
            )
            with Horizontal():
                yield Button("Roll back", variant="warning", id="rollback-go")
                yield Button("Cancel", variant="primary", id="rollback-cancel")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [r.id for r in self.releases]
        options.highlighted = ids.index(self.suggested) if self.suggested in ids else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        if event.button.id != "rollback-go":
            self.dismiss(None)
            return
        options = self.query_one(OptionList)
        index = options.highlighted
        self.dismiss(None if index is None else options.get_option_at_index(index).id)
