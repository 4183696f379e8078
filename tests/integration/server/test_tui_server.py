"""The Server screen, driven headless with App.run_test: a real plan and apply in the
sandbox stream into the table, progress bar and log; Cancel stops Terraform gracefully."""

from __future__ import annotations

import json
import time

import pytest
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
    await wait_for(pilot, lambda: table.row_count == 9 and "to review" in text(screen, "#summary"))
    return screen, table


async def test_plan_review_then_live_apply(sandbox_project):
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        assert "WARNING" not in text(screen, "#summary")
        # The same estimate as `server plan`: machine, disk and public IPv4 address.
        assert "on AWS the same server is ~$21.23/month" in text(screen, "#summary")
        assert str(table.get_cell("aws_vpc.pilot", "action")) == "create"
        await pilot.press("a")
        await wait_for(pilot, lambda: "Done." in text(screen, "#summary"))
        progress = screen.query_one("#progress", ProgressBar)
        assert (progress.progress, progress.total) == (9, 9)
        states = {str(table.get_cell(row.value, "state")) for row in table.rows}
        assert states == {"✓ done"}
        log_text = "\n".join(screen.query_one("#log", Log).lines)
        assert "==> apply" in log_text
        # (walk: init's advice to commit its lock file, which is in the ignored .pilot/)
        assert "Terraform has been successfully initialized" in log_text
        assert "version control" not in log_text
        outputs = json.loads((sandbox_project / ".pilot/outputs/server.json").read_text())
        # moto's made-up address, marked as such (issue 11 item 28)
        assert f"simulated: {outputs['outputs']['public_ip']}" in text(screen, "#summary")
        await pilot.press("escape")  # back to the welcome screen
        assert not isinstance(app.screen, ServerScreen)
        # back again: it says the server is up and what p and d do now (found walking: it
        # said only "Press p to plan: Terraform works out what to create")
        await pilot.press("s")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, ServerScreen)
        opening = " ".join(text(again, "#summary").split())
        assert opening.startswith("The server is up (simulated at ssh://ubuntu@"), opening
        assert "Press p to plan changes" in opening and "d to plan its removal" in opening


async def test_the_highlighted_resource_is_shown_whole_at_80_columns(sandbox_project):
    """Found walking the app: at 80x24 the plan's details ran off the table's edge
    ("instance_type=t3.s", a security group's ports gone); the highlighted row is shown
    whole below the table."""
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(80, 24)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        detail = screen.query_one("#resource-detail", Static)
        instance = next(r.value for r in table.rows if str(r.value).startswith("aws_instance."))
        table.focus()
        table.move_cursor(row=table.get_row_index(instance))
        await pilot.pause()
        details = str(table.get_cell(instance, "details"))
        assert "instance_type=" in details and detail.display
        assert str(detail.render()) == f"{instance}: {details}"
        assert table.virtual_size.width > table.size.width  # (the table itself cuts it)


async def test_cancel_mid_apply_stops_gracefully(sandbox_project):
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(100, 30)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: any(str(table.get_cell(r.value, "state")) == "✓ done" for r in table.rows),
        )
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
    from tests.support.server_fixtures import sandbox_state

    app = create_app(str(sandbox_project))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_and_plan(app, pilot)
        pids = [e["pid"] for e in sandbox_state(sandbox_project).values()]
        assert pids and all(pid_alive(p) for p in pids)
        await pilot.press("ctrl+q")
    assert not any(pid_alive(p) for p in pids)


async def test_a_failed_apply_is_pinned_with_the_resource_and_reason(sandbox_project):
    from tests.conftest import run_pilot

    assert (
        run_pilot("config", "set", "server.size", "t3.bogus", cwd=sandbox_project).returncode == 0
    )
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
        right = sum(c.get_render_width(table) for c in table.ordered_columns[: before + 1])
        assert right <= table.scrollable_content_region.width, (keys, right)
        log = screen.query_one("#log", Log)
        last_visible = log.scroll_offset.y + log.scrollable_content_region.height - 1
        assert log.line_count > log.scrollable_content_region.height  # it had to scroll
        assert last_visible == log.line_count - 1
        # The row Terraform starts on is highlighted and scrolled into view (found walking:
        # at 80x24 the one worked on was below the table's visible rows).
        from pilot_tui.provision.tf.events import ApplyStart

        last = table.row_count - 1
        address = str(table.coordinate_to_cell_key((last, 0)).row_key.value)
        screen.handle(ApplyStart(address, "create"))
        await pilot.pause()
        assert table.cursor_row == last
        shown = range(
            int(table.scroll_offset.y), int(table.scroll_offset.y) + table.size.height - 1
        )
        assert last in shown, (last, shown)
        # ... until the person moves the cursor: then it is theirs (found reviewing)
        table.move_cursor(row=1)
        await pilot.pause()
        first = str(table.coordinate_to_cell_key((0, 0)).row_key.value)
        screen.handle(ApplyStart(first, "create"))
        await pilot.pause()
        assert table.cursor_row == 1


