"""Backups, drills and restores of a real PostgreSQL 15 (Debian's, in the image
tests/support/databases.py builds) on the tests' private dockerd, through the CLI:

- backup -> rows deleted -> restore: row counts and a table's checksum equal the backup's,
  and the app linked to the database answers, through the edge, with the restored data;
- a damaged backup makes `drill` fail and `restore` refuse, the live database untouched;
- retention (`backup.keep`) deletes the oldest, in .pilot/backups and in moto's S3 (every
  object version: the state bucket is versioned), and S3 objects are encrypted;
- the GCS store (the GCS emulator) takes and drills a backup.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import threading

import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.data import backups, docker_db, execs, restore
from pilot_tui.data.kinds import kind_for
from pilot_tui.data.stores import GcsStore, LocalStore
from pilot_tui.deploy import history
from pilot_tui.deploy.engine import Deployer
from pilot_tui.deploy.events import StageStarted
from pilot_tui.deploy.session import open_deployer
from tests.polling import wait_until
from tests.support.databases import add_reader_app, ask_app, project_name

DATABASE = '\n[[databases]]\nname = "main"\nversion = 15\napps = ["api"]\n'

# 2,000 rows over two tables, and the greeting the app answers with.
SEED = """
create table items (id serial primary key, name text not null, price numeric);
insert into items (name, price) select 'item ' || g, g * 1.5 from generate_series(1, 1500) g;
create table hello (greeting text);
insert into hello values ('before the backup');
create schema audit;
create table audit.events (at timestamptz default now(), what text);
insert into audit.events (what) select 'event ' || g from generate_series(1, 499) g;
create role reader nologin;
grant usage on schema audit to reader;
grant select on items, audit.events to reader;
"""
CHECKSUM = "select md5(string_agg(i::text, ',' order by id)) from items i"


def _sql(cli, sql: str) -> str:
    done = cli("db", "psql", "main", "-c", sql)
    assert done.code == 0, done.err
    return done.out


def _scalar(cli, sql: str) -> str:
    out = _sql(cli, sql).splitlines()
    return out[2].strip()  # psql's table: header, rule, the value


def test_backup_then_restore_brings_back_rows_checksum_and_the_apps_answer(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, port, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASE)
    assert cli("deploy", "api").code == 0
    _sql(cli, SEED)
    checksum = _scalar(cli, CHECKSUM)
    assert ask_app(port) == "before the backup"

    taken = cli("db", "backup", "main", "--json")
    assert taken.code == 0, taken.err
    record = json.loads(taken.out)
    assert record["tables"] == {"audit.events": 499, "public.hello": 1, "public.items": 1500}
    assert record["format"] == "pg_dump -Fc" and record["size"] > 10_000
    assert record["database_bytes"] > record["size"]
    assert "CREATE ROLE reader" in record["roles"] and "PASSWORD" not in record["roles"]
    dump = root / ".pilot" / "backups" / record["key"]
    assert dump.is_file() and dump.stat().st_size == record["size"]
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(dump.parent.stat().st_mode) == 0o700
    password = (root / ".pilot" / "databases" / "main.password").read_text().strip()
    assert password not in taken.out + taken.err + dump.read_bytes().decode("latin-1")

    # Writes after the backup: the restore undoes them.
    _sql(cli, "delete from items where id > 10; update hello set greeting = 'after the backup'")
    assert ask_app(port) == "after the backup"

    drilled = cli("db", "drill", "main")
    assert drilled.code == 0, drilled.err
    assert "drill passed" in drilled.out and "2000 rows" in drilled.out
    listed = json.loads(cli("db", "backups", "main", "--json").out)
    assert [b["id"] for b in listed["backups"]] == [record["id"]]
    assert listed["last_good_drill"]["backup"] == record["id"]
    project = project_name(root)
    leftovers = {"label": f"pilot.project={project}"}
    names = {v.name for v in docker_client.volumes.list(filters=leftovers)}
    # The drill's volume is gone; the empty cluster the next ones start from stays.
    template = f"pilot-dbtemplate-{project}-main"
    assert names == {f"pilot-db-{project}-main", template}
    assert "making an empty postgres 15 database main" in drilled.err

    old = docker_client.containers.get(f"pilot-db-{project}-main")
    refused = cli("db", "restore", "main")  # no terminal, no --confirm: nothing done
    assert refused.code == 2 and "--confirm main" in refused.err
    restored = cli("db", "restore", "main", "--confirm", "main")
    assert restored.code == 0, restored.err
    assert "relaunch of" in restored.err
    assert ask_app(port) == "before the backup"
    assert _scalar(cli, "select count(*) from items") == "1500"
    assert _scalar(cli, CHECKSUM) == checksum
    new = docker_client.containers.get(f"pilot-db-{project}-main-g2")
    assert new.status == "running" and list(new.attrs["NetworkSettings"]["Networks"]) == ["pilot"]
    (app,) = docker_client.containers.list(filters={"label": "pilot.app=api"})
    env = dict(e.split("=", 1) for e in app.attrs["Config"]["Env"])
    assert env["DATABASE_URL"] == f"postgres://main:{password}@{new.name}:5432/main"
    # The container of before is gone; its data is kept, with the writes after the backup.
    assert old.id not in {c.id for c in docker_client.containers.list(all=True)}
    # The restore started from that template, its password made the database's (the app
    # reads with it below).
    assert f"started from the empty cluster in volume {template}" in restored.err
    assert "making an empty" not in restored.err
    names = {v.name for v in docker_client.volumes.list(filters=leftovers)}
    assert names == {f"pilot-db-{project}-main", f"pilot-db-{project}-main-g2", template}
    assert f"kept in volume pilot-db-{project}-main" in restored.err
    state = json.loads(cli("db", "list", "--json").out)[0]
    assert (state["state"], state["container"]) == ("running", new.name)
    history = json.loads(cli("releases", "api", "--json").out)
    assert history[-1]["note"].startswith("relaunch of v1"), history

    # A damaged backup: drill fails, restore refuses, the live database is untouched.
    second = json.loads(cli("db", "backup", "main", "--json").out)
    damaged = root / ".pilot" / "backups" / second["key"]
    damaged.write_bytes(damaged.read_bytes()[: second["size"] // 2])
    failed = cli("db", "drill", "main")
    assert failed.code == 1 and "damaged" in failed.err, failed.err
    listed = json.loads(cli("db", "backups", "main", "--json").out)
    assert listed["last_drill"]["ok"] is False
    assert listed["last_good_drill"]["backup"] == record["id"]
    refused = cli("db", "restore", "main", "--confirm", "main")
    assert refused.code == 1, refused.err
    assert docker_client.containers.get(new.name).id == new.id
    assert ask_app(port) == "before the backup"
    names = {v.name for v in docker_client.volumes.list(filters=leftovers)}
    assert len(names) == 3, names  # the failed restore's volume is gone

    # --to NEW: the first backup in a new database beside main, which is not touched.
    copied = cli("db", "restore", "main", record["id"], "--to", "copy")
    assert copied.code == 0, copied.err
    assert "as recorded" in copied.err and "main was not touched" in copied.err
    copy = docker_client.containers.get(f"pilot-db-{project}-copy")
    assert copy.status == "running" and list(copy.attrs["NetworkSettings"]["Networks"]) == ["pilot"]
    assert not copy.attrs["HostConfig"]["PortBindings"]
    query = ["psql", "-X", "-At", "-U", "copy", "-d", "copy", "-c"]
    assert copy.exec_run([*query, "select count(*) from items"]).output.strip() == b"1500"
    assert copy.exec_run([*query, CHECKSUM]).output.decode().strip() == checksum
    assert docker_client.containers.get(new.name).id == new.id
    assert ask_app(port) == "before the backup"
    added = ProjectFile.load(toml).check().config
    assert added is not None and (copied_db := added.database("copy")) is not None
    assert (copied_db.apps, copied_db.backup.schedule, copied_db.version) == ([], "off", 15)
    copy_password = root / ".pilot" / "databases" / "copy.password"
    assert stat.S_IMODE(copy_password.stat().st_mode) == 0o600
    assert copy_password.read_text().strip() not in copied.out + copied.err
    again = cli("db", "restore", "main", "--to", "copy")
    assert again.code == 2 and "defined twice" in again.err, again.err
    damaged_copy = cli("db", "restore", "main", second["id"], "--to", "copy2")
    assert damaged_copy.code == 1 and "damaged" in damaged_copy.err, damaged_copy.err
    assert not docker_client.containers.list(all=True, filters={"name": f"{project}-copy2"})
    assert f"pilot-db-{project}-copy2" not in {v.name for v in docker_client.volumes.list()}
    assert "copy2" not in toml.read_text()
    dropped = cli("db", "destroy", "copy", "--confirm", "copy", "--no-final-backup")
    assert dropped.code == 0, dropped.err

    # Retention: keep = 2 keeps the two newest.
    pf = ProjectFile.load(toml)
    pf.save(pf.with_value("databases.main.backup.keep", 2))
    third = cli("db", "backup", "main", "--json")
    assert third.code == 0, third.err
    assert json.loads(third.out)["pruned"] == [record["id"]]
    files = sorted(p.name for p in (root / ".pilot" / "backups" / "main").iterdir())
    third_id = json.loads(third.out)["id"]
    kept = [f"{i}.{ext}" for i in (second["id"], third_id) for ext in ("dump", "json")]
    assert files == sorted([*kept, "drills.json"])

    # destroy takes a final backup, then removes every generation's data; a database that
    # is not running cannot be backed up, so nothing is removed without --no-final-backup.
    new.stop()
    stopped = cli("db", "destroy", "main", "--confirm", "main")
    assert stopped.code == 1 and "--no-final-backup" in stopped.err, stopped.err
    assert len(docker_client.volumes.list(filters=leftovers)) == 3
    new.start()
    gone = cli("db", "destroy", "main", "--confirm", "main")
    assert gone.code == 0, gone.err
    assert "final backup" in gone.err
    assert f"volume {template}" in gone.err
    assert not docker_client.volumes.list(filters=leftovers)
    final = json.loads(cli("db", "backups", "main", "--json").out)["backups"][-1]
    assert final["tables"]["public.items"] == 1500 and final["id"] != third_id


def _running_database(root, docker_client, state_dir):
    """The first database of the project at ``root`` started, as a deploy starts it."""
    from pilot_tui.config.validate import check_file

    config = check_file(root / "pilot.toml").config
    assert config is not None
    kind = kind_for(config.project.name, config.databases[0])
    docker_db.ensure(docker_client, kind, state_dir, lambda _line: None)
    return kind


def test_two_backups_started_in_one_second_are_two_whole_backups(
    engine_project, docker_client, data_image, monkeypatch
):
    """The agent's scheduled run and `db backup --on-server` both at 22:32:00 once took
    one ID: the second's rename found no .partial (on S3 or GCS, one dump would have
    been written over the other, under two records)."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, _ = engine_project
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASE.replace('apps = ["api"]\n', ""))
    kind = _running_database(root, docker_client, root / ".pilot")
    store = LocalStore(root / ".pilot" / "backups")
    start = threading.Barrier(2)
    taken: list[backups.BackupRecord] = []
    failed: list[BaseException] = []

    def take() -> None:
        start.wait()
        try:
            record, _ = backups.take(
                docker_client, kind, store, keep=5, say=lambda _line: None, now=1_796_000_000
            )
            taken.append(record)
        except BaseException as exc:  # said below
            failed.append(exc)

    takers = [threading.Thread(target=take) for _ in range(2)]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join(timeout=120)
    assert not failed, failed
    assert sorted(record.id for record in taken) == ["20261130T005320Z", "20261130T005320Z-2"]
    for record in backups.records(store, "main"):
        assert b"".join(backups.verified_chunks(store, record))  # whole: size and sha256
    assert sorted(store.keys("main")) == sorted(
        f"main/{record.id}.{extension}" for record in taken for extension in ("dump", "json")
    )  # no claim left behind


