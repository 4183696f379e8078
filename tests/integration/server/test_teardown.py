"""`server destroy` removes everything Pilot made for the project, not only Terraform's
resources: the inventory (a pure function, tested as data), and the executor against the
sandbox's real moto and GCS emulator, one resource of each kind made as Pilot names and
tags them, plus another project's that must survive."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import pytest

from pilot_tui.cloud.clients import emulator_aws, emulator_gcs
from pilot_tui.cloud.identity_aws import aws_deployer
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from pilot_tui.deploy.targets.s3_site.bucket import S3Site
from pilot_tui.provision import backends
from pilot_tui.teardown import Teardown, Thing, execute, inventory, make_scan, remaining


def test_inventory_orders_steps_and_lists_terraform_resources_once():
    found = [
        Thing("local record", ".pilot/outputs/server.json", "the server's outputs"),
        Thing("state bucket", "pilot-state-acme", "[state] in pilot.toml"),
        Thing("VPC", "vpc-1", "tag pilot:project=acme"),  # Terraform holds it: listed once
        Thing("VPC", "vpc-2", "tag pilot:project=acme"),  # Terraform does not: said so
        Thing("IAM user", "pilot-acme-deployer", "name pilot-acme-*"),
        Thing("container", "pilot-acme-web-v1", "label pilot.project=acme (release)", "web"),
        Thing("Lambda function", "pilot-acme-fn", "name pilot-acme-*", "fn", "lambda"),
        Thing("Lambda function", "pilot-acme-fn", "name pilot-acme-*", "fn", "lambda"),
    ]
    inv = inventory(found, ["aws_vpc.pilot"], {"aws_vpc.pilot": "vpc-1"}, keep_state=False)
    assert [(t.step, t.kind, t.name) for t in inv.remove] == [
        ("apps", "Lambda function", "pilot-acme-fn"),
        ("containers", "container", "pilot-acme-web-v1"),
        ("deployer", "IAM user", "pilot-acme-deployer"),
        ("server", "Terraform resource", "aws_vpc.pilot"),
        ("server", "VPC", "vpc-2"),
        ("state", "state bucket", "pilot-state-acme"),
        ("local", "local record", ".pilot/outputs/server.json"),
    ]
    assert "not in Terraform state" in inv.remove[4].found
    kept = inventory(found, [], {}, keep_state=True)
    assert [t.name for t in kept.keep] == ["pilot-state-acme"]
    assert all(t.step != "state" for t in kept.remove)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def made(tmp_path, cli):
    """A sandbox project (state in an S3 bucket) with one thing of every kind Pilot makes,
    in its running emulators; another project's bucket and user beside them."""
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = ProjectFile(pf.path, pf.with_value("state.backend", "s3")).with_value(
        "gcp.project", "acme-sandbox"
    )
    from pilot_tui.apps import add_app

    for folder in ("site", "fn", "api"):
        (tmp_path / folder).mkdir()

    for app in (
        {"name": "web", "path": "site", "target": {"kind": "s3-cloudfront"}},
        {"name": "fn", "path": "fn", "target": {"kind": "lambda", "package": "zip"}},
        {"name": "api", "path": "api", "target": {"kind": "ecs"}},
        {"name": "docs", "path": "site", "target": {"kind": "gcs-cdn"}},
    ):
        text = add_app(text, app)
    checked = pf.save(text)
    config = checked.config
    state_dir = tmp_path / ".pilot"
    sandbox = Sandbox(state_dir)
    emulators, _ = sandbox.ensure()
    url = emulators["aws"].url
    session = emulator_aws("us-east-1").session

    def aws(service):
        return session.client(service, endpoint_url=url)

    deployer = aws_deployer(config, state_dir, sandbox=True)  # user, policy, both roles
    deployer.ensure()
    deployer.rotate(state_dir / "keys")
    site = S3Site(aws("s3"), aws("cloudfront"), "pilot-acme-web-site", "us-east-1", "acme")
    site.ensure_bucket()
    site.ensure_distribution()
    aws("s3").put_object(Bucket=site.bucket, Key="index.html", Body=b"v1")
    aws("s3").put_object(Bucket=site.bucket, Key="index.html", Body=b"v2")  # two versions
    role = aws("iam").get_role(RoleName="pilot-acme-lambda")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName="pilot-acme-fn",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Tags={"pilot:project": "acme"},
    )
    aws("logs").create_log_group(logGroupName="/aws/lambda/pilot-acme-fn")
    aws("logs").create_log_group(logGroupName="/aws/lambda/pilot-acme-gone")  # app removed
    aws("ecr").create_repository(repositoryName="pilot-acme-fn")
    aws("ecr").create_repository(repositoryName="pilot-acme-fn/previews")  # its previews'
    aws("ecr").create_repository(repositoryName="pilot-acme-old")  # an app no longer listed
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="pilot-acme")
    ecs.register_task_definition(
        family="pilot-acme-api",
        containerDefinitions=[{"name": "api", "image": "busybox", "memory": 512}],
    )
    ecs.create_service(
        cluster="pilot-acme",
        serviceName="pilot-acme-api",
        taskDefinition="pilot-acme-api",
        desiredCount=1,
    )
    aws("logs").create_log_group(logGroupName="/pilot/acme/api")
    aws("ssm").put_parameter(Name="/pilot/acme/api/API_TOKEN", Value="s3cr3t", Type="SecureString")
    backends.ensure_s3(
        aws("s3"), aws("dynamodb"), "pilot-state-acme", "pilot-state-acme-lock", "us-east-1"
    )
    aws("s3").put_object(Bucket="pilot-state-acme", Key="pilot/server.tfstate", Body=b"{}")
    gcs = emulator_gcs(emulators["gcs"].url)
    gcs.create_bucket("pilot-acme-docs-site").blob("index.html").upload_from_string("hi")
    # Another project's, with names that must not match: they stay.
    aws("s3").create_bucket(Bucket="pilot-acmex-web-site")
    aws("iam").create_user(UserName="someone-else")
    # Project acme-dev's names start with pilot-acme- too: its deployer tells them apart.
    aws("iam").create_user(UserName="pilot-acme-dev-deployer")
    aws("s3").create_bucket(Bucket="pilot-acme-dev-web-site")
    aws("ecr").create_repository(repositoryName="pilot-acme-dev-api")
    aws("logs").create_log_group(logGroupName="/aws/lambda/pilot-acme-dev-fn")
    history.record(
        state_dir,
        "web",
        history.Release("v1", "web", "site", "sha256:1", history.now(), history.LIVE),
    )
    (state_dir / "outputs" / "server.json").write_text("{}")
    yield tmp_path, config, aws, gcs
    sandbox.stop()


