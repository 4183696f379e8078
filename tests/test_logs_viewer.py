"""The run-log viewer: a tab per run from .pilot/logs, follow, search, next error, colours, copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.geometry import Offset
from textual.selection import Selection
from textual.widgets import Static, TabbedContent

from pilot_tui.screens.app import create_app
from pilot_tui.screens.colorlog import ColorLog, plain, styled
from pilot_tui.screens.logs import LogsScreen

FIXTURES = Path(__file__).parent / "fixtures" / "tf"


async def test_tabs_follow_search_and_errors(project):
    logs = project.parent / ".pilot" / "logs"
    shutil.copy(FIXTURES / "plan-create.jsonl", logs / "terraform-20261125-101500-plan.log")
    failed = logs / "terraform-20261125-101600-apply.log"
    shutil.copy(FIXTURES / "apply-failed.jsonl", failed)
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        tabs = screen.query_one("#runs", TabbedContent)
        assert tabs.active == "run-0"  # the newest run first
        log = screen.query_one("#log-0", ColorLog)
        assert log.line_count == len(failed.read_text().splitlines())
        assert log.plain_lines[0] == "[info] Terraform 1.0.3"  # -json lines shown as messages

        with failed.open("a") as handle:  # the run is still writing: followed live
            handle.write("a line written later\n")
        await pilot.pause(1.3)
        assert log.plain_lines[-1] == "a line written later"

        await pilot.press("x")  # next error
        await pilot.pause()
        status = str(screen.query_one("#logs-status", Static).render())
        assert " · line " in status
        first_error = screen.found_line
        assert first_error is not None and "error" in log.plain_lines[first_error].lower()
        # Errors keep the red a terminal gives them; the text itself has no escape codes.
        error_line = next(line for line in log.lines if plain(line).startswith("[error]"))
        colours = {str(s.style) for s in styled(error_line).spans}
        assert colours == {"bold color(1)"}  # ANSI red, bold
        await pilot.press("c")  # nothing selected: copies the line found
        assert app.clipboard == log.plain_lines[first_error]
        assert "\x1b" not in app.clipboard
        await pilot.press("x")
        assert screen.found_line != first_error  # the next one, not the same again
        await pilot.press("slash")
        await pilot.press(*"t3.bogus", "enter")
        assert "t3.bogus" in log.plain_lines[screen.found_line]
        # A mouse selection (set as a drag would) is what `c` copies, without colour codes.
        screen.selections = {log: Selection(Offset(0, 0), Offset(6, 1))}
        await pilot.pause()
        await pilot.press("c")
        first, second = plain(log.lines[0]), plain(log.lines[1])
        assert app.clipboard == f"{first}\n{second[:6]}"
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)


def test_plain_and_styled_agree_on_text():
    line = "\x1b[32mok\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2Kdone\x07\ttab"
    assert plain(line) == "ok link done    tab"
    text = styled(line)
    assert text.plain == plain(line)  # selection offsets and widths line up with what shows
    assert [(s.start, s.end) for s in text.spans] == [(0, 2)]
