"""The Server screen, driven headless with App.run_test: a real plan and apply in the
sandbox stream into the table, progress bar and log; Cancel stops Terraform gracefully."""

from __future__ import annotations

import json
import time

from textual.widgets import DataTable, Log, ProgressBar, Static

from pilot_tui.screens.app import create_app
from pilot_tui.screens.server import ServerScreen


async def wait_for(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.2)


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_and_plan(app, pilot):
    """Welcome -> Server screen -> plan; returns (screen, resource table) once reviewed."""
    await pilot.pause()
    await pilot.press("s")
    screen = app.screen
    assert isinstance(screen, ServerScreen)
    table = screen.query_one("#resources", DataTable)
    await pilot.press("p")
    await wait_for(pilot, lambda: table.row_count == 9 and "to review" in
                   text(screen, "#summary"))
    return screen, table


async def test_plan_review_then_live_apply(sandbox_project):
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        assert "WARNING" not in text(screen, "#summary")
        assert str(table.get_cell("aws_vpc.pilot", "action")) == "create"
        await pilot.press("a")
        await wait_for(pilot, lambda: "Done." in text(screen, "#summary"))
        progress = screen.query_one("#progress", ProgressBar)
        assert (progress.progress, progress.total) == (9, 9)
        states = {str(table.get_cell(row.value, "state")) for row in table.rows}
        assert states == {"✓ done"}
        log_text = "\n".join(screen.query_one("#log", Log).lines)
        assert "==> apply" in log_text
        outputs = json.loads((sandbox_project / ".pilot/outputs/server.json").read_text())
        # moto's made-up address, marked as such (issue 11 item 28)
        assert f"simulated: {outputs['outputs']['public_ip']}" in text(screen, "#summary")
        await pilot.press("escape")  # back to the welcome screen
        assert not isinstance(app.screen, ServerScreen)


async def test_cancel_mid_apply_stops_gracefully(sandbox_project):
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(100, 30)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(str(table.get_cell(r.value, "state")) == "✓ done"
                                          for r in table.rows))
        await pilot.press("escape")  # asks first
        await pilot.pause()
        await pilot.click("#stop")
        await wait_for(pilot, lambda: "Stopped after" in text(screen, "#summary"))
    workdir = sandbox_project / ".pilot/terraform/sandbox"
    state = json.loads((workdir / "terraform.tfstate").read_text())
    created = [r["type"] for r in state["resources"] if r["mode"] == "managed" and r["instances"]]
    assert 0 < len(created) < 9 and "aws_instance" not in created
    assert not (workdir / ".terraform.tfstate.lock.info").exists()


async def test_emulators_the_app_started_are_stopped_when_it_exits(sandbox_project):
    from pilot_tui.runner import pid_alive
    from tests.server.conftest import sandbox_state

    app = create_app(str(sandbox_project))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_and_plan(app, pilot)
        pids = [e["pid"] for e in sandbox_state(sandbox_project).values()]
        assert pids and all(pid_alive(p) for p in pids)
        await pilot.press("ctrl+q")
    assert not any(pid_alive(p) for p in pids)


async def test_a_failed_apply_is_pinned_with_the_resource_and_reason(sandbox_project):
    from tests.conftest import run_pilot

    assert run_pilot("config", "set", "server.size", "t3.bogus",
                     cwd=sandbox_project).returncode == 0
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        assert "t3.bogus is not in Pilot's price table" in text(screen, "#summary")
        await pilot.press("a")
        await wait_for(pilot, lambda: "Failed at" in text(screen, "#summary"))
        error = screen.query_one("#error", Static)
        assert not error.has_class("hidden")
        pinned = text(screen, "#error")
        assert "aws_instance.server" in pinned and "t3.bogus" in pinned
        assert str(table.get_cell("aws_instance.server", "state")) == "✗ failed"


async def test_plan_at_80x24_shows_the_state_column_and_the_newest_log_lines(sandbox_project):
    """Issue 11 item 27: at 80 columns the state column was off-screen (after the long
    details), and the 3-line log pane under the plan showed its oldest lines."""
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(80, 24)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        await pilot.pause()
        keys = [column.key.value for column in table.ordered_columns]
        before = keys.index("state")
        right = sum(c.get_render_width(table) for c in table.ordered_columns[:before + 1])
        assert right <= table.scrollable_content_region.width, (keys, right)
        log = screen.query_one("#log", Log)
        last_visible = log.scroll_offset.y + log.scrollable_content_region.height - 1
        assert log.line_count > log.scrollable_content_region.height  # it had to scroll
        assert last_visible == log.line_count - 1