async def test_at_80x24_a_long_summary_leaves_the_progress_bar_and_log_on_screen(
    sandbox_project, monkeypatch
):
    """Found by the tmux walk: a long DOCKER_HOST made the sandbox's "Done." summary six
    lines at 80x24, and the progress bar ("100%") and the log were pushed off the screen.
    The summary and the table give way (each scrolls) before they do."""
    long_socket = "/tmp/pytest-of-someone/pytest-1234/session-docker-nothing-listens"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{long_socket}/docker.sock")
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(80, 24)) as pilot:
        screen, table = await open_and_plan(app, pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: "Done." in text(screen, "#summary"))
        await pilot.pause()
        assert "nothing-listens" in text(screen, "#summary")  # the long summary whole
        footer = 23  # the last row is the footer's
        summary = screen.query_one("#summary")
        assert summary.region.height >= 3  # "Done.", what next and the addresses in view
        first = str(summary.render()).splitlines()[0]
        assert first.startswith("Done. Next: Esc, then a to"), first
        progress = screen.query_one("#progress-row").region
        assert progress.height == 1 and progress.bottom <= footer, progress
        log = screen.query_one("#log").region
        assert log.height >= 4 and log.bottom <= footer, log
        assert table.region.height >= 4  # its header and three rows at least
        assert text(screen, "#elapsed").endswith("9/9")  # as the CLI's [n/total]


async def test_esc_twice_names_what_is_in_flight_and_a_kill_says_what_may_be_untracked(
    sandbox_project,
):
    """The app's Esc follows the CLI's Ctrl+C: the second asks before killing, naming the
    resource in flight (its launch held by a proxy); after the kill the summary says what
    may exist outside Terraform's state."""
    from tests.e2e.server.test_interrupt import HeldLaunch

    held = HeldLaunch(sandbox_project)
    try:
        app = create_app(str(sandbox_project))
        async with app.run_test(size=(120, 40)) as pilot:
            screen, table = await open_and_plan(app, pilot)
            await pilot.press("a")
            await wait_for(
                pilot, lambda: str(table.get_cell("aws_instance.server", "state")) == "⟳ working"
            )
            await pilot.pause(1)
            await pilot.press("escape")
            await pilot.pause()
            await pilot.click("#stop")  # stop gracefully: Terraform waits for the launch
            await pilot.pause(1)
            await pilot.press("escape")
            await pilot.pause()
            question = str(app.screen.query_one("Label", Static).render())
            assert "1 resource in flight: aws_instance.server" in question
            await pilot.click("#stop")  # "Kill Terraform"
            await wait_for(pilot, lambda: "Killed" in text(screen, "#summary"), timeout=30)
            summary = text(screen, "#summary")
            assert "aws_instance.server (creating)" in summary
            assert "describe-instances" in summary
    finally:
        held.close()


@pytest.mark.terraform
@pytest.mark.slow
async def test_a_failing_terraform_init_ends_in_the_error_panel_not_a_traceback(tmp_path):
    """home = "gcp" offline: `terraform init` cannot fetch hashicorp/google (no real
    provider exists here). The screen pins the error with the log path; the app runs on."""
    from tests.conftest import run_pilot

    project = tmp_path / "acme"
    project.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=project).returncode == 0
    for key, value in (
        ("gcp.project", "acme-prod-123"),
        ("server.home", "gcp"),
        ("server.allowed_cidrs", '["203.0.113.7/32"]'),
    ):
        done = run_pilot("config", "set", key, value, cwd=project)
        assert done.returncode == 0, done.stderr
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, ServerScreen)
        await pilot.press("p")
        error = screen.query_one("#error", Static)
        await wait_for(pilot, lambda: not error.has_class("hidden"), timeout=180)
        pinned = text(screen, "#error")
        assert "terraform init failed" in pinned
        assert str(project / ".pilot/logs") in pinned.replace("\n", "")
        assert "provider mirror" in pinned  # what to do, as the CLI says
        await pilot.pause(0.5)
        assert app.is_running and app.screen is screen
        await pilot.press("escape")  # still usable: back to the welcome screen
        assert not isinstance(app.screen, ServerScreen)


