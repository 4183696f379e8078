"""A log pane that shrinks while it streams (the server screen's log under a growing plan
table, at 80x24) keeps showing the newest lines, unless the person scrolled up to read."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pilot_tui.screens.colorlog import ColorLog


class Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield ColorLog(id="log", max_lines=1000)


def last_visible(log: ColorLog) -> int:
    return log.scroll_offset.y + log.scrollable_content_region.height - 1


async def test_a_shrinking_pane_keeps_the_newest_lines_in_view():
    app = Pane()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ColorLog)
        log.write_lines([f"line {n}" for n in range(5)])  # fits: nothing to scroll
        await pilot.pause()
        log.styles.height = 3  # the plan table arrived above it
        await pilot.pause()
        log.write_lines([f"line {n}" for n in range(5, 9)])
        await pilot.pause()
        assert last_visible(log) == log.line_count - 1, (log.scroll_offset, log.line_count)

        # Scrolled up to read: new lines do not pull the view away.
        log.scroll_home(animate=False)
        await pilot.pause()
        log.write_line("line 9")
        await pilot.pause()
        assert log.scroll_offset.y == 0