def test_a_cancel_that_keeps_a_relaunch_live_leaves_the_next_apps_on_the_old_data(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    """Regression (issue 15): a restore relaunches each linked app. A Ctrl+C (or the app's
    Cancel) while one relaunch switches keeps that release live; the restore then went on
    to the next app, whose relaunch failed as cancelled and was recorded as such. Now the
    rest are not begun, said so, and the data from before keeps running for them."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, port, add = engine_project
    add_reader_app(root, add, data_image)
    add(
        {
            "name": "other",
            "path": "api",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "port": 8000, "health_path": "/healthz"},
        }
    )
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASE.replace('["api"]', '["api", "other"]'))
    assert cli("deploy", "api").code == 0 and cli("deploy", "other").code == 0
    _sql(cli, SEED)
    assert cli("db", "backup", "main").code == 0
    state = root / ".pilot"
    before = history.load(state, "other")
    pf = ProjectFile.load(toml)
    config = pf.check().config
    assert config is not None
    kind = kind_for(config.project.name, config.databases[0])
    engines: list[Deployer] = []

    def cancel_as_api_switches(event: object) -> None:
        if isinstance(event, StageStarted) and (event.app, event.stage) == ("api", "release"):
            engines[0].cancel.set()  # the app's Cancel, as the proxy switches to it

    with open_deployer(pf.path, config, cancel_as_api_switches, share=False) as engine:
        engines.append(engine)
        said: list[str] = []
        store = LocalStore(state / "backups")
        done = restore.restore_and_move(engine, kind, store, None, said.append)
    assert done.moved == ["api"]
    assert done.stuck == {"other": "not redeployed: interrupted"}
    assert ask_app(port) == "before the backup"  # api on the restored data
    assert history.load(state, "other") == before  # nothing begun, nothing recorded
    assert not any("redeploying other" in line for line in said)
    previous = done.restored.previous
    assert previous is not None
    previous.reload()
    assert previous.status == "running"  # still other's database


def test_backups_in_the_s3_state_bucket_are_encrypted_pruned_and_drilled(
    engine_project, cli, docker_client, data_image, moto, monkeypatch
):
    import boto3

    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, _ = engine_project
    toml = root / "pilot.toml"
    pf = ProjectFile.load(toml)
    pf.save(pf.with_value("state.backend", "s3"))
    toml.write_text(toml.read_text() + DATABASE.replace('apps = ["api"]\n', "backup.keep = 2\n"))
    kind = _running_database(root, docker_client, root / ".pilot")
    _sql(cli, SEED)

    # A command fed its input that fails with output: its exit status and its words come
    # back (the output was decoded with "replace" as its encoding: a LookupError).
    db = docker_client.containers.get(kind.container)
    script = "head -c 5 >/dev/null; echo 'could not restore: é' >&2; exit 3"
    ended = execs.feed_in(docker_client, db, ["sh", "-c", script], {}, [b"hello"])
    assert (ended.exit_code, ended.output.strip()) == (3, "could not restore: é")

    ids = []
    for _ in range(3):
        taken = cli("db", "backup", "main", "--json")
        assert taken.code == 0, taken.err
        ids.append(json.loads(taken.out)["id"])
    assert json.loads(taken.out)["pruned"] == [ids[0]]
    assert json.loads(taken.out)["where"].startswith("s3://")

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = json.loads(taken.out)["where"].split("/")[2]
    versions = s3.list_object_versions(Bucket=bucket, Prefix="backups/main/")
    keys = sorted({v["Key"] for v in versions.get("Versions", [])})
    assert keys == sorted(f"backups/main/{i}.{ext}" for i in ids[1:] for ext in ("dump", "json"))
    assert not versions.get("DeleteMarkers")  # pruned for good, not hidden
    head = s3.head_object(Bucket=bucket, Key=f"backups/main/{ids[2]}.dump")
    assert head["ServerSideEncryption"] == "AES256"

    drilled = cli("db", "drill", "main", "--json")
    assert drilled.code == 0, drilled.err
    assert json.loads(drilled.out)["ok"] is True

    # A destroy that removes the state bucket would take the backups with it: both faces
    # ask this first (the CLI then wants --drop-backups or --keep-state; the app refuses).
    from pilot_tui.config.validate import check_file
    from pilot_tui.teardown import Inventory, Teardown, Thing, backups_held

    config = check_file(toml).config
    assert config is not None
    teardown = Teardown(config, root, None)  # type: ignore[arg-type]  # (no scan: not used)
    goes = Inventory([Thing("state bucket", bucket, "[state] in pilot.toml")], [])
    assert backups_held(teardown, goes) == ["main"]
    assert backups_held(teardown, Inventory([], [Thing("state bucket", bucket, "kept")])) == []

    # A truncated dump in the bucket: the drill fails and says so.
    body = s3.get_object(Bucket=bucket, Key=f"backups/main/{ids[2]}.dump")["Body"].read()
    s3.put_object(Bucket=bucket, Key=f"backups/main/{ids[2]}.dump", Body=body[:-100])
    failed = cli("db", "drill", "main", "--json")
    assert failed.code == 1
    result = json.loads(failed.out)
    assert result["ok"] is False and "damaged" in result["detail"], result


def test_a_backup_in_gcs_drills(engine_project, docker_client, data_image, monkeypatch, tmp_path):
    """The GCS store against the GCS emulator: the same functions the CLI calls, with the
    emulator's client (a sandbox project's GCS needs the Google provider's fakes)."""
    from pilot_tui.cloud.clients import emulator_gcs
    from pilot_tui.cloud.sandbox import Sandbox

    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, _ = engine_project
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASE.replace('apps = ["api"]\n', ""))
    sandbox = Sandbox(tmp_path / "gcs-state")
    running, _ = sandbox.ensure()
    try:
        client = emulator_gcs(running["gcs"].url)
        client.create_bucket("pilot-backups-test")
        store = GcsStore(client, "pilot-backups-test")
        kind = _running_database(root, docker_client, root / ".pilot")
        seeded = docker_client.containers.get(kind.container).exec_run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-U", "main", "-d", "main", "-c", SEED]
        )
        assert seeded.exit_code == 0, seeded.output
        lines: list[str] = []
        record, pruned = backups.take(docker_client, kind, store, keep=5, say=lines.append)
        assert pruned == [] and record.rows == 2000
        blob = client.bucket("pilot-backups-test").get_blob(f"backups/{record.key}")
        assert blob is not None and blob.size == record.size
        result = restore.drill(docker_client, kind, store, None, lines.append)
        assert result.ok, result.detail

        # A restore cut short while its data was checked (its check container left behind):
        # with no database container, a deploy starts on the data before it, never on that.
        docker_db.stop_and_remove(docker_client.containers.get(kind.container))
        unchecked = kind.at(2)
        docker_client.volumes.create(unchecked.volume, labels=unchecked.labels())
        docker_client.containers.create(
            data_image,
            ["sleep", "1"],
            name=f"{unchecked.volume}-check",
            labels={**unchecked.labels(), "pilot.role": docker_db.CHECK_ROLE},
        )
        assert docker_db.find(docker_client, kind).kind.generation == 1
        docker_client.containers.get(f"{unchecked.volume}-check").remove(force=True)
        assert docker_db.find(docker_client, kind).kind.generation == 2  # checked: it is newest
        docker_client.volumes.get(unchecked.volume).remove()
        docker_db.ensure(docker_client, kind, root / ".pilot", lines.append)

        # A host without room for the data: refused before anything is restored.
        huge = dataclasses.replace(record, database_bytes=10**15)
        with pytest.raises(backups.BackupError, match="free where restoring"):
            restore.check_into(
                docker_client, kind, "pilot-test-room", kind.labels(), "pw", huge, store, print
            )
        assert not docker_client.volumes.list(filters={"name": "pilot-test-room"})
        assert backups.last_good_drill(store, "main") == result
        # Nothing of the drill is left on the engine.
        wait_until(
            lambda: not docker_client.volumes.list(filters={"label": "pilot.role=database-drill"}),
            what="the drill's volume removed",
        )
    finally:
        sandbox.stop()


