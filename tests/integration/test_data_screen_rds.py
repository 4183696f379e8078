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


def _a_backup_in_the_local_store(root, database: str = "main") -> str:
    """A backup record of ``database`` in .pilot/backups (the sandbox's local store), as
    `db backup` leaves it; no Docker host is needed to read it back."""
    from pilot_tui.data.backups import BackupRecord
    from pilot_tui.data.stores import LocalStore

    record = BackupRecord(
        id="20261203T101500Z",
        database=database,
        kind="postgres",
        version=15,
        format="pg_dump -Fc",
        key=f"{database}/20261203T101500Z.dump",
        created="2026-12-03T10:15:00+00:00",
        size=2_500_000,
        sha256="0" * 64,
        seconds=0.5,
        tables={"public.items": 1200},
    )
    store = LocalStore(root / ".pilot" / "backups")
    store.write(record.key, b"dump")
    store.write(f"{database}/{record.id}.json", record.to_json())
    return record.id


async def test_a_host_that_does_not_answer_leaves_the_databases_listed_with_their_backups(
    cli, tmp_path, monkeypatch
):
    """A database on a Docker host that does not answer. Before, the listing failed ("Cannot
    read the databases"), hiding the backups the store still holds just when the host is
    down. Now the row is listed, its state unknown, its backups read from the store; a panel
    says the host cannot be reached and why; b, t and r say they need the host."""
    from textual.widgets import DataTable, Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.data import DataScreen

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "main"\nversion = 15\n')
    backup = _a_backup_in_the_local_store(tmp_path)
    app = create_app(str(toml))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen)
        table = screen.query_one("#db-list", DataTable)
        assert await until(pilot, lambda: table.row_count == 1)
        row = [str(c) for c in table.get_row("main")]
        assert row[2] == "unknown (the Docker host cannot be reached)", row
        assert row[3].startswith(f"{backup} · 2.5 MB · 1,200 rows (1 kept)"), row
        panel = screen.error_panel
        assert await until(pilot, lambda: not panel.has_class("hidden"))
        pinned = str(panel.render())
        assert pinned.startswith("The Docker host cannot be reached"), pinned
        assert "The state of main is unknown; backing up, drilling and restoring" in pinned
        assert "no engine answers at unix://" in pinned  # why, from the opening
        assert pinned.count("from the store") == 1, pinned  # said once (found walking)
        result = str(screen.query_one("#data-result", Static).render())
        assert result.startswith("Start the Docker host"), result  # not "b, t or r acts"
        for key in ("b", "t", "r"):
            app.clear_notifications()
            await pilot.press(key)
            assert await until(
                pilot,
                lambda: any(
                    "main is on the Docker host, and the Docker host cannot be reached"
                    in str(n.message)
                    for n in app._notifications
                ),
            ), key
        assert isinstance(app.screen, DataScreen)


def test_db_list_and_status_list_the_backups_and_fail_when_the_host_does_not_answer(
    cli, tmp_path, monkeypatch
):
    """`db list` with Docker down failed outright, as `status` once did; now it lists each
    database on the host as unknown with its backups, warns why, and exits 1."""
    import json

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "main"\nversion = 15\n')
    backup = _a_backup_in_the_local_store(tmp_path)
    shown = cli("db", "list")
    assert shown.code == 1, shown.err
    assert "no engine answers at unix://" in shown.err
    assert "the databases on it could not be asked" in shown.err
    first, second = shown.out.splitlines()[:2]
    assert "unknown (the Docker host cannot be reached)" in first, shown.out
    assert f"last backup: {backup} · 2.5 MB" in second, shown.out
    as_json = cli("db", "list", "--json")
    assert as_json.code == 1
    (row,) = json.loads(as_json.out)
    assert row["unreachable"] == "the Docker host cannot be reached"
    assert row["backups"] == 1 and row["last_backup"]["id"] == backup
    assert row["agent_running"] is None
    # `db status` too: it failed with the host's error alone, its backups not said
    status = cli("db", "status", "main")
    assert status.code == 1, status.err
    assert "no engine answers at unix://" in status.err and "main's health is unknown" in status.err
    assert status.out.startswith("main: postgres 15, unknown (the Docker host cannot be reached)")
    assert f"last backup: {backup} · 2.5 MB" in status.out, status.out
    as_json = cli("db", "status", "main", "--json")
    assert as_json.code == 1
    assert json.loads(as_json.out)["health"] == "unknown (the Docker host cannot be reached)"
