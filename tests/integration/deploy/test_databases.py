"""Databases beside the apps on a Docker host, with real PostgreSQL 15 and Redis 7 (Debian's,
in the image tests/support/databases.py builds, standing in for the official images): a
deploy starts each database the app is linked to, on the private network with a named volume
and no published port, and gives the app its URL as a secret; the app answers with a row
through the edge; the password stays in .pilot/ (0600) and out of every output; a new
memory limit renews the container and keeps the data; a new major version is refused."""

from __future__ import annotations

import json
import shutil
import stat

from pilot_tui.config.document import ProjectFile
from tests.polling import wait_until
from tests.support.databases import add_reader_app, ask_app, project_name
from tests.support.deploy_fixtures import HELLO

DATABASES = """
[[databases]]
name = "main"
kind = "postgres"
version = 15
apps = ["api"]

[[databases]]
name = "cache"
kind = "redis"
apps = ["api"]
"""


def test_an_app_linked_to_postgres_and_redis_gets_their_urls_and_answers_from_the_database(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    monkeypatch.setenv("PILOT_REDIS_IMAGE", data_image)
    root, port, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASES)
    deployed = cli("deploy", "api")
    assert deployed.code == 0, deployed.err

    main = docker_client.containers.get("pilot-db-" + project_name(root) + "-main")
    cache = docker_client.containers.get("pilot-db-" + project_name(root) + "-cache")
    for db in (main, cache):
        assert db.status == "running" and db.labels["pilot.role"] == "database"
        assert not db.attrs["HostConfig"]["PortBindings"]  # nothing published
        assert list(db.attrs["NetworkSettings"]["Networks"]) == ["pilot"]
        assert db.attrs["Mounts"][0]["Type"] == "volume"
        assert db.attrs["Mounts"][0]["Name"] == db.name
    password_file = root / ".pilot" / "databases" / "main.password"
    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600 and len(password) >= 32
    assert password not in deployed.out + deployed.err
    assert password not in toml.read_text()

    made = main.exec_run(
        [
            "psql", "-v", "ON_ERROR_STOP=1", "-U", "main", "-d", "main", "-c",
            "create table hello (greeting text); insert into hello values ('hello from postgres')",
        ]
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert ask_app(port) == "hello from postgres"

    (live,) = docker_client.containers.list(filters={"label": "pilot.app=api"})
    env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
    assert env["DATABASE_URL"] == f"postgres://main:{password}@{main.name}:5432/main"
    redis_password = (root / ".pilot" / "databases" / "cache.password").read_text().strip()
    assert env["REDIS_URL"] == f"redis://default:{redis_password}@{cache.name}:6379/0"
    pong = live.exec_run(["redis-cli", "-u", env["REDIS_URL"], "--no-auth-warning", "ping"])
    assert pong.output.strip() == b"PONG", pong.output
    status = cli("status")
    assert password not in status.out + status.err
    assert "(db main)" in status.out and "postgres 15" in status.out
    listed = {a["app"]: a for a in json.loads(cli("status", "--json").out)}
    assert listed["(db main)"]["health"] == "healthy", listed
    cache_status = listed["(db cache)"]
    assert (cache_status["health"], cache_status["release"]) == ("healthy", "redis 7")
    # said plainly too (found walking: only "(db cache)" named it)
    assert (cache_status["kind"], cache_status["name"]) == ("database", "cache")
    assert (listed["(proxy)"]["kind"], listed["(proxy)"]["name"]) == ("proxy", "proxy")
    # where it is, as data (found walking: "url" held the table's "HOST · port N")
    proxy = listed["(proxy)"]
    assert proxy["url"] is None and proxy["docker_host"].startswith(("unix://", "tcp://"))
    assert isinstance(proxy["port"], int)
    assert (listed["api"]["kind"], listed["api"]["name"]) == ("app", "api")

    # A new memory limit: a new container on the same volume, the data kept.
    pf = ProjectFile.load(toml)
    pf.save(pf.with_value("databases.main.size", "256m"))
    again = cli("deploy", "api")
    assert again.code == 0, again.err
    assert "renewing postgres 15 database main's container" in again.out + again.err
    renewed = docker_client.containers.get(main.name)
    assert renewed.id != main.id and renewed.attrs["HostConfig"]["Memory"] == 256 * 1024**2
    wait_until(lambda: ask_app(port) == "hello from postgres", what="the row after the renewal")

    # A new major version: refused before anything is touched.
    pf = ProjectFile.load(toml)
    pf.save(pf.with_value("databases.main.version", 16))
    refused = cli("deploy", "api")
    assert refused.code != 0
    assert "data of version 15" in refused.err and "dump" in refused.err, refused.err
    assert docker_client.containers.get(main.name).id == renewed.id
    assert ask_app(port) == "hello from postgres"


def test_db_list_psql_destroy_and_server_destroy_name_each_database(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    """`db list` says each database's state; `db psql -c` runs SQL in it with no port
    opened; `db destroy` and `server destroy` remove a database's data only when it is named
    (--yes alone never does), and then leave nothing of it."""

    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    monkeypatch.setenv("PILOT_REDIS_IMAGE", data_image)
    root, _, add = engine_project
    shutil.copytree(HELLO, root / "hello")
    add(
        {
            "name": "hello",
            "path": "hello",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "health_path": "/index.html"},
        }
    )
    toml = root / "pilot.toml"
    toml.write_text(
        toml.read_text()
        + '\n[[databases]]\nname = "main"\nversion = 15\napps = ["hello"]\n'
        + '\n[[databases]]\nname = "cache"\nkind = "redis"\n'
    )
    listed = cli("db", "list", "--json")
    assert listed.code == 0, listed.err
    assert [(d["name"], d["state"]) for d in json.loads(listed.out)] == [
        ("main", "not created"),
        ("cache", "not created"),
    ]
    assert cli("deploy", "hello").code == 0
    listed = json.loads(cli("db", "list", "--json").out)
    states = [(d["name"], d["state"]) for d in listed]
    assert states == [("main", "running"), ("cache", "not created")]

    sql = cli("db", "psql", "main", "-c", "select 40 + 2 as answer")
    assert sql.code == 0 and "42" in sql.out, sql.err
    bad = cli("db", "psql", "main", "-c", "select nope")
    assert bad.code == 1 and 'column "nope" does not exist' in bad.err
    assert cli("db", "psql", "cache", "-c", "select 1").code == 2
    unknown = cli("db", "destroy", "mian")
    assert unknown.code == 2 and 'did you mean "main"' in unknown.err

    # Its container removed, its data kept, its password file lost (a teammate who never had
    # it): the next deploy makes a new password the data's own.
    made = "create table kept (x int); insert into kept values (7)"
    assert cli("db", "psql", "main", "-c", made).code == 0
    kept = cli("db", "destroy", "main", "--keep-data", "--confirm", "main")
    assert kept.code == 0 and "removed container" in kept.err, kept.err
    password_file = root / ".pilot" / "databases" / "main.password"
    old_password = password_file.read_text().strip()
    password_file.unlink()
    assert cli("deploy", "hello").code == 0
    new_password = password_file.read_text().strip()
    assert new_password != old_password
    main = docker_client.containers.get(f"pilot-db-{project_name(root)}-main")
    over_tcp = main.exec_run(
        [
            "psql",
            f"postgres://main:{new_password}@127.0.0.1:5432/main",
            "-Atc",
            "select x from kept",
        ]
    )
    assert over_tcp.output.strip() == b"7", over_tcp.output

    project = project_name(root)
    volume = f"pilot-db-{project}-main"
    refused = cli("db", "destroy", "main")  # no terminal here, no --confirm
    assert refused.code == 2 and "--confirm main" in refused.err
    wrong = cli("db", "destroy", "main", "--confirm", "cache")
    assert wrong.code == 2 and "nothing removed" in wrong.err
    assert docker_client.volumes.get(volume)

    not_named = cli("server", "destroy", "--yes")
    assert not_named.code == 2, not_named.err
    assert "--drop-database main" in not_named.err and "nothing was removed" in not_named.err
    assert docker_client.containers.get(volume).status == "running"
    # Named, it is backed up once more (as `db destroy` does), then removed; a database
    # that is not running cannot be, so then nothing is removed without --no-final-backup.
    main = docker_client.containers.get(volume)
    main.stop()
    stopped = cli("server", "destroy", "--yes", "--drop-database", "main")
    assert stopped.code == 1 and "--no-final-backup" in stopped.err, stopped.err
    assert docker_client.volumes.get(volume)
    main.start()
    gone = cli("server", "destroy", "--yes", "--drop-database", "main")
    assert gone.code == 0, gone.err
    assert f"database volume {volume}" in gone.out and "final backup" in gone.err
    final = json.loads(cli("db", "backups", "main", "--json").out)["backups"][-1]
    assert final["tables"]["public.kept"] == 1
    ours = {"label": f"pilot.project={project}"}
    assert not docker_client.volumes.list(filters=ours)
    assert not docker_client.containers.list(all=True, filters=ours)