@pytest.mark.slow
def test_every_kind_is_found_then_removed(made):
    root, config, aws, gcs = made
    teardown = Teardown(config, root, make_scan(config, root))
    found, problems = teardown.scan.run()
    assert problems == []
    inv = inventory(found, [], {}, keep_state=False)
    kinds = {(t.kind, t.name.split(" ")[0]) for t in inv.remove}
    assert {
        ("S3 bucket", "pilot-acme-web-site"),
        ("Lambda function", "pilot-acme-fn"),
        ("ECR repository", "pilot-acme-fn"),
        ("ECR repository", "pilot-acme-old"),
        ("ECR repository", "pilot-acme-fn/previews"),
        ("ECS cluster", "pilot-acme"),
        ("ECS service", "pilot-acme-api"),
        ("ECS task definition", "pilot-acme-api"),
        ("log group", "/pilot/acme/api"),
        ("log group", "/aws/lambda/pilot-acme-gone"),
        ("SSM parameter", "/pilot/acme/api/API_TOKEN"),
        ("GCS bucket", "pilot-acme-docs-site"),
        ("IAM user", "pilot-acme-deployer"),
        ("IAM role", "pilot-acme-lambda"),
        ("IAM role", "pilot-acme-ecs-exec"),
        ("state bucket", "pilot-state-acme"),
        ("lock table", "pilot-state-acme-lock"),
        ("local record", ".pilot/releases/web.json"),
        ("local record", ".pilot/outputs/server.json"),
        ("local record", ".pilot/keys/aws-deployer.json"),
    } <= kinds
    assert any(t.kind == "CloudFront distribution" and t.app == "web" for t in inv.remove)
    [previews_repo] = [t for t in inv.remove if t.name.startswith("pilot-acme-fn/previews")]
    assert previews_repo.app == "fn"  # removed with its app's things
    assert any(t.kind == "access key" for t in inv.remove)
    assert not any(
        "acmex" in t.name or "someone-else" in t.name or "acme-dev" in t.name for t in inv.remove
    )
    assert all(t.found for t in inv.remove)  # each says how it was found

    said: list[str] = []
    ok = asyncio.run(
        execute(
            teardown, inv, None, None, said.append, lambda step, title: said.append(f"==> {step}")
        )
    )
    assert ok, teardown.failures
    assert (
        said.index("==> apps")
        < said.index("==> deployer")
        < said.index("==> state")
        < said.index("==> local")
    )
    left = asyncio.run(remaining(teardown, None))
    assert left.remove == [] and left.problems == []

    # Asked of the emulators directly: nothing of acme's, the other project's untouched.
    assert sorted(b["Name"] for b in aws("s3").list_buckets()["Buckets"]) == [
        "pilot-acme-dev-web-site",
        "pilot-acmex-web-site",
    ]
    assert aws("lambda").list_functions()["Functions"] == []
    assert [r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]] == [
        "pilot-acme-dev-api"
    ]
    assert aws("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert (
        aws("ecs").describe_clusters(clusters=["pilot-acme"])["clusters"][0]["status"] == "INACTIVE"
    )
    assert [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]] == [
        "/aws/lambda/pilot-acme-dev-fn"
    ]
    assert aws("ssm").describe_parameters()["Parameters"] == []
    assert aws("dynamodb").list_tables()["TableNames"] == []
    iam = aws("iam")
    assert sorted(u["UserName"] for u in iam.list_users()["Users"]) == [
        "pilot-acme-dev-deployer",
        "someone-else",
    ]
    assert not [r for r in iam.list_roles()["Roles"] if "pilot" in r["RoleName"]]
    assert list(gcs.list_buckets()) == []
    assert not (root / ".pilot/keys/aws-deployer.json").exists()
    assert history.live_release(root / ".pilot", "web") is None


