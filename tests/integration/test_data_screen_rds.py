"""The Data screen (App.run_test) with a database on RDS: listed from the server's last
apply without a Docker host, its backups said to be RDS's own, and the keys that act on
databases on the Docker host refused with the reason, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.integration.deploy.test_tui_deploy import until

pytestmark = pytest.mark.tui


async def test_an_rds_database_is_listed_and_its_backup_key_says_why_not(cli, tmp_path):
    from textual.widgets import DataTable

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.data import DataScreen

    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "main"\non = "rds"\n')
    # What `server up` records (tests/integration/server/test_rds.py makes it for real).
    address = "pilot-acme-main.aaaaaaaaaa.us-east-1.rds.amazonaws.com"
    outputs = tmp_path / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    record = {"databases": {"main": {"address": address, "port": 5432}}}
    (outputs / "server.json").write_text(json.dumps({"home": "sandbox", "outputs": record}))

    app = create_app(str(toml))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen)
        table = screen.query_one("#db-list", DataTable)
        assert await until(pilot, lambda: table.row_count == 1)
        row = [str(c) for c in table.get_row("main")]
        assert row[:4] == [
            "main",
            "postgres 16",
            f"on RDS at {address}",
            "by RDS each day, kept 14 days",
        ]
        assert row[5] == "daily · by RDS"
        # Pilot's dumps of it are offered (b, t: test_managed_dumps.py runs them against a
        # real PostgreSQL); a restore over it is not, and is refused before any question.
        assert str(table.get_row("main")[4]) == "never"
        await pilot.press("r")
        assert await until(
            pilot,
            lambda: any(
                "main is on RDS: restore it with RDS's point-in-time recovery" in str(n.message)
                for n in app._notifications
            ),
        )
        assert isinstance(app.screen, DataScreen)


async def test_keys_say_the_databases_could_not_be_read_not_that_there_are_none(
    cli, tmp_path, monkeypatch
):
    """A database on a Docker host that does not answer: the listing fails (a panel says
    why), and b, t and r say the databases could not be read. Before, they said "No
    databases yet: add a [[databases]] table", with one in pilot.toml."""
    from textual.widgets import DataTable, Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.data import DataScreen

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "main"\nversion = 15\n')
    app = create_app(str(toml))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen)
        result = screen.query_one("#data-result", Static)
        assert await until(pilot, lambda: "Cannot read the databases" in str(result.render()))
        assert screen.query_one("#db-list", DataTable).row_count == 0
        for key in ("b", "t", "r"):
            app.clear_notifications()
            await pilot.press(key)
            assert await until(
                pilot,
                lambda: any(
                    "The databases could not be read" in str(n.message) for n in app._notifications
                ),
            )
            assert not any("No databases yet" in str(n.message) for n in app._notifications)
        assert isinstance(app.screen, DataScreen)
