"""A database with on = "rds": the real aws template, planned, applied and destroyed by the real
Terraform and aws provider against the sandbox's local AWS API (moto), through the real CLI.

moto records RDS instances (encryption, exposure, security groups, protection, snapshots) and
refuses to delete a protected one, as RDS does; it runs no PostgreSQL, so nothing answers at
the instance's address. The app linked to it is deployed on the private Docker engine and
gets that address in DATABASE_URL: what is checked is the URL, not a query through it."""

from __future__ import annotations

import json
import shutil
import stat

import boto3
import pytest

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid
from tests.conftest import free_port
from tests.support.deploy_fixtures import HELLO

DATABASE = """
[[databases]]
name = "main"
on = "rds"
version = 16
apps = ["api"]
backup = { keep = 7 }
"""


def aws(root, service: str):
    port = Sandbox(root / ".pilot").load()["aws"].port
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


@pytest.fixture
def rds_project(tmp_path, cli, docker_engine, edge_image, monkeypatch):
    """A sandbox project whose app "api" (the hello app, on the private Docker engine) is
    linked to an RDS database; its emulators are stopped by pid afterwards."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)
    monkeypatch.setenv("PILOT_PROXY_IMAGE", edge_image)
    assert cli("init", "--name", "acme").code == 0
    shutil.copytree(HELLO, tmp_path / "api")
    from pilot_tui.apps import add_app

    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = ProjectFile(pf.path, pf.with_value("server.tls", "off")).with_value(
        "server.http_port", free_port()
    )
    text = add_app(
        text,
        {"name": "api", "path": "api", "build": {"kind": "dockerfile"}, "target": {}},
    )
    pf.save(text + DATABASE)
    yield tmp_path
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    for container in client.containers.list(all=True, filters={"label": "pilot.project=acme"}):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"name": "pilot-proxy"}):
        container.remove(force=True)
    client.close()
    for emulator in Sandbox(tmp_path / ".pilot").load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


@pytest.mark.terraform
@pytest.mark.slow
def test_rds_is_made_private_and_protected_linked_to_its_app_and_destroyed_with_a_snapshot(
    rds_project, cli, docker_client
):
    root = rds_project
    plan = cli("server", "plan", "--json")
    assert plan.code == 0, plan.err
    planned = json.loads(plan.out)
    made = {c["address"] for c in planned["changes"]}
    assert {
        'aws_db_instance.database["main"]',
        "aws_db_subnet_group.pilot[0]",
        "aws_security_group.database[0]",
        "aws_subnet.database[0]",
        "aws_subnet.database[1]",
    } <= made
    # Only the apps' port is open to the world (said as for every server), not the database.
    assert all("5432" not in w and "database" not in w for w in planned["warnings"])
    costs = {i["what"]: i["monthly"] for i in planned["cost"]["items"]}
    assert costs["RDS main db.t4g.micro"] == 11.68 and costs["RDS main 20 GB"] == 2.3

    up = cli("server", "up", "--yes")
    assert up.code == 0, up.err
    rds = aws(root, "rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="pilot-acme-main")["DBInstances"]
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("16")
    assert db["StorageEncrypted"] is True and db["PubliclyAccessible"] is False
    assert db["DeletionProtection"] is True and db["BackupRetentionPeriod"] == 7
    assert {"Key": "pilot:project", "Value": "acme"} in db["TagList"]
    # Reachable on 5432 from the server's security group, and from nothing else.
    ec2 = aws(root, "ec2")
    (group_id,) = [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]]
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    server_group = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["pilot-acme-server"]}]
    )["SecurityGroups"][0]["GroupId"]
    (rule,) = group["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (5432, 5432)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [server_group]
    assert rule["IpRanges"] == [] and rule.get("Ipv6Ranges", []) == []
    # Its subnets are not the server's public one: no route to the internet gateway.
    subnets = [s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]]
    for table in ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": subnets}]
    )["RouteTables"]:
        assert not any(r.get("GatewayId", "").startswith("igw-") for r in table["Routes"])

    password_file = root / ".pilot" / "databases" / "main.password"
    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600 and len(password) >= 32
    assert password not in up.out + up.err + (root / "pilot.toml").read_text()
    workdir = root / ".pilot" / "terraform" / "sandbox"
    assert password not in (workdir / "pilot.auto.tfvars.json").read_text()
    secret_inputs = workdir / "pilot.secrets.auto.tfvars.json"
    assert stat.S_IMODE(secret_inputs.stat().st_mode) == 0o600
    for log in (root / ".pilot" / "logs").iterdir():
        assert password not in log.read_text(), log
    address = db["Endpoint"]["Address"]
    assert f"database main  simulated: RDS {address}:5432" in up.out

    deployed = cli("deploy", "api")
    assert deployed.code == 0, deployed.err
    assert password not in deployed.out + deployed.err
    (live,) = docker_client.containers.list(filters={"label": "pilot.app=api"})
    env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
    assert env["DATABASE_URL"] == (
        f"postgres://pilot:{password}@{address}:5432/postgres?sslmode=require"
    )
    # No backup agent: RDS backs itself up.
    assert not docker_client.containers.list(all=True, filters={"name": "pilot-backups-acme"})

    listed = cli("db", "list", "--json")
    assert listed.code == 0, listed.err
    (row,) = json.loads(listed.out)
    assert row["on"] == "rds" and row["state"] == f"on RDS at {address}"
    status = cli("db", "status", "main")
    assert status.code == 0, status.err
    assert "backups: by RDS each day, kept 7 days" in status.out
    # Pilot's own dumps reach it from the Docker host (test_managed_dumps.py, against a
    # real PostgreSQL); restoring over it is RDS's to do, and the agent does not dump it.
    refused = cli("db", "restore", "main", "--confirm", "main")
    assert refused.code == 2 and "main is on RDS: a restore goes into a new database" in refused.err
    assert "aws rds restore-db-instance-to-point-in-time" in refused.err
    scheduled = cli("db", "backup", "main", "--on-server")
    assert scheduled.code == 2 and "RDS backs it up itself each day; set backup.dumps" in (
        scheduled.err
    )

    # Its data goes only when named; then a final snapshot is taken and kept.
    unnamed = cli("server", "destroy", "--yes", "--keep-state")
    assert unnamed.code == 2 and "--drop-database main" in unnamed.err
    assert rds.describe_db_instances(DBInstanceIdentifier="pilot-acme-main")["DBInstances"]
    gone = cli("server", "destroy", "--yes", "--keep-state", "--drop-database", "main")
    assert gone.code == 0, gone.err
    assert "Each RDS database gets a final snapshot first" in gone.out
    assert "What remains: nothing" in gone.out
    # The sandbox's emulators stop with the destroy: the snapshot is read from the message
    # and from what the destroy said it took (moto kept it until then).
    (kept,) = [line for line in gone.out.splitlines() if line.startswith("Kept: RDS snapshot")]
    assert "pilot-acme-main-final-" in kept
    assert "taking final snapshot pilot-acme-main-final-" in gone.err
    assert "lifting deletion protection of RDS database main" in gone.err


def test_a_protected_instance_is_snapshotted_released_and_one_terraform_lost_is_found(
    moto, tmp_path
):
    """Against moto directly: what the scan finds by tag and name (not a neighbour's); the
    final snapshot (tagged, waited for); protection lifted, and put back when the delete
    fails; an instance Terraform lost track of, and its subnet group, removed by the
    destroy's executor after the same steps."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.data import rds
    from pilot_tui.teardown import Scan, Teardown, Thing
    from pilot_tui.teardown.finds import Finds
    from pilot_tui.teardown.scan_aws import AwsScan

    def client(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto)

    ec2, db = client("ec2"), client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    for project in ("acme", "acme-dev"):
        db.create_db_subnet_group(
            DBSubnetGroupName=f"pilot-{project}-databases",
            DBSubnetGroupDescription="test",
            SubnetIds=subnets,
            Tags=[{"Key": "pilot:project", "Value": project}],
        )
        db.create_db_instance(
            DBInstanceIdentifier=f"pilot-{project}-main",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="pilot",
            MasterUserPassword="not-a-real-secret-1",
            DBSubnetGroupName=f"pilot-{project}-databases",
            DeletionProtection=True,
            Tags=[{"Key": "pilot:project", "Value": project}],
        )
    finds = Finds("acme")
    scan = AwsScan(finds, client)
    scan.neighbours()
    scan.rds()
    assert [(t.kind, t.name) for t in finds.found] == [
        ("RDS database", "pilot-acme-main"),
        ("DB subnet group", "pilot-acme-databases"),
    ]

    with pytest.raises(db.exceptions.ClientError, match="protect"):
        db.delete_db_instance(DBInstanceIdentifier="pilot-acme-main", SkipFinalSnapshot=True)
    said: list[str] = []
    (snapshot,) = rds.take_final_snapshots(db, "acme", ["main", "never-made"], said.append)
    assert snapshot.startswith("pilot-acme-main-final-")
    (made,) = db.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert made["Status"] == "available" and made["DBInstanceIdentifier"] == "pilot-acme-main"
    assert {"Key": "pilot:final-snapshot", "Value": "true"} in made["TagList"]
    assert said == [f"taking final snapshot {snapshot} of RDS database main"]
    # Stopped while waiting: said, and nothing lifted.
    with pytest.raises(rds.RdsError, match="stopped while it was"):
        rds.take_final_snapshots(db, "acme-dev", ["main"], said.append, stopped=lambda: True)

    # A failed delete puts the protection back.
    lifted = rds.lift_protection(db, "acme", ["main"], said.append)
    assert lifted == ["pilot-acme-main"]
    assert not db.describe_db_instances(DBInstanceIdentifier="pilot-acme-main")["DBInstances"][0][
        "DeletionProtection"
    ]
    rds.protect_again(db, [*lifted, "pilot-acme-gone"], said.append)
    (back,) = db.describe_db_instances(DBInstanceIdentifier="pilot-acme-main")["DBInstances"]
    assert back["DeletionProtection"] is True

    # Terraform lost track of it: the executor lifts, deletes, then the subnet group goes.
    config = check_text('[project]\nname = "acme"\n').config
    assert config is not None
    teardown = Teardown(config, tmp_path, Scan("acme", aws=client))
    teardown.remove_untracked(
        [
            Thing("RDS database", "pilot-acme-main", finds.tag),
            Thing("DB subnet group", "pilot-acme-databases", finds.tag),
        ],
        said.append,
    )
    assert teardown.failures == []
    remaining = [d["DBInstanceIdentifier"] for d in db.describe_db_instances()["DBInstances"]]
    assert remaining == ["pilot-acme-dev-main"]  # the neighbour's is untouched
    groups = [g["DBSubnetGroupName"] for g in db.describe_db_subnet_groups()["DBSubnetGroups"]]
    assert groups == ["pilot-acme-dev-databases"]
    assert "deleted RDS database pilot-acme-main" in said
