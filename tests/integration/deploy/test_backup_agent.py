"""The backup agent (pilot_tui.data.agent) on the tests' private dockerd, with a real
PostgreSQL 15 (tests/support/databases.py's image): a deploy starts it, it backs up on its
own schedule with nothing of this process involved, its backups drill like the CLI's, and
it writes to moto's S3 with its own standard-library client (SigV4, multipart, SSE)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat

import boto3
import pytest

from pilot_tui.config.validate import check_file
from pilot_tui.data import backups, restore, scheduling
from pilot_tui.data.stores import GcsStore, LocalStore, S3Store
from pilot_tui.deploy.host import parse_host
from tests.polling import wait_until
from tests.support.databases import add_reader_app, project_name

SEED = """
create table items (id serial primary key, name text not null);
insert into items (name) select 'item ' || g from generate_series(1, 1200) g;
create table hello (greeting text);
insert into hello values ('hello from the agent');
"""


def _database(schedule: str, keep: int) -> str:
    return (
        '\n[[databases]]\nname = "main"\nversion = 15\napps = ["api"]\n'
        f'backup = {{ schedule = "{schedule}", keep = {keep} }}\n'
    )


def test_a_deploy_starts_the_agent_which_backs_up_on_its_schedule_and_its_backups_drill(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + _database("* * * * *", 5))
    deployed = cli("deploy", "api")
    assert deployed.code == 0, deployed.err
    assert "backup agent pilot-backups-" in deployed.out + deployed.err
    assert cli("db", "psql", "main", "-c", SEED).code == 0

    agent = docker_client.containers.get(f"pilot-backups-{project_name(root)}")
    assert agent.status == "running"
    host_config = agent.attrs["HostConfig"]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert agent.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert not host_config.get("PortBindings")  # it serves nothing

    # Now, by the agent itself: its engine client, its store, its settings.
    now = cli("db", "backup", "main", "--on-server", "--json")
    assert now.code == 0, now.err
    record = json.loads(now.out)
    assert record["by"] == "agent"
    assert record["tables"] == {"public.hello": 1, "public.items": 1200}
    dump = root / ".pilot" / "backups" / record["key"]
    assert dump.stat().st_size == record["size"] and dump.stat().st_uid == os.getuid()
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600

    drilled = cli("db", "drill", "main", record["id"], "--json")
    assert drilled.code == 0, drilled.err
    assert json.loads(drilled.out)["ok"] is True

    # On its own: "* * * * *" takes the next one within the minute, nothing of ours running.
    store = LocalStore(root / ".pilot" / "backups")
    wait_until(
        lambda: len(backups.records(store, "main")) >= 2,
        timeout=90,
        what="the agent's scheduled backup",
    )
    status = json.loads((root / ".pilot" / "backups" / "main" / "schedule.json").read_text())
    assert status["ok"] is True and status["schedule"] == "* * * * *", status
    logs = agent.logs().decode()
    assert "main: schedule * * * * *, keeping 5" in logs and "next run at" in logs
    shown = cli("db", "status", "main")
    # The agent may take its next run (each minute) between the read above and db status:
    # what it shows is the record as it was at one of the two moments.
    latest = json.loads((root / ".pilot" / "backups" / "main" / "schedule.json").read_text())
    assert any(
        f"schedule: * * * * * · ran {seen['at']}" in shown.out for seen in (status, latest)
    ), shown.out

    # A stopped agent is said (db list, db status, the Data screen); db schedule restarts it.
    agent.stop()
    listed = cli("db", "list")
    assert "schedule: * * * * * · agent not running" in listed.out, listed.out
    restarted = cli("db", "schedule")
    assert restarted.code == 0 and "backup agent pilot-backups-" in restarted.err

    # An unchanged deploy leaves the agent alone; "off" removes it.
    again = cli("db", "schedule")
    assert again.code == 0 and "up to date" in again.err + again.out
    text = toml.read_text().replace('schedule = "* * * * *"', 'schedule = "off"')
    toml.write_text(text)
    off = cli("db", "schedule")
    assert off.code == 0, off.err
    assert not docker_client.containers.list(all=True, filters={"name": "pilot-backups-"})


def test_the_agent_writes_to_s3_with_its_own_client_encrypted_and_pruned(
    engine_project, cli, docker_client, docker_engine, data_image, moto, monkeypatch
):
    """moto stands in for S3; the agent's signatures are checked against botocore's in
    tests/unit/test_backup_agent.py (moto does not verify them)."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + _database("daily", 2))
    assert cli("deploy", "api").code == 0
    assert cli("db", "psql", "main", "-c", SEED).code == 0

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = "pilot-agent-test-state"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    config = check_file(toml).config
    assert config is not None
    target = parse_host(docker_engine.url, root / ".pilot")
    local = scheduling.agent_plan(config, target, root / ".pilot")
    assert local is not None
    # The plan a sandbox project with S3 state gets (agent_plan's own S3 branch is
    # checked as data in tests/unit/test_backup_agent.py), pointed at this moto.
    plan = _pointed_at(
        local,
        {"kind": "s3", "bucket": bucket, "region": "us-east-1", "endpoint": moto},
        environment={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    assert scheduling.install(docker_client, plan, lambda _line: None) is True
    lines: list[str] = []
    for _ in range(3):
        assert scheduling.run_now(docker_client, plan.project, "main", lines.append) == 0, lines

    store = S3Store(s3, bucket)
    kept = backups.records(store, "main")
    assert len(kept) == 2 and kept[-1].tables == {"public.hello": 1, "public.items": 1200}
    versions = s3.list_object_versions(Bucket=bucket, Prefix="backups/main/")
    keys = {v["Key"] for v in versions.get("Versions", [])}
    assert keys == {f"backups/{r.key}" for r in kept} | {
        f"backups/main/{r.id}.json" for r in kept
    } | {"backups/main/schedule.json"}
    assert not versions.get("DeleteMarkers")  # pruned for good, every version
    head = s3.head_object(Bucket=bucket, Key=f"backups/{kept[-1].key}")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == kept[-1].size
    body = s3.get_object(Bucket=bucket, Key=f"backups/{kept[-1].key}")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == kept[-1].sha256

    # No keys and no instance role here (no metadata service): the run fails, saying
    # where it looked for credentials.
    keyless = dataclasses.replace(plan, environment={})
    scheduling.install(docker_client, keyless, lambda _line: None)
    failed: list[str] = []
    assert scheduling.run_now(docker_client, plan.project, "main", failed.append) == 1
    assert any("no AWS credentials" in line and "IMDSv2" in line for line in failed), failed


def test_the_agent_writes_to_gcs_with_its_own_client_and_prunes_every_generation(
    engine_project, cli, docker_client, docker_engine, data_image, monkeypatch, tmp_path
):
    """The GCS emulator stands in for GCS: the agent's own JSON-API client uploads
    (resumable, in chunks), lists, reads and prunes there, and the CLI's store reads and
    drills what it wrote. The emulator takes no token: the metadata service's is asked for
    only without an endpoint, and its absence here is said."""
    from pilot_tui.cloud.clients import emulator_gcs
    from pilot_tui.cloud.sandbox import Sandbox

    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + _database("daily", 2))
    assert cli("deploy", "api").code == 0
    assert cli("db", "psql", "main", "-c", SEED).code == 0

    sandbox = Sandbox(tmp_path / "gcs-state")
    running, _ = sandbox.ensure()
    try:
        gcs = emulator_gcs(running["gcs"].url)
        bucket = "pilot-agent-test-gcs"
        made = gcs.create_bucket(bucket)
        made.versioning_enabled = True
        made.patch()
        config = check_file(toml).config
        assert config is not None
        target = parse_host(docker_engine.url, root / ".pilot")
        local = scheduling.agent_plan(config, target, root / ".pilot")
        assert local is not None
        # The plan a sandbox project with GCS state gets (checked as data in
        # tests/unit/test_backup_agent.py), pointed at this emulator.
        plan = _pointed_at(local, {"kind": "gcs", "bucket": bucket, "endpoint": running["gcs"].url})
        lines: list[str] = []
        assert scheduling.install(docker_client, plan, lines.append) is True
        assert f"gs://{bucket}/backups" in lines[-1], lines  # where it says it writes
        for _ in range(3):
            code = scheduling.run_now(docker_client, plan.project, "main", lines.append)
            assert code == 0, lines

        store = GcsStore(gcs, bucket)
        kept = backups.records(store, "main")
        assert len(kept) == 2 and kept[-1].tables == {"public.hello": 1, "public.items": 1200}
        names = {
            blob.name for blob in gcs.list_blobs(bucket, prefix="backups/main/", versions=True)
        }
        assert names == {f"backups/{r.key}" for r in kept} | {
            f"backups/main/{r.id}.json" for r in kept
        } | {"backups/main/schedule.json"}  # the pruned one gone
        # (the emulator keeps no older generations, so deleting each generation, as
        # the CLI's GcsStore does, is exercised but not proven here)
        body = gcs.bucket(bucket).blob(f"backups/{kept[-1].key}").download_as_bytes()
        assert len(body) == kept[-1].size
        assert hashlib.sha256(body).hexdigest() == kept[-1].sha256
        drilled = restore.drill(docker_client, _kind(config), store, None, lines.append)
        assert drilled.ok, drilled.detail

        # More than one chunk (8 MiB each): the session carries on from each 308; an
        # upload that fails part-way leaves no object.
        from pilot_tui.data.agent.gcs import AgentGcsStore

        agent_store = AgentGcsStore(bucket, running["gcs"].url)
        big = os.urandom(9 * 1024 * 1024 + 123)
        with agent_store.writer("big/blob") as sink:
            sink.write(big[: 5 * 1024 * 1024])
            sink.write(big[5 * 1024 * 1024 :])
        assert b"".join(agent_store.chunks("big/blob")) == big
        assert agent_store.keys("big") == ["big/blob"]
        assert agent_store.folders() == ["big", "main"]
        with pytest.raises(RuntimeError), agent_store.writer("big/cut") as sink:
            sink.write(big)
            raise RuntimeError("the dump failed")
        assert agent_store.read("big/cut") is None
        agent_store.delete("big/blob")
        assert agent_store.read("big/blob") is None and agent_store.keys("big") == []

        # Without an endpoint it asks the metadata service, which is not here: said.
        real = dataclasses.replace(
            plan, settings={**plan.settings, "store": {"kind": "gcs", "bucket": bucket}}
        )
        scheduling.install(docker_client, real, lambda _line: None)
        failed: list[str] = []
        assert scheduling.run_now(docker_client, plan.project, "main", failed.append) == 1
        assert any(
            "no Google credentials" in line and "metadata service" in line for line in failed
        ), failed
    finally:
        sandbox.stop()


def _pointed_at(
    local: scheduling.AgentPlan, store: dict[str, str], environment: dict[str, str] | None = None
) -> scheduling.AgentPlan:
    """``local`` (a plan for local state) writing to ``store`` on this host's network, as a
    sandbox project with that state gets it (agent_plan's branches are data in the unit
    tests): no local folder bound, the engine's socket only."""
    return dataclasses.replace(
        local,
        settings={**local.settings, "store": store},
        environment=environment or {},
        binds={k: v for k, v in local.binds.items() if v == scheduling.HOST_SOCKET},
        network_mode="host",
        user=None,
        group_add=[],
    )


def _kind(config):
    from pilot_tui.data.kinds import kind_for

    return kind_for(config.project.name, config.databases[0])


def test_the_agent_backs_up_as_a_user_who_is_not_root(
    engine_project, cli, docker_client, docker_engine, data_image, monkeypatch
):
    """This machine runs as root; a team's laptop does not. The agent as uid 4242 (its
    own folder, the engine's socket by its group, as agent_plan gives them): the dump is
    written, owned by that user and private, and drills."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, add = engine_project
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + _database("daily", 3))
    assert cli("deploy", "api").code == 0
    assert cli("db", "psql", "main", "-c", SEED).code == 0
    config = check_file(toml).config
    assert config is not None
    target = parse_host(docker_engine.url, root / ".pilot")
    local = scheduling.agent_plan(config, target, root / ".pilot")
    assert local is not None and local.group_add  # the socket's group
    folder = root / ".pilot" / "backups"
    for path in [folder, *folder.rglob("*")]:  # as a user who runs pilot-tui has it
        os.chown(path, 4242, 4242)
    plan = dataclasses.replace(local, user="4242:4242")
    scheduling.install(docker_client, plan, lambda _line: None)
    agent = docker_client.containers.get(plan.name)
    assert agent.exec_run(["id", "-u"]).output.strip() == b"4242"
    lines: list[str] = []
    assert scheduling.run_now(docker_client, plan.project, "main", lines.append) == 0, lines
    (record,) = backups.records(LocalStore(folder), "main")
    dump = folder / record.key
    assert dump.stat().st_uid == 4242 and stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert record.tables == {"public.hello": 1, "public.items": 1200}
    drilled = cli("db", "drill", "main", "--json")
    assert drilled.code == 0 and json.loads(drilled.out)["ok"] is True, drilled.err
