"""The run-log viewer: a tab per run from .pilot/logs, follow, search, next error."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import Log, Static, TabbedContent

from pilot_tui.screens.app import create_app
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
        log = screen.query_one("#log-0", Log)
        assert log.line_count == len(failed.read_text().splitlines())
        assert log.lines[0] == "[info] Terraform 1.0.3"  # -json lines shown as messages

        with failed.open("a") as handle:  # the run is still writing: followed live
            handle.write("a line written later\n")
        await pilot.pause(1.3)
        assert log.lines[-1] == "a line written later"

        await pilot.press("x")  # next error
        await pilot.pause()
        status = str(screen.query_one("#logs-status", Static).render())
        assert " · line " in status
        first_error = screen.found_line
        assert first_error is not None and "error" in log.lines[first_error].lower()
        await pilot.press("x")
        assert screen.found_line != first_error  # the next one, not the same again
        await pilot.press("slash")
        await pilot.press(*"t3.bogus", "enter")
        assert "t3.bogus" in log.lines[screen.found_line]
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)
