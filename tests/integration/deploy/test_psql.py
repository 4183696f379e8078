"""`pilot-tui db psql NAME` with no SQL: psql on the user's terminal (a real pseudo-terminal
here, driven by pexpect), run in the database's own container through Pilot's connection to
the engine; no port is published and no docker CLI is used. Without a terminal it asks for
-c instead."""

from __future__ import annotations

import os

import pexpect

from tests.conftest import PILOT, run_pilot
from tests.support.databases import project_name

DATABASE = '\n[[databases]]\nname = "main"\nversion = 15\n'


def test_psql_opens_on_the_terminal_runs_sql_and_ends_cleanly(
    engine_project, docker_client, data_image, monkeypatch
):
    root, _, _ = engine_project
    (root / "pilot.toml").write_text((root / "pilot.toml").read_text() + DATABASE)
    from pilot_tui.config.validate import check_file
    from pilot_tui.data import docker_db
    from pilot_tui.data.kinds import kind_for

    config = check_file(root / "pilot.toml").config
    assert config is not None
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    env = {**os.environ, "TERM": "xterm"}
    env.pop("PILOT_PROJECT", None)
    kind = kind_for(config.project.name, config.databases[0])
    docker_db.ensure(docker_client, kind, root / ".pilot", lambda _line: None)
    child = pexpect.spawn(
        PILOT,
        ["db", "psql", "main"],
        cwd=str(root),
        encoding="utf-8",
        dimensions=(30, 100),
        timeout=30,
        env=env,
    )
    try:
        child.expect("main=#")
        child.send("create table t (n int); insert into t values (40), (2);\r")
        child.expect("INSERT 0 2")
        child.send("select sum(n) as answer from t;\r")
        child.expect(r"answer\s*\r\n-+\r\n\s*42")
        child.send("\\q\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    # What it did stayed: the table is there for the next session.
    counted = run_pilot("db", "psql", "main", "-c", "select count(*) from t", cwd=root, env=env)
    assert counted.returncode == 0 and " 2\n" in counted.stdout, counted.stderr
    container = docker_client.containers.get(f"pilot-db-{project_name(root)}-main")
    assert not container.attrs["HostConfig"]["PortBindings"]

    # No terminal (a pipe): asked for -c, nothing run.
    piped = run_pilot("db", "psql", "main", cwd=root, env=env, input="select 1;\n")
    assert piped.returncode == 2 and "give the SQL with -c" in piped.stderr
