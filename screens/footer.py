"""The key footer every screen shows, made to fit the terminal it is in.

Textual's Footer spaces its keys generously and cuts what does not fit: at 80 columns the
Apps screen showed "f1 Hel" and the run logs lost ^q and f1 altogether. Narrow terminals
get the compact spacing, and below 100 columns the command palette's key (also in F1's
help) gives its place to the screen's own keys.
"""

from __future__ import annotations

from textual.events import Resize
from textual.widgets import Footer

COMPACT_BELOW = 120
PALETTE_FROM = 100


class PilotFooter(Footer):
    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self.compact_when_wide = compact

    def on_resize(self, event: Resize) -> None:
        self.compact = self.compact_when_wide or event.size.width < COMPACT_BELOW
        self.show_command_palette = event.size.width >= PALETTE_FROM