@pytest.mark.slow
def test_keep_state_keeps_the_bucket_and_lock_table(made):
    root, config, aws, _ = made
    teardown = Teardown(config, root, make_scan(config, root), keep_state=True)
    found, _ = teardown.scan.run()
    inv = inventory(found, [], {}, keep_state=True)
    assert {t.name for t in inv.keep} == {"pilot-state-acme", "pilot-state-acme-lock"}
    assert asyncio.run(execute(teardown, inv, None, None, lambda _: None, lambda *_: None)), (
        teardown.failures
    )
    left = asyncio.run(remaining(teardown, None))
    assert left.remove == [] and {t.name for t in left.keep} == {
        "pilot-state-acme",
        "pilot-state-acme-lock",
    }
    assert (
        json.loads(
            aws("s3")
            .get_object(Bucket="pilot-state-acme", Key="pilot/server.tfstate")["Body"]
            .read()
        )
        == {}
    )
    assert aws("dynamodb").list_tables()["TableNames"] == ["pilot-state-acme-lock"]


@pytest.mark.slow
def test_a_server_terraform_lost_track_of_is_found_by_its_tag_and_removed(tmp_path, cli):
    """As after an `up` killed mid-apply or a lost state: a tagged network and machine with
    no Terraform state are listed (saying so) and removed in dependency order."""
    assert cli("init", "--name", "acme").code == 0
    config = ProjectFile.load(tmp_path / "pilot.toml").check().config
    sandbox = Sandbox(tmp_path / ".pilot")
    emulators, _ = sandbox.ensure()
    try:
        ec2 = emulator_aws("us-east-1").session.client("ec2", endpoint_url=emulators["aws"].url)
        tags = [{"Key": "pilot:project", "Value": "acme"}]

        def tagged(kind):
            return [{"ResourceType": kind, "Tags": tags}]

        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=tagged("vpc"))["Vpc"][
            "VpcId"
        ]
        subnet = ec2.create_subnet(
            VpcId=vpc, CidrBlock="10.42.1.0/24", TagSpecifications=tagged("subnet")
        )["Subnet"]["SubnetId"]
        gateway = ec2.create_internet_gateway(TagSpecifications=tagged("internet-gateway"))[
            "InternetGateway"
        ]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
        table = ec2.create_route_table(VpcId=vpc, TagSpecifications=tagged("route-table"))[
            "RouteTable"
        ]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        group = ec2.create_security_group(
            GroupName="pilot-acme-server",
            Description="x",
            VpcId=vpc,
            TagSpecifications=tagged("security-group"),
        )["GroupId"]
        ec2.create_key_pair(KeyName="pilot-acme-server")
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.small",
            SubnetId=subnet,
            SecurityGroupIds=[group],
            TagSpecifications=tagged("instance"),
        )["Instances"][0]["InstanceId"]

        teardown = Teardown(config, tmp_path, make_scan(config, tmp_path))
        found, _ = teardown.scan.run()
        inv = inventory(found, [], {}, keep_state=False)
        server = {t.name.split(" ")[0] for t in inv.remove if t.step == "server"}
        assert {vpc, subnet, gateway, table, group, instance} <= server
        assert all("not in Terraform state" in t.found for t in inv.remove if t.step == "server")
        assert asyncio.run(execute(teardown, inv, None, None, lambda _: None, lambda *_: None)), (
            teardown.failures
        )
        assert asyncio.run(remaining(teardown, None)).remove == []
        assert vpc not in {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
        assert (
            ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
                "State"
            ]["Name"]
            == "terminated"
        )
        assert "pilot-acme-server" not in {
            k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]
        }
    finally:
        sandbox.stop()


