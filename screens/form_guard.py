"""Leaving a form with unsaved changes asks first, as the pilot.toml editor does (found
walking: Esc on the server options and the new-app form threw typed values away unasked)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Input, Select

from pilot_tui.screens.settings import Confirm


class ConfirmDiscardForm(Confirm):
    """Leaving a form whose values were changed: throw them away, or go back to them?"""

    QUESTION = "Discard your changes in this form? pilot.toml stays as it was."
    YES, NO = ("Discard", "discard"), ("Keep editing", "keep")


def form_values(screen: Screen[None]) -> dict[str, object]:
    """Each field's value by its id: what the form shows now."""
    fields = [*screen.query(Input), *screen.query(Select)]
    return {field.id: field.value for field in fields if field.id}


def leave_form(screen: Screen[None], shown: dict[str, object]) -> None:
    """Go back; when a field differs from ``shown`` (the values it opened with), ask first."""
    if form_values(screen) == shown:
        screen.app.pop_screen()
        return

    def decided(discard: bool | None) -> None:
        if discard:
            screen.app.pop_screen()

    screen.app.push_screen(ConfirmDiscardForm(), decided)
