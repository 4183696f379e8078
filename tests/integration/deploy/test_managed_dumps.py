"""Pilot's own dumps of a database on RDS (`on = "rds"`), through the real CLI and a real
PostgreSQL on the tests' private dockerd.

**A stand-in, said plainly:** moto records RDS instances but runs no PostgreSQL, so nothing
real answers at an instance's address here. The "RDS instance" is therefore a real
PostgreSQL 15 container (Debian's, TLS on with the image's snakeoil certificate, master user
`pilot` and database `postgres` as RDS makes them), and the server's outputs (what
`server up` records: tests/integration/server/test_rds.py applies the real template) are
written to give its address. Everything Pilot does from there is real: the client container
on the Docker host, TLS, pg_dump streamed into the store, the drill on the Docker host, and
the restore into a new database there.
"""

from __future__ import annotations

import json
import time

import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.data import managed_client, passwords
from pilot_tui.data.stores import LocalStore
from pilot_tui.provision.outputs import OUTPUTS_FILE
from pilot_tui.runner import pid_alive, stop_pid

DATABASE = """
[[databases]]
name = "main"
on = "rds"
version = 15
backup = { keep = 2 }
"""
PASSWORD = "rds-master-Secret-4a7f9e"
SEED = """
create table items (id serial primary key, name text not null);
insert into items (name) select 'item ' || g from generate_series(1, 1200) g;
create schema billing;
create table billing.invoices (n int);
insert into billing.invoices select g from generate_series(1, 34) g;
create role reporting nologin;
grant select on items to reporting;
"""
SNAKEOIL = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key")


@pytest.fixture
def rds_stand_in(docker_client, data_image):
    """A real PostgreSQL serving TLS, as an RDS instance does; (container, its address)."""
    container = docker_client.containers.run(
        data_image,
        command=[
            "postgres",
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={SNAKEOIL[0]}",
            "-c",
            f"ssl_key_file={SNAKEOIL[1]}",
        ],
        environment={
            "POSTGRES_USER": "pilot",
            "POSTGRES_PASSWORD": PASSWORD,
            "POSTGRES_DB": "postgres",
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        },
        name="rds-stand-in",
        labels={"pilot.test": "rds-stand-in"},
        detach=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = container.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", "pilot"])
            if ready.exit_code == 0:
                break
            assert time.monotonic() < deadline, ready.output
            time.sleep(0.2)
        seeded = container.exec_run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-U", "pilot", "-d", "postgres", "-c", SEED]
        )
        assert seeded.exit_code == 0, seeded.output
        container.reload()
        yield container, container.attrs["NetworkSettings"]["IPAddress"]
    finally:
        container.remove(force=True)


