"""The run-log viewer: a tab per run from .pilot/logs, follow, search, next error, colours, copy."""

from __future__ import annotations

import shutil

import pytest
from textual.geometry import Offset
from textual.selection import Selection
from textual.widgets import Static, TabbedContent

from pilot_tui.screens.app import create_app
from pilot_tui.screens.colorlog import ColorLog, plain, styled
from pilot_tui.screens.logs import LogsScreen
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "tf"


@pytest.mark.slow
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
        # ] and [ reach the other runs from the pane (found walking: Tab first, then arrows)
        assert app.focused is log
        await pilot.press("right_square_bracket")
        assert tabs.active == "run-1"
        await pilot.press("right_square_bracket")  # there is no older one: stays
        assert tabs.active == "run-1"
        await pilot.press("left_square_bracket")
        assert tabs.active == "run-0"
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)


def test_plain_and_styled_agree_on_text():
    line = "\x1b[32mok\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2Kdone\x07\ttab"
    assert plain(line) == "ok link done    tab"
    text = styled(line)
    assert text.plain == plain(line)  # selection offsets and widths line up with what shows
    assert [(s.start, s.end) for s in text.spans] == [(0, 2)]


@pytest.mark.slow
async def test_a_long_run_says_what_it_shows_and_search_reads_the_whole_file(project):
    """Issue 11 item 17: a 60,088-line deploy log. The pane keeps the last 20,000 lines and
    says so; search finds text in the part it dropped (it said "not found") and lands on the
    right line of the part it shows, even past empty lines and ones holding a line break."""
    import json

    from pilot_tui.screens.logs import MAX_LINES

    total = 60_088
    lines = [
        json.dumps(
            {
                "app": "api",
                "stage": "build",
                "text": f"step {i}",
                "type": "Output",
                "time": "2026-11-25T10:17:00Z",
            }
        )
        for i in range(total)
    ]
    lines[5] = "needle-early-only in the first lines"
    lines[10] = ""
    lines[20] = "a vertical\x0btab and a line\u2028separator"
    lines[30] = "a carriage\rreturn"
    lines[total - 50] = "needle-late where the pane still shows it"
    lines[total - 9] = ""
    path = project.parent / ".pilot" / "logs" / "deploy-20261125-101700-api.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await pilot.pause()
        log = screen.query_one("#log-0", ColorLog)
        assert len(log.lines) == MAX_LINES == 20_000
        status = str(screen.query_one("#logs-status", Static).render())
        assert "showing the last 20,000 of 60,088 lines" in status, status
        assert log.plain_lines[-1] == f"    step {total - 1}"

        await pilot.press("slash", *"NEEDLE-EARLY", "enter")
        status = str(screen.query_one("#logs-status", Static).render())
        assert "not found" not in status and "line 6 " in status, status
        assert "needle-early-only" in status
        await pilot.press("c")
        assert app.clipboard == "needle-early-only in the first lines"

        assert screen.found_line is None  # not in the pane

        await pilot.press("slash", *"needle-", "enter")  # from the match before: itself
        assert "line 6 " in str(screen.query_one("#logs-status", Static).render())
        await pilot.press("n")  # the next match is in the lines shown: scrolled to
        assert screen.found_line == total - 50 - (total - MAX_LINES)
        assert log.plain_lines[screen.found_line] == "needle-late where the pane still shows it"
        assert f"line {total - 49}: " in str(screen.query_one("#logs-status", Static).render())
        await pilot.press("n")  # and round again, to the top of the file
        assert "line 6 " in str(screen.query_one("#logs-status", Static).render())

        # After the empty line near the end, file and pane still line up.
        await pilot.press("slash", *f"step {total - 8}", "enter")
        assert screen.found_line == MAX_LINES - 8
        assert log.plain_lines[screen.found_line] == f"    step {total - 8}"
        assert f"line {total - 7}: " in str(screen.query_one("#logs-status", Static).render())

        with path.open("a", encoding="utf-8") as handle:  # the run goes on: an empty line,
            handle.write("\n")  # on its own, then another
        await pilot.pause(1.3)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("needle-tail\n")
        await pilot.pause(1.3)
        await pilot.press("slash", *"needle-tail", "enter")
        assert screen.found_line == MAX_LINES - 1
        assert f"line {total + 2}: " in str(screen.query_one("#logs-status", Static).render())
        assert "of 60,090 lines" in str(screen.query_one("#logs-status", Static).render())


