"""Issue 11 item 33: the app-log pane said "its container on the Pilot Server" for apps on
this machine's Docker (the sandbox) or a host of the team's (`home = "host"`)."""

from __future__ import annotations

from textual.widgets import Static

from pilot_tui.config.document import ProjectFile
from pilot_tui.config.starter import starter_text
from pilot_tui.deploy.app_logs import source_name
from pilot_tui.screens.app import create_app
from pilot_tui.screens.app_logs import AppLogsScreen
from tests.integration.deploy.test_tui_deploy import until


def test_where_an_apps_logs_come_from(tmp_path):
    path = tmp_path / "pilot.toml"
    expected = {
        "sandbox": "its container on this machine's Docker",
        "host": "its container on the Docker host",
        "aws": "its container on the Pilot Server",
    }
    for home, words in expected.items():
        text = starter_text("acme") + (
            '\n[[apps]]\nname = "web"\npath = "."\ntarget = { kind = "server" }\n'
            '\n[[apps]]\nname = "fn"\npath = "."\ntarget = { kind = "lambda" }\n'
        )
        pf = ProjectFile(path, text)
        text = pf.with_value("server.home", home)
        if home == "host":
            text = ProjectFile(path, text).with_value("server.host", "unix:///run/docker.sock")
        config = ProjectFile(path, text).check(text).config
        assert config is not None, home
        assert source_name(config, config.app("web")) == words
        assert source_name(config, config.app("fn")) == "CloudWatch Logs"


async def test_the_log_pane_names_the_docker_host(site, cli):
    root, _port = site
    assert cli("deploy", "hello").code == 0
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", "l")
        assert isinstance(app.screen, AppLogsScreen)
        state = app.screen.query_one("#app-logs-state", Static)
        assert await until(pilot, lambda: "Following" in str(state.render()), seconds=30)
        assert "its container on the Docker host" in str(state.render())
        assert "Pilot Server" not in str(state.render())
