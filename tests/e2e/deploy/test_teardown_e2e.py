"""The whole teardown, as a user runs it: `server up` in the sandbox, a static site on
S3 + CloudFront, a zip Lambda and an app on this machine's Docker (the private engine), then
`server destroy --yes`. The sandbox's moto and GCS emulator are asked directly, just before
destroy stops them (their state lives in memory): nothing tagged or named for the project is
left, no IAM user, access key or role, and no container of the project on the Docker host."""

from __future__ import annotations

import json
import shutil

import pytest

from pilot_tui.cloud.clients import emulator_aws, emulator_gcs
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid
from tests.support.deploy_fixtures import HELLO, LAMBDA_FIXTURES, get


def what_pilot_left(state_dir, project: str) -> dict[str, list[str]]:
    """Everything of ``project`` the emulators still hold, asked with plain boto3 /
    google-cloud-storage calls (not Pilot's own scan)."""
    emulators = Sandbox(state_dir).running()
    session = emulator_aws("us-east-1").session

    def aws(service):
        return session.client(service, endpoint_url=emulators["aws"].url)

    iam = aws("iam")
    users = [u["UserName"] for u in iam.list_users()["Users"]]
    tagged = aws("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "pilot:project", "Values": [project]}]
    )["ResourceTagMappingList"]
    everything = [
        i for r in aws("ec2").describe_instances()["Reservations"] for i in r["Instances"]
    ]
    instances = [i["InstanceId"] for i in everything if i["State"]["Name"] != "terminated"]
    # EC2 keeps showing a terminated instance (and its tags) for a while: it is gone.
    terminated = {i["InstanceId"] for i in everything if i["State"]["Name"] == "terminated"}
    return {
        "tagged": [
            r["ResourceARN"]
            for r in tagged
            if r["ResourceARN"].rsplit("/", 1)[-1] not in terminated
        ],
        "users": users,
        "access keys": [
            k["AccessKeyId"]
            for u in users
            for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]
        ],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "buckets": [b["Name"] for b in aws("s3").list_buckets()["Buckets"]],
        "functions": [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]],
        "distributions": [
            d["Id"]
            for d in aws("cloudfront").list_distributions()["DistributionList"].get("Items", [])
            or []
        ],
        "repositories": [
            r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]
        ],
        "log groups": [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]],
        "instances": instances,
        "vpcs": [
            v["VpcId"]
            for v in aws("ec2").describe_vpcs(
                Filters=[{"Name": "tag:pilot:project", "Values": [project]}]
            )["Vpcs"]
        ],
        "gcs buckets": [b.name for b in emulator_gcs(emulators["gcs"].url).list_buckets()],
    }


@pytest.fixture
def sandbox_apps(
    tmp_path, cli, docker_engine, python_base, edge_image, lambda_runtime, monkeypatch
):
    for name, value in lambda_runtime.items():  # moto runs the function on the engine
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PILOT_PROXY_IMAGE", edge_image)
    assert cli("init", "--name", "acme").code == 0
    from pilot_tui.apps import add_app
    from pilot_tui.cloud.sandbox import free_port

    shutil.copytree(HELLO, tmp_path / "hello")
    shutil.copytree(LAMBDA_FIXTURES / "hello_fn", tmp_path / "fn")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>site</h1>")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    port = free_port()
    text = pf.with_value("server.http_port", port)
    for app in (
        {"name": "web", "path": "site", "target": {"kind": "s3-cloudfront"}},
        {"name": "fn", "path": "fn", "target": {"kind": "lambda", "package": "zip", "memory": 128}},
        {
            "name": "hello",
            "path": "hello",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 20},
        },
    ):
        text = add_app(text, app)
    pf.save(text)
    yield tmp_path, port
    for emulator in Sandbox(tmp_path / ".pilot").load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    for container in client.containers.list(all=True, filters={"label": "pilot.project"}):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"name": "pilot-proxy"}):
        container.remove(force=True)
    client.close()


@pytest.mark.terraform
def test_server_destroy_leaves_nothing(sandbox_apps, cli, docker_client, monkeypatch):
    root, port = sandbox_apps
    up = cli("server", "up", "--yes")
    assert up.code == 0, up.err
    for app in ("web", "fn", "hello"):
        deployed = cli("deploy", app)
        assert deployed.code == 0, deployed.err
    assert get(port, "hello.localhost", "/index.html") == "hello v1"
    before = what_pilot_left(root / ".pilot", "acme")
    assert before["users"] == ["pilot-acme-deployer"] and before["access keys"]
    assert {"pilot-acme-lambda", "pilot-acme-ecs-exec"} <= set(before["roles"])
    assert "pilot-acme-web-site" in before["buckets"] and before["functions"]
    assert docker_client.containers.list(filters={"label": "pilot.project=acme"})

    seen: dict[str, dict[str, list[str]]] = {}
    stop = Sandbox.stop

    def look_then_stop(self):  # the emulators' state dies with them: look first
        seen["left"] = what_pilot_left(self.state_dir, "acme")
        return stop(self)

    monkeypatch.setattr(Sandbox, "stop", look_then_stop)
    down = cli("server", "destroy", "--yes")
    assert down.code == 0, down.err
    for listed in (
        "pilot-acme-deployer",
        "pilot-acme-lambda",
        "pilot-acme-ecs-exec",
        "pilot-acme-web-site",
        "pilot-acme-fn",
        "aws_instance.server",
        "pilot-acme-hello-v1",
        "aws-deployer.json",
        "releases/web.json",
    ):
        assert listed in down.out, listed  # all of it was listed before it went
    assert "What remains: nothing." in down.out and "The Pilot Server is gone." in down.out
    left = seen["left"]
    assert {kind: names for kind, names in left.items() if names} == {}
    assert docker_client.containers.list(all=True, filters={"label": "pilot.project=acme"}) == []
    assert docker_client.containers.list(all=True, filters={"name": "pilot-proxy"}) == []
    with pytest.raises(OSError):  # nothing answers for the app any more (item 31)
        get(port, "hello.localhost", "/index.html")
    assert not (root / ".pilot/keys/aws-deployer.json").exists()
    status = cli("status", "--json")
    rows = json.loads(status.out)
    assert [r["release"] for r in rows if r["app"] != "(proxy)"] == [None, None, None], rows