def test_local_store_keys_stay_inside_its_folder(tmp_path):
    store = LocalStore(tmp_path / "backups")
    with pytest.raises(Exception, match="leaves"):
        store.write("../outside.json", b"{}")
    assert not (tmp_path / "outside.json").exists()


async def test_the_data_screen_backs_up_drills_and_restores(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    """The app's Data screen (App.run_test, the real PostgreSQL): b backs the selected
    database up, t drills it, r restores it once its name is typed; each streams its lines
    and the list shows the last backup and drill; a failure is pinned above the list."""
    from textual.widgets import DataTable, Input, Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.colorlog import ColorLog
    from pilot_tui.screens.data import ConfirmRestore, DataScreen
    from tests.integration.deploy.test_tui_deploy import until

    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, port, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    cache = '\n[[databases]]\nname = "cache"\nkind = "redis"\n'
    toml.write_text(toml.read_text() + DATABASE + cache)
    monkeypatch.setenv("PILOT_REDIS_IMAGE", data_image)
    assert cli("deploy", "api").code == 0
    _sql(cli, SEED)

    def shown(screen, selector: str) -> str:
        return str(screen.query_one(selector, Static).render())

    # The deploy started the backup agent (schedule "daily" by default); stopped, it is
    # pinned above the list: scheduled backups are not being taken.
    docker_client.containers.get(f"pilot-backups-{project_name(root)}").stop()

    app = create_app(str(toml))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, DataScreen)
        table = screen.query_one("#db-list", DataTable)
        assert await until(pilot, lambda: table.row_count == 2)
        assert [str(c) for c in table.get_row("main")][:4] == [
            "main", "postgres 15", "running", "never"
        ]  # fmt: skip
        assert str(table.get_row("cache")[3]) == "never"
        assert str(table.get_row("main")[5]).startswith("daily · agent not running")
        assert await until(pilot, lambda: "not being taken" in shown(screen, "#data-error"))
        assert "main: agent not running" in shown(screen, "#data-error")
        assert "cache: agent not running" in shown(screen, "#data-error")
        cli("db", "schedule")  # started again: the list says so, the pin goes
        await pilot.press("escape")
        await pilot.press("d")
        screen = app.screen
        table = screen.query_one("#db-list", DataTable)
        assert await until(pilot, lambda: table.row_count == 2)
        assert str(table.get_row("main")[5]) == "daily · no run yet"
        assert screen.query_one("#data-error").has_class("hidden")

        await pilot.press("b")
        assert await until(pilot, lambda: "backup 2" in shown(screen, "#data-result"))
        assert await until(pilot, lambda: "2,000 rows (1 kept)" in str(table.get_row("main")[3]))
        lines = screen.query_one("#data-log", ColorLog).plain_lines
        assert any("dumping postgres 15 database main" in line for line in lines)

        await pilot.press("t")
        assert await until(pilot, lambda: "drill passed" in shown(screen, "#data-result"))
        assert await until(pilot, lambda: str(table.get_row("main")[4]).startswith("passed"))

        _sql(cli, "update hello set greeting = 'after the backup'")
        assert ask_app(port) == "after the backup"
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmRestore)
        await pilot.press(*"mian")  # a typo: nothing happens on Enter
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmRestore)
        app.screen.query_one(Input).value = "main"
        await pilot.press("enter")
        assert app.screen is screen
        assert await until(pilot, lambda: "restored main" in shown(screen, "#data-result"), 120)
        assert ask_app(port) == "before the backup"

        # A database no app lists was never started: its backup fails, pinned, said why.
        table.move_cursor(row=1)
        await pilot.press("b")
        assert await until(pilot, lambda: "Failed" in shown(screen, "#data-result"))
        assert "is not running" in shown(screen, "#data-error")
        assert not screen.query_one("#data-error").has_class("hidden")