def test_a_previews_run_is_listed_with_the_deploys(tmp_path):
    """Found walking the app: a preview's deploy (a failed one too) kept its log in
    .pilot/logs/preview-...log, and the Logs screen left it out."""
    from pilot_tui.screens.logs import run_logs

    logs = tmp_path / "logs"
    logs.mkdir()
    for name in (
        "deploy-20261125-101500-api.log",
        "preview-20261125-101700-api--feature.log",
        "rollback-20261125-101600-api.log",
        "terraform-20261125-101400-plan.log",
        "notes.log",  # not a run's
    ):
        (logs / name).write_text("x\n")
    assert [p.name for p in run_logs(tmp_path)] == [
        "preview-20261125-101700-api--feature.log",
        "rollback-20261125-101600-api.log",
        "deploy-20261125-101500-api.log",
        "terraform-20261125-101400-plan.log",
    ]


def test_run_logs_are_named_in_utc_so_the_newest_is_first_in_any_time_zone(tmp_path, monkeypatch):
    """Found walking: with TZ=America/New_York a deploy's log was named in local time
    (deploy-20261205-175243-fn.log) and listed after an older run named in UTC."""
    import time
    from datetime import UTC, datetime
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from pilot_tui.deploy.engine import _RunLog
    from pilot_tui.screens.logs import run_logs, tab_title

    logs = tmp_path / "logs"
    logs.mkdir()
    earlier = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() - 60))
    (logs / f"deploy-{earlier}-api.log").write_text("x\n")  # a run a minute ago, in UTC
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        newest = _RunLog(SimpleNamespace(state_dir=tmp_path), "fn", "deploy").path  # type: ignore[arg-type]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    newest.write_text("x\n")
    assert [p.name for p in run_logs(tmp_path)] == [newest.name, f"deploy-{earlier}-api.log"]
    # its tab says the time on this machine's clock, in New York here
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        shown = tab_title(newest)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    stamp = datetime.strptime("".join(newest.stem.split("-")[1:3]), "%Y%m%d%H%M%S")
    there = stamp.replace(tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert shown == f"deploy fn {there:%H:%M:%S}"


def test_a_tab_of_an_earlier_day_says_its_day(tmp_path, monkeypatch):
    """Found walking: every tab showed a bare clock time, so a run of last week and one of
    today at a similar hour looked alike. Today's runs keep the time to the second."""
    import calendar
    import time

    from pilot_tui.screens.logs import tab_title

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        now = calendar.timegm((2026, 12, 6, 9, 0, 0, 0, 0, 0))
        today = tab_title(tmp_path / "deploy-20261206-081502-api.log", now)
        earlier = tab_title(tmp_path / "terraform-20261125-142341-apply.log", now)
        new_year = tab_title(tmp_path / "deploy-20260102-070000-web.log", now)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert today == "deploy api 08:15:02"
    assert earlier == "apply Nov 25 14:23"
    assert new_year == "deploy web Jan 2 07:00"


async def test_the_header_says_how_many_runs_there_are_beyond_the_tabs(project):
    """Found walking: with 24 runs the header said "12 runs", the tabs' count."""
    from pilot_tui.screens.logs import MAX_RUNS

    logs = project.parent / ".pilot" / "logs"
    for n in range(MAX_RUNS + 3):
        (logs / f"deploy-20261125-10{n:02d}00-api.log").write_text("x\n")
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await pilot.pause()
        status = str(screen.query_one("#logs-status", Static).render())
        assert f"the newest {MAX_RUNS} of {MAX_RUNS + 3} runs in" in status, status
        assert screen.query_one("#runs", TabbedContent).tab_count == MAX_RUNS