def test_an_interrupt_stops_before_the_next_step(tmp_path, cli):
    """Ctrl+C (or Esc in the app) during a destroy: the steps not begun are left alone, and
    the destroy says it was interrupted."""
    from pilot_tui.project import Project
    from pilot_tui.provision.server import Server
    from pilot_tui.runner import Interrupt

    assert cli("init", "--name", "acme").code == 0
    config = ProjectFile.load(tmp_path / "pilot.toml").check().config
    record = tmp_path / ".pilot" / "outputs" / "server.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("{}")
    interrupt = Interrupt()
    server = Server(Project(tmp_path / "pilot.toml"), config, lambda _: None, interrupt)
    teardown = Teardown(config, tmp_path, make_scan(config, tmp_path))
    inv = inventory(teardown.scan.run()[0], [], {}, keep_state=False)
    assert [t.name for t in inv.remove] == [".pilot/outputs/server.json"]
    interrupt.request()
    assert not asyncio.run(execute(teardown, inv, server, None, lambda _: None, lambda *_: None))
    assert teardown.failures == ["interrupted before local records in .pilot/"]
    assert record.exists()


def test_destroy_is_refused_while_another_run_holds_the_workspace(sandbox_project):
    from pilot_tui.provision.tf.workspace import WorkspaceLock
    from tests.conftest import run_pilot

    workdir = sandbox_project / ".pilot" / "terraform" / "sandbox"
    workdir.mkdir(parents=True, exist_ok=True)
    lock = WorkspaceLock(workdir, "pilot-tui server up")
    lock.acquire()
    try:
        refused = run_pilot("server", "destroy", "--yes", cwd=sandbox_project)
    finally:
        lock.release()
    assert refused.returncode == 1, refused.stderr
    assert "another `pilot-tui server up` is running" in refused.stderr


