"""A `Log` that keeps the colours of what it streams (ANSI SGR codes from Docker, tools).

Textual's `Log` is the fast, line-capped widget we want for 100k+ lines, but it shows escape
codes as '�'. Lines are stored as written; widths, search and copied selections use the text
with the codes removed, and rendering turns the codes into styles. Known secret values are
masked on the way in (redact), whoever wrote the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Self

from rich.style import Style
from rich.text import Text
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import Log

from pilot_tui import redact

# CSI sequences (colours, cursor moves), OSC (titles, hyperlinks), then stray C0 controls.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile("[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f]")  # not ESC

LEVEL_COLOURS = {"error": "\x1b[1;31m", "warn": "\x1b[33m", "warning": "\x1b[33m"}


def plain(line: str) -> str:
    """The text a person reads: escape codes and other control characters removed."""
    return _CONTROL.sub("", _ANSI.sub("", line)).replace("\x1b", "").expandtabs()


def styled(line: str) -> Text:
    """The line with its SGR colours as Rich styles; anything else is dropped."""
    text = Text.from_ansi(_CONTROL.sub("", _ANSI.sub(_keep_sgr, line)), no_wrap=True, end="")
    text.expand_tabs()
    return text


def _keep_sgr(match: re.Match[str]) -> str:
    code = match.group(0)
    return code if code.startswith("\x1b[") and code.endswith("m") else ""


def colour_level(level: str, line: str) -> str:
    """Colour a whole line by its log level, the way terminals show Terraform's."""
    start = LEVEL_COLOURS.get(level)
    return f"{start}{line}\x1b[0m" if start else line


class ColorLog(Log):
    """Log with ANSI colours; widths, selection and search see plain text. Every line shown
    is masked by the project's secret values first (the app's one log pane).

    It follows the newest line until the person scrolls up. Textual's Log decides that from
    the scroll position at each write, so a pane that shrank while streaming (a table
    growing above it) stopped following and kept showing its oldest lines.
    """

    _following = True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        if self._following and self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        return super().write(redact.values(data), scroll_end)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        following = self._following and self.auto_scroll if scroll_end is None else scroll_end
        super().write_lines([redact.values(line) for line in lines], scroll_end=False)
        if following and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    @classmethod
    def _process_line(cls, line: str) -> str:
        return plain(line)

    @property
    def plain_lines(self) -> list[str]:
        return [plain(line) for line in self.lines]

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.plain_lines)), "\n"

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        selection = self.text_selection
        if y in self._render_line_cache and selection is None:
            return self._render_line_cache[y]
        text = styled(self._lines[y])
        text.stylize_before(rich_style)
        if selection is not None:
            span = selection.get_span(y - self._clear_y)
            if span is not None:
                start, end = span
                end = len(text) if end == -1 else end
                text.stylize(self.screen.get_component_rich_style("screen--selection"), start, end)
        strip = Strip(text.render(self.app.console), text.cell_len)
        self._render_line_cache[y] = strip
        return strip
