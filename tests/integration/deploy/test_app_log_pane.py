"""Issue 11 item 17, the app's log pane (App.run_test, the private dockerd): it says when it
holds only the newest of the lines it followed, and when the app had logged more than the
pane fetched on opening, instead of cutting silently. The limits are made small here."""

from __future__ import annotations

from textual.widgets import Static

from pilot_tui.screens import app_logs
from pilot_tui.screens.app import create_app
from pilot_tui.screens.app_logs import AppLogsScreen
from pilot_tui.screens.colorlog import ColorLog
from tests.integration.deploy.test_tui_deploy import until
from tests.support.deploy_fixtures import get


async def test_the_app_log_pane_says_what_it_leaves_out(site, cli, monkeypatch):
    root, port = site
    assert cli("deploy", "hello").code == 0
    for _ in range(4):
        get(port)  # busybox httpd logs each request: more lines than the pane fetches
    monkeypatch.setattr(app_logs, "FIRST_FETCH", 3)
    monkeypatch.setattr(app_logs, "LOG_LINES", 2)
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(AppLogsScreen(root / "pilot.toml", "hello"))
        await pilot.pause()
        pane = app.screen
        assert isinstance(pane, AppLogsScreen)

        def state() -> str:
            return str(pane.query_one("#app-logs-state", Static).render())

        assert await until(pilot, lambda: "checked" in state())
        assert "older lines: pilot-tui logs hello --tail N" in state(), state()
        assert "showing the last 2 of 3 lines" in state(), state()
        assert len(pane.query_one("#app-logs-log", ColorLog).lines) == 2