def test_destroy_with_sandbox_keeps_a_real_projects_records(tmp_path):
    """`server destroy --sandbox` in a home = "aws" project would delete the checkout's
    records of the real server (outputs, the deployer's key file, release history)."""
    from tests.conftest import run_pilot

    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    outputs = tmp_path / ".pilot" / "outputs" / "server.json"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text('{"home": "aws", "outputs": {"public_ip": "203.0.113.9"}}')
    key = tmp_path / ".pilot" / "keys" / "aws-deployer.json"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("{}")
    refused = run_pilot("server", "destroy", "--sandbox", "--yes", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert 'home is "aws"' in refused.stderr
    assert outputs.exists() and key.exists()


@pytest.mark.terraform  # server destroy plans Terraform's destroy (the guard found .terraform)
def test_buckets_no_target_owns_are_removed_when_provably_pilots_else_kept_and_said(
    tmp_path, cli, monkeypatch
):
    """pilot-acme-* buckets no app's target owns: a hand-set state bucket (removed as the
    state bucket, all versions first), one carrying the project's tag (removed, versions
    first) and a leftover site bucket (removed); one with neither is kept, listed with why
    and how to remove it, and "What remains" never says "nothing" while it is there. The
    neighbour project acme-dev's bucket is neither listed nor touched."""
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = ProjectFile(pf.path, pf.with_value("state.backend", "s3")).with_value(
        "state.bucket", "pilot-acme-tfstate"
    )
    pf.save(text)
    sandbox = Sandbox(tmp_path / ".pilot")
    emulators, _ = sandbox.ensure()
    session = emulator_aws("us-east-1").session

    def aws(service):
        return session.client(service, endpoint_url=emulators["aws"].url)

    s3 = aws("s3")
    backends.ensure_s3(
        s3, aws("dynamodb"), "pilot-acme-tfstate", "pilot-acme-tfstate-lock", "us-east-1"
    )
    s3.put_object(Bucket="pilot-acme-tfstate", Key="old", Body=b"1")
    s3.put_object(Bucket="pilot-acme-tfstate", Key="old", Body=b"2")
    s3.create_bucket(Bucket="pilot-acme-uploads")
    s3.put_bucket_versioning(
        Bucket="pilot-acme-uploads", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_bucket_tagging(
        Bucket="pilot-acme-uploads",
        Tagging={"TagSet": [{"Key": "pilot:project", "Value": "acme"}]},
    )
    for body in (b"1", b"2"):
        s3.put_object(Bucket="pilot-acme-uploads", Key="a.txt", Body=body)
    s3.delete_object(Bucket="pilot-acme-uploads", Key="a.txt")  # a delete marker too
    old = S3Site(s3, aws("cloudfront"), "pilot-acme-old-site", "us-east-1", "acme")
    old.ensure_bucket()  # an app's site, the app since removed from pilot.toml
    s3.put_object(Bucket="pilot-acme-old-site", Key="index.html", Body=b"v1")
    s3.create_bucket(Bucket="pilot-acme-handmade")  # by someone, by hand: no tag
    s3.put_object(Bucket="pilot-acme-handmade", Key="notes.txt", Body=b"mine")
    aws("iam").create_user(UserName="pilot-acme-dev-deployer")  # the neighbour project
    s3.create_bucket(Bucket="pilot-acme-dev-assets")

    seen: dict[str, list[str]] = {}
    stop = Sandbox.stop

    def look_then_stop(self):  # the emulators' buckets die with them: look first
        seen["buckets"] = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
        return stop(self)

    monkeypatch.setattr(Sandbox, "stop", look_then_stop)
    try:
        down = cli("server", "destroy", "--yes")
    finally:
        if "buckets" not in seen:
            seen["buckets"] = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
        stop(sandbox)
    assert seen["buckets"] == ["pilot-acme-dev-assets", "pilot-acme-handmade"], down.out + down.err
    assert down.code == 0, down.out + down.err
    listed = down.out[: down.out.index("What remains")]
    for name in ("pilot-acme-tfstate", "pilot-acme-uploads", "pilot-acme-old-site"):
        assert name in listed, name
    assert "pilot-acme-dev-assets" not in down.out
    assert "What remains: nothing" not in down.out
    assert "Kept, not Pilot's to remove: S3 bucket pilot-acme-handmade" in down.out
    assert "no pilot:project=acme tag" in down.out
    assert "aws s3 rb s3://pilot-acme-handmade --force" in down.out
