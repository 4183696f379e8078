"""Deploying from the app (App.run_test) against the private Docker engine: the Apps screen
deploys, the deploy screen shows the stages live and the URL, a failure is pinned with the
new release's logs, Esc cancels with the live release untouched, and the runs show in Logs."""

from __future__ import annotations

import json
import re

from textual.widgets import DataTable, Static

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from pilot_tui.screens.app import create_app
from pilot_tui.screens.apps import AppsScreen
from pilot_tui.screens.colorlog import ColorLog
from pilot_tui.screens.deploy import DeployScreen
from pilot_tui.screens.logs import LogsScreen
from pilot_tui.screens.welcome import WelcomeScreen
from tests.support.deploy_fixtures import get


async def until(pilot, condition, seconds: float = 60) -> bool:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        await pilot.pause(0.1)
    return condition()


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_deploy_from_the_apps_screen_then_a_failure_then_cancel(site):
    root, port = site
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        assert await until(pilot, lambda: "is live" in text(screen, "#deploy-result"))
        assert f"http://hello.localhost:{port}/" in text(screen, "#deploy-result")
        table = screen.query_one("#stages", DataTable)
        states = [str(table.get_cell(s, "state")) for s in ("build", "push", "deploy", "release")]
        assert states == ["✓ done"] * 4
        log = screen.query_one("#deploy-log", ColorLog)
        assert any(line.startswith("Step 1/") for line in log.plain_lines)  # build streamed
        assert get(port) == "hello v1"
        await pilot.press("escape")
        assert isinstance(app.screen, AppsScreen)
        live = app.screen.query_one("#app-list", DataTable).get_cell("hello", "live")
        assert str(live).startswith("v1 http://hello.localhost")

        # A release that never gets healthy: pinned with its own last lines; v1 serves on.
        pf = ProjectFile.load(root / "pilot.toml")
        pf.save(pf.with_value("apps.hello.target.health_path", "/missing"))
        (root / "hello" / "www" / "index.html").write_text("hello v2\n")
        await pilot.press("d")
        screen = app.screen
        assert await until(pilot, lambda: "Not deployed" in text(screen, "#deploy-result"))
        pinned = text(screen, "#deploy-error")
        assert "did not answer 2xx" in pinned and "response:404" in pinned  # its last lines
        shown = "\n".join(screen.query_one("#deploy-log", ColorLog).plain_lines)
        assert "token=••••••" in shown  # the app printed its token: masked on screen too
        assert get(port) == "hello v1"
        await pilot.press("escape")

        # Esc while the new release waits to get healthy: asked, then cancelled cleanly.
        pf = ProjectFile.load(root / "pilot.toml")
        pf.save(pf.with_value("apps.hello.target.health_timeout", 60))
        (root / "hello" / "www" / "index.html").write_text("hello v3\n")
        await pilot.press("d")
        screen = app.screen
        assert await until(
            pilot,
            lambda: (
                "waiting for GET"
                in "\n".join(screen.query_one("#deploy-log", ColorLog).plain_lines)
            ),
        )
        await pilot.press("escape")  # asks first
        await pilot.click("#stop")
        assert await until(pilot, lambda: "Cancelled" in text(screen, "#deploy-result"))
        assert get(port) == "hello v1"
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, WelcomeScreen)
        # The dashboard asks the host how the live apps are doing, with today's settings:
        # health_path is /missing now, which v1 does not serve. The app's row says what
        # `status` says, not "live" on the release history's word.
        assert await until(
            pilot, lambda: "hello ✗ unhealthy (404)" in text(app.screen, "#health"), seconds=20
        ), text(app.screen, "#health")
        assert "hello: v1 unhealthy (404) at" in text(app.screen, "#project-status")
        assert "last deploy v3 cancelled" in text(app.screen, "#project-status")
        # Under it, what the edge says of the app: its traffic (the request above included).
        assert re.search(r"hello traffic [\d.]+ req/s, [\d.]+% 5xx", text(app.screen, "#health"))

        await pilot.press("l")  # every run has a tab in the log viewer
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        titles = [str(tab.label) for tab in logs.query("Tab")]
        assert sum(t.startswith("deploy hello") for t in titles) == 3
    statuses = [r.status for r in history.load(root / ".pilot", "hello")]
    assert statuses == ["live", "failed", "cancelled"]


async def test_the_home_screen_reads_the_same_health_as_status(site, cli, docker_client):
    """An app whose container was stopped behind Pilot's back is not called live."""
    root, port = site
    assert cli("deploy", "hello").code == 0
    (container,) = docker_client.containers.list(filters={"label": "pilot.app=hello"})
    container.stop(timeout=1)
    status = cli("status", "--json")
    assert status.code == 1
    said = {row["app"]: row["health"] for row in json.loads(status.out)}
    assert said["hello"] == "stopped"
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        assert "v1 live" not in text(app.screen, "#project-status")  # not before the check
        assert await until(
            pilot, lambda: "hello ✗ stopped" in text(app.screen, "#health"), seconds=20
        ), text(app.screen, "#health")
        shown = text(app.screen, "#project-status")
        assert "hello: v1 stopped at" in shown and "v1 live" not in shown

        container.start()  # back (the proxy finds it by name): both say so
        assert get(port) == "hello v1"
        await pilot.press("r")
        assert await until(
            pilot, lambda: "hello: v1 live at" in text(app.screen, "#project-status"), seconds=20
        )
        assert "hello ✓ healthy" in text(app.screen, "#health")


async def test_a_release_reverted_by_the_watch_is_pinned_and_the_app_stays(site):
    """The watch's revert on the deploy screen: the failure is pinned with why, the
    release stage shows it (the stage table has no row of its own for the watch: the app
    once quit on it), and the previous release serves."""
    root, port = site
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.press("d")
        screen = app.screen
        assert await until(pilot, lambda: "is live" in text(screen, "#deploy-result"))
        await pilot.press("escape")
        pf = ProjectFile.load(root / "pilot.toml")
        pf.save(pf.with_value("apps.hello.target.watch", 20))
        dockerfile = root / "hello" / "Dockerfile"
        kept = [ln for ln in dockerfile.read_text().splitlines(keepends=True) if ln[:3] != "CMD"]
        dockerfile.write_text(
            "".join(kept) + 'CMD ["sh", "-c", "httpd -f -p $PORT -h /www & sleep 4; exit 3"]\n'
        )
        (root / "hello" / "www" / "index.html").write_text("hello v2\n")
        await pilot.press("d")
        screen = app.screen
        assert await until(
            pilot, lambda: "Not deployed" in text(screen, "#deploy-result"), seconds=90
        )
        assert "v2 was reverted: its container" in text(screen, "#deploy-error")
        table = screen.query_one("#stages", DataTable)
        assert "failed" in str(table.get_cell("release", "state"))
        assert app.is_running and get(port) == "hello v1"
        assert history.live(history.load(root / ".pilot", "hello")).id == "v1"