async def test_a_plan_under_review_keeps_other_runs_out_of_the_workspace(sandbox_project):
    """The Server screen holds the workspace from its plan until the plan is applied or
    dropped: a `server plan` from a terminal meanwhile would replace the reviewed plan."""
    import os

    from tests.conftest import run_pilot

    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_and_plan(app, pilot)
        meanwhile = run_pilot("server", "plan", cwd=sandbox_project)
        assert meanwhile.returncode == 1, meanwhile.stderr
        assert (
            f"another `pilot-tui (its Server screen)` is running (pid {os.getpid()})"
            in meanwhile.stderr
        )
        await pilot.press("escape")  # the plan is dropped with the screen
    after = run_pilot("server", "plan", cwd=sandbox_project)
    assert after.returncode == 0, after.stderr


async def test_destroy_shows_everything_pilot_made_then_removes_it(sandbox_project):
    """`d` lists what `server destroy` lists (Terraform's resources, the deployer, local
    records), `a` removes it all step by step; what remains afterwards is nothing."""
    from tests.conftest import run_pilot

    assert run_pilot("server", "up", "--yes", cwd=sandbox_project).returncode == 0
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        screen = app.screen
        table = screen.query_one("#resources", DataTable)
        await pilot.press("d")
        await wait_for(pilot, lambda: "to remove" in text(screen, "#summary"))
        keys = {row.value for row in table.rows}
        assert {
            "aws_instance.server",
            "IAM user pilot-acme-deployer",
            "IAM role pilot-acme-lambda",
            "IAM role pilot-acme-ecs-exec",
            "local record .pilot/keys/aws-deployer.json",
            "local record .pilot/outputs/server.json",
        } <= keys
        assert any(k.startswith("access key ") for k in keys)
        await pilot.press("a")
        await wait_for(pilot, lambda: "What remains" in text(screen, "#summary"))
        assert "What remains: nothing." in text(screen, "#summary")
        assert "first app" not in text(screen, "#summary")  # item 33: no hint to add apps
        assert {str(table.get_cell(k, "state")) for k in keys} == {"✓ done"}
    assert not (sandbox_project / ".pilot/keys/aws-deployer.json").exists()
    assert not (sandbox_project / ".pilot/outputs/server.json").exists()


async def test_destroy_can_keep_the_state_bucket_and_lock_table(sandbox_project, monkeypatch):
    """The Server screen's destroy asks, like `server destroy --keep-state`, whether to keep
    the state bucket and lock table (not by default, as the CLI); kept, the same executor
    leaves them in moto and says so."""
    from textual.widgets import Checkbox

    from pilot_tui.cloud.sandbox import Sandbox
    from tests.conftest import run_pilot
    from tests.e2e.deploy.test_teardown_e2e import what_pilot_left

    done = run_pilot("config", "set", "state.backend", "s3", cwd=sandbox_project)
    assert done.returncode == 0, done.stderr
    up = run_pilot("server", "up", "--yes", cwd=sandbox_project, timeout=300)
    assert up.returncode == 0, up.stderr
    seen: dict[str, dict[str, list[str]]] = {}
    stop = Sandbox.stop

    def look_then_stop(self):  # the emulators' state dies with them: look first
        seen["left"] = what_pilot_left(self.state_dir, "acme")
        seen["tables"] = {"names": _tables(self.state_dir)}
        return stop(self)

    monkeypatch.setattr(Sandbox, "stop", look_then_stop)
    app = create_app(str(sandbox_project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        screen = app.screen
        await pilot.press("d")
        await wait_for(pilot, lambda: "to remove" in text(screen, "#summary"))
        assert "state bucket pilot-state-acme" in {
            row.value for row in screen.query_one("#resources", DataTable).rows
        }
        await pilot.press("a")
        await wait_for(pilot, lambda: bool(app.screen.query("#keep-state")))
        keep = app.screen.query_one("#keep-state", Checkbox)
        assert keep.value is False  # the CLI's default: removed unless asked to keep
        await pilot.click("#keep-state")
        await pilot.pause()
        assert keep.value is True
        await pilot.click("#destroy")
        await wait_for(pilot, lambda: "What remains" in text(screen, "#summary"))
        summary = text(screen, "#summary")
        assert "What remains: nothing" in summary and "kept" in summary, summary
        assert "pilot-state-acme" in summary
    assert "pilot-state-acme" in seen["left"]["buckets"]
    assert "pilot-state-acme-lock" in seen["tables"]["names"]
    assert seen["left"]["users"] == [] and seen["left"]["instances"] == []


def _tables(state_dir) -> list[str]:
    from pilot_tui.cloud.clients import emulator_aws
    from pilot_tui.cloud.sandbox import Sandbox

    url = Sandbox(state_dir).running()["aws"].url
    dynamodb = emulator_aws("us-east-1").session.client("dynamodb", endpoint_url=url)
    return dynamodb.list_tables()["TableNames"]