def test_redis_backup_drill_and_restore_keep_every_key(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    """Redis 7 (Debian's): a backup is a fresh RDB snapshot (BGSAVE) whose keys
    redis-check-rdb counts; a restore loads it with append-only off, then writes the AOF from
    the loaded data, so the restored keys survive a restart (with append-only on and no AOF
    yet, Redis would start empty)."""
    monkeypatch.setenv("PILOT_REDIS_IMAGE", data_image)
    root, _, _ = engine_project
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "cache"\nkind = "redis"\n')
    kind = _running_database(root, docker_client, root / ".pilot")
    password = (root / ".pilot" / "databases" / "cache.password").read_text().strip()

    def redis(*args: str, container: str = kind.container) -> str:
        done = docker_client.containers.get(container).exec_run(
            ["redis-cli", *args], environment={"REDISCLI_AUTH": password}
        )
        assert done.exit_code == 0, done.output
        return done.output.decode().strip()

    redis("set", "a", "1")
    redis("set", "b", "2", "EX", "3600")
    redis("-n", "1", "set", "c", "3")
    taken = cli("db", "backup", "cache", "--json")
    assert taken.code == 0, taken.err
    record = json.loads(taken.out)
    assert record["tables"] == {"expires": 1, "keys": 3}, record
    assert record["format"] == "redis BGSAVE (RDB)" and record["key"].endswith(".rdb")
    assert password not in taken.out + taken.err

    redis("flushall")
    drilled = cli("db", "drill", "cache")
    assert drilled.code == 0, drilled.err
    restored = cli("db", "restore", "cache", "--confirm", "cache")
    assert restored.code == 0, restored.err
    live = kind.at(2).container
    assert (
        redis("dbsize", container=live) == "2"
        and redis("-n", "1", "get", "c", container=live) == "3"
    )
    assert redis("config", "get", "appendonly", container=live).split() == ["appendonly", "yes"]
    docker_client.containers.get(live).restart()
    docker_db.wait_ready(docker_client.containers.get(live), kind.at(2), password)
    assert redis("get", "a", container=live) == "1"  # from the AOF, after a restart

    dump = root / ".pilot" / "backups" / record["key"]
    dump.write_bytes(dump.read_bytes()[:-9])
    failed = cli("db", "drill", "cache", "--json")
    assert failed.code == 1 and json.loads(failed.out)["ok"] is False