@pytest.fixture
def rds_project(tmp_path, cli, docker_engine, data_image, rds_stand_in, monkeypatch):
    """A sandbox project with database "main" on RDS, whose last apply (as recorded) made it
    at the stand-in's address; its password is in .pilot/databases/ as `server up` keeps it."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(pf.text + DATABASE)
    state_dir = tmp_path / ".pilot"
    _, address = rds_stand_in
    (state_dir / "outputs").mkdir(parents=True, exist_ok=True)
    made = {"main": {"address": address, "port": 5432, "identifier": "pilot-acme-main"}}
    record = {"home": "sandbox", "outputs": {"databases": made}}
    (state_dir / "outputs" / OUTPUTS_FILE).write_text(json.dumps(record))
    passwords.keep(state_dir, "main", PASSWORD)
    yield tmp_path
    import docker

    from pilot_tui.cloud.sandbox import Sandbox

    client = docker.DockerClient(base_url=docker_engine.url)
    for container in client.containers.list(all=True, filters={"label": "pilot.project=acme"}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": "pilot.project=acme"}):
        volume.remove(force=True)
    client.close()
    for emulator in Sandbox(state_dir).load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


def _leaks(done) -> bool:
    return PASSWORD in done.out or PASSWORD in done.err


def _clients(docker_client) -> list[str]:
    found = docker_client.containers.list(
        all=True, filters={"label": f"pilot.role={managed_client.CLIENT_ROLE}"}
    )
    return [str(c.name) for c in found]


def test_an_rds_database_is_dumped_over_tls_drilled_and_restored_beside_it(
    rds_project, cli, docker_client, rds_stand_in
):
    root = rds_project
    stand_in, address = rds_stand_in

    # psql from the Docker host, over TLS, as the master user: no port opened on the laptop.
    mine = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
    tls = cli("db", "psql", "main", "-c", mine)
    assert tls.code == 0, tls.err
    assert tls.out.splitlines()[2].strip() == "t"
    assert not _leaks(tls)

    taken = cli("db", "backup", "main", "--json")
    assert taken.code == 0, taken.err
    record = json.loads(taken.out)
    assert record["tables"] == {"billing.invoices": 34, "public.items": 1200}
    assert record["kind"] == "postgres" and record["version"] == 15
    assert "reporting" in record["roles"] and PASSWORD not in record["roles"]
    assert record["where"].startswith(str(root / ".pilot" / "backups" / "main"))
    assert not _leaks(taken)
    assert _clients(docker_client) == []  # the client container went with the command
    dump = LocalStore(root / ".pilot" / "backups").read(record["key"])
    assert dump is not None and dump.startswith(b"PGDMP") and PASSWORD.encode() not in dump

    # The list and the status show Pilot's dump beside RDS's own backups.
    (row,) = json.loads(cli("db", "list", "--json").out)
    assert row["last_backup"]["id"] == record["id"] and row["on"] == "rds"
    status = cli("db", "status", "main")
    assert status.code == 0, status.err
    assert f"Pilot's dump {record['id']}" in status.out

    drilled = cli("db", "drill", "main", "--json")
    assert drilled.code == 0, drilled.err
    assert json.loads(drilled.out)["ok"] is True
    assert "1234 rows" in json.loads(drilled.out)["detail"]

    # Restoring over the service's database is not Pilot's to do; into a new one it is.
    over = cli("db", "restore", "main", "--confirm", "main")
    assert over.code == 2 and "--to NEW" in over.err
    copied = cli("db", "restore", "main", "--to", "copy")
    assert copied.code == 0, copied.err
    counted = cli("db", "psql", "copy", "-c", "select count(*) from items")
    assert counted.code == 0, counted.err
    assert counted.out.splitlines()[2].strip() == "1200"
    # The live database was only read.
    live = stand_in.exec_run(["psql", "-At", "-U", "pilot", "-d", "postgres", "-c", "select 1"])
    assert live.exit_code == 0

    # Retention: keep = 2 dumps.
    ids = [record["id"]]
    for _ in range(2):
        time.sleep(1.1)  # IDs are to the second
        more = cli("db", "backup", "main", "--json")
        assert more.code == 0, more.err
        ids.append(json.loads(more.out)["id"])
    assert json.loads(more.out)["pruned"] == [ids[0]]

    # Nothing answers: said with the address, nothing stored, no client left behind.
    stand_in.stop(timeout=5)
    failed = cli("db", "backup", "main")
    assert failed.code == 1
    assert f"cannot reach RDS database main (postgres 15) at {address}:5432" in failed.err
    assert "simulated" in failed.err  # the sandbox's RDS runs nothing
    kept = json.loads(cli("db", "backups", "main", "--json").out)["backups"]
    assert [b["id"] for b in kept] == ids[1:]
    assert _clients(docker_client) == []


def test_the_client_container_holds_no_password(rds_project, cli, docker_client):
    from pilot_tui.config.validate import check_file

    root = rds_project
    config = check_file(root / "pilot.toml").config
    assert config is not None
    kind = managed_client.kind_of(config, config.databases[0], root / ".pilot")
    assert isinstance(kind, managed_client.ManagedPostgres)
    with managed_client.client_container(docker_client, kind, lambda _line: None) as container:
        container.reload()
        settings = json.dumps(container.attrs["Config"])
        assert PASSWORD not in settings  # only in each command's environment
        assert container.attrs["HostConfig"]["PortBindings"] in ({}, None)
        # Another run meanwhile (a teammate's psql, the agent's dump) has a container of
        # its own, and leaves this one running.
        other = cli("db", "psql", "main", "-c", "select 1")
        assert other.code == 0, other.err
        container.reload()
        assert container.status == "running"
    assert _clients(docker_client) == []


async def test_the_data_screen_dumps_and_drills_an_rds_database_and_refuses_restoring_over_it(
    rds_project,
):
    """The app's Data screen (App.run_test) on the stand-in: b takes Pilot's dump, t drills
    it, r is refused with what to do instead."""
    from textual.widgets import DataTable, Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.data import DataScreen
    from tests.integration.deploy.test_tui_deploy import until

    def shown(screen, selector: str) -> str:
        return str(screen.query_one(selector, Static).render())

    app = create_app(str(rds_project / "pilot.toml"))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen)
        table = screen.query_one("#db-list", DataTable)
        assert await until(pilot, lambda: table.row_count == 1)
        assert str(table.get_row("main")[4]) == "never"  # drills are offered for it

        await pilot.press("b")
        assert await until(pilot, lambda: "backup 2" in shown(screen, "#data-result"))
        assert await until(pilot, lambda: "Pilot's dump" in str(table.get_row("main")[3]))
        assert "1,234 rows (1 kept)" in str(table.get_row("main")[3])

        await pilot.press("t")
        assert await until(pilot, lambda: "drill passed" in shown(screen, "#data-result"))
        assert await until(pilot, lambda: str(table.get_row("main")[4]).startswith("passed"))

        await pilot.press("r")
        assert await until(
            pilot,
            lambda: any(
                "restore it with RDS's point-in-time recovery" in str(n.message)
                and "--to NEW" in str(n.message)
                for n in app._notifications
            ),
        )
        assert isinstance(app.screen, DataScreen)  # no confirmation was asked for


def test_the_backup_agent_dumps_an_rds_database_on_its_schedule_without_this_machine(
    rds_project, cli, docker_client, python_base, monkeypatch
):
    """backup.dumps: the agent on the Docker host makes the client container itself and
    dumps into the store; `db backup --on-server` runs exactly that path now."""
    monkeypatch.setenv("PILOT_PYTHON_BASE", python_base)
    root = rds_project
    off = cli("db", "backup", "main", "--on-server")
    assert off.code == 2 and 'has backup.dumps = "off"' in off.err
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("databases.main.backup.dumps", "hourly"))

    scheduled = cli("db", "schedule", "--json")
    assert scheduled.code == 0, scheduled.err
    (row,) = json.loads(scheduled.out)["databases"]
    assert (row["database"], row["schedule"], row["keep"]) == ("main", "hourly", 2)
    assert not _leaks(scheduled)

    taken = cli("db", "backup", "main", "--on-server", "--json")
    assert taken.code == 0, taken.err
    record = json.loads(taken.out)
    assert record["by"] == "agent"
    assert record["tables"] == {"billing.invoices": 34, "public.items": 1200}
    assert _clients(docker_client) == []  # the agent removed its client container
    (listed,) = json.loads(cli("db", "list", "--json").out)
    assert listed["last_scheduled"]["ok"] is True
    assert listed["last_scheduled"]["detail"].startswith(f"backup {record['id']}")
    status = cli("db", "status", "main")
    assert status.code == 0, status.err
    assert "schedule: daily · by RDS; Pilot's dumps hourly · ran 20" in status.out

    drilled = cli("db", "drill", "main", record["id"], "--json")
    assert drilled.code == 0 and json.loads(drilled.out)["ok"] is True, drilled.err
