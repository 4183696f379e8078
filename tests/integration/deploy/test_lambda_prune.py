"""Lambda previews past their TTL, removed by the agent on the Pilot Server with no laptop
(data/agent/lambda_previews.py).

The agent's module runs for real, in a process of its own as the server's container runs
it, against the local AWS API (moto) on 127.0.0.1: its Signature V4 requests (checked
against botocore's in tests/unit/test_backup_agent.py), the tagging API's listing, Lambda's
configuration, tags and delete, and CloudWatch Logs. moto takes any credentials and does
not evaluate IAM: what the server's role may do is checked as data below and in
tests/integration/test_templates.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import boto3
import pytest

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.deploy.previews import Preview
from tests.support.paths import REPO

REGION = "us-east-1"
HOUR = 3600.0
TTL = 72 * HOUR


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


class Account:
    """The local AWS API's Lambda and Logs, with the functions a project may have."""

    def __init__(self) -> None:
        self.lam = boto3.client("lambda", region_name=REGION)
        self.logs = boto3.client("logs", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        self.role = iam.create_role(
            RoleName="pilot-acme-lambda",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]

    def function(self, name: str, tags: dict[str, str]) -> None:
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role,
            Handler="app.handler",
            Code={"ZipFile": _code()},
            Tags=tags,
        )
        self.logs.create_log_group(logGroupName=f"/aws/lambda/{name}")

    def preview(self, project: str, app: str, name: str, expires: float) -> str:
        function = f"pilot-{project}-{app}--{name}"
        labels = Preview(app, name, expires).labels()
        self.function(function, {"pilot:project": project, **labels})
        return function

    def functions(self) -> set[str]:
        return {f["FunctionName"] for f in self.lam.list_functions()["Functions"]}

    def log_groups(self) -> set[str]:
        found = self.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
        return {g["logGroupName"].removeprefix("/aws/lambda/") for g in found}


def run_agent(
    tmp_path, endpoint: str, at: float, ttls: dict[str, float], state_bucket: str | None = None
):
    """One look for expired previews, as `python -m pilot_tui.data.agent --prune-previews`
    runs in the agent's container, with the sandbox's placeholder keys."""
    settings = tmp_path / "agent.json"
    settings.write_text(
        json.dumps(
            {
                "project": "acme",
                "store": None,
                "databases": [],
                "previews": None,
                "cloud_run": None,
                "lambda": {
                    "region": REGION,
                    "ttls": ttls,
                    "endpoint": endpoint,
                    "state_bucket": state_bucket,
                },
            }
        )
    )
    env = {
        "PATH": os.environ["PATH"],
        "PILOT_AGENT_SETTINGS": str(settings),
        "PYTHONPATH": str(REPO),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    argv = [sys.executable, "-m", "pilot_tui.data.agent", "--prune-previews", "--at", str(at)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_the_agent_removes_this_projects_expired_lambda_previews_and_nothing_else(tmp_path, moto):
    now = time.time()
    account = Account()
    account.function("pilot-acme-web", {"pilot:project": "acme"})  # the app's own
    expired = account.preview("acme", "web", "old", now - 60)
    fresh = account.preview("acme", "web", "fresh", now + HOUR)
    # an expiry tag no deploy could have written (a pull request's run may write tags):
    # bounded by the function's last change (just now) + TTL, so it goes at that bound
    forged = account.preview("acme", "web", "forged", now + 400 * 24 * HOUR)
    # a neighbour project whose names match this one's pattern (acme-x's web = acme's x-web)
    neighbour = account.preview("acme-x", "web", "old", now - 60)
    # named as a preview, tagged as the app's preview, but of another app: not given
    other_app = account.preview("acme", "api", "old", now - 60)
    # tagged as a preview of web, but not named as Pilot names it
    account.function(
        "pilot-acme-handmade", {"pilot:project": "acme", **Preview("web", "hm", now - 60).labels()}
    )
    before = account.functions()

    looked = run_agent(tmp_path, moto, now, {"web": TTL})
    assert looked.returncode == 0, looked.stdout + looked.stderr
    assert "removed the Lambda preview web--old: its TTL ran out" in looked.stdout
    assert account.functions() == before - {expired}
    assert expired not in account.log_groups() and fresh in account.log_groups()
    for kept in ("pilot-acme-web", fresh, forged, neighbour, other_app, "pilot-acme-handmade"):
        assert kept in account.functions()

    # past the forged tag's bound (its last change + TTL), long before what it says
    later = run_agent(tmp_path, moto, now + TTL + 120, {"web": TTL})
    assert later.returncode == 0, later.stdout + later.stderr
    assert "removed the Lambda preview web--forged" in later.stdout
    assert forged not in account.functions() and forged not in account.log_groups()
    assert fresh not in account.functions()  # its own expiry passed too
    assert {"pilot-acme-web", neighbour, other_app, "pilot-acme-handmade"} <= account.functions()

    # nothing left to remove: a quiet look
    again = run_agent(tmp_path, moto, now + TTL + 180, {"web": TTL})
    assert again.returncode == 0 and "removed" not in again.stdout, again.stdout


def test_a_preview_deployed_again_since_the_listing_is_decided_on_its_own_tags(
    tmp_path, moto, monkeypatch
):
    """The tagging API may lag a deploy by minutes: the expiry its listing shows is not
    the one that decides, the function's own tags are (read just before the delete)."""
    from pilot_tui.data.agent import lambda_previews
    from pilot_tui.data.agent.aws import AwsApi

    now = time.time()
    account = Account()
    function = account.preview("acme", "web", "pr-1", now - 60)
    api = AwsApi(REGION, {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}, moto)
    settings = lambda_previews.LambdaPreviews(REGION, {"web": TTL}, moto)
    stale = list(lambda_previews.tagged(api, "acme", ["web"]))  # the listing, as it lags
    # deployed again: a new expiry on the function itself
    renewed = Preview("web", "pr-1", now + TTL).labels()
    arn = account.lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    account.lam.tag_resource(Resource=arn, Tags=renewed)

    monkeypatch.setattr(lambda_previews, "tagged", lambda *_: iter(stale))
    said: list[str] = []
    removed = lambda_previews.prune(settings, "acme", now, said.append, api)
    assert removed == [] and function in account.functions(), said


def test_an_unreachable_api_fails_the_look_and_says_where(tmp_path):
    looked = run_agent(tmp_path, "http://127.0.0.1:9", time.time(), {"web": TTL})
    assert looked.returncode == 1
    assert "Lambda previews: cannot reach tagging at 127.0.0.1:9" in looked.stdout


@pytest.mark.terraform
@pytest.mark.parametrize("backend", ["s3", "local"])
def test_server_up_grants_the_removal_and_a_preview_deploy_sets_the_agent_to_it(
    fn_project, cli, python_base, monkeypatch, backend
):
    """End to end in the sandbox, with S3 state or local state (the server's role exists
    for the previews alone too; a regression: it existed only with a state bucket, so a
    project with local state had its previews left to laptops):
    `server up` applies the real template against the local AWS API, granting the server's
    role the removal of fn's previews and nothing of fn itself (its policy read back and
    evaluated); a zip preview's deploy, which needs no Docker host, opens the server's to
    set its agent to Lambda previews; the agent's container then removes the preview once
    its TTL ran out, with no laptop."""
    import docker

    from pilot_tui.data import scheduling
    from pilot_tui.provision.outputs import saved_outputs
    from tests.unit.test_deployer_policy import allows

    monkeypatch.setenv("PILOT_PYTHON_BASE", python_base)  # the agent's base
    root = fn_project
    project = f"lprune{backend}"  # its own agent container on the shared engine
    for key, value in (("project.name", project), ("state.backend", backend)):
        assert cli("config", "set", key, value).code == 0
    up = cli("server", "up", "--yes")
    assert up.code == 0, up.err
    assert saved_outputs(root / ".pilot")["lambda_previews"] == ["fn"]

    url = Sandbox(root / ".pilot").running()["aws"].url
    session = emulator_aws(REGION).session
    iam = session.client("iam", endpoint_url=url)
    policy = iam.get_role_policy(
        RoleName=f"pilot-{project}-server", PolicyName=f"pilot-{project}-previews"
    )
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    account = session.client("sts", endpoint_url=url).get_caller_identity()["Account"]
    functions = f"arn:aws:lambda:{REGION}:{account}:function:pilot-{project}-fn"
    logs = f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/pilot-{project}-fn"
    preview = {"aws:ResourceTag/pilot:project": project, "aws:ResourceTag/pilot.preview-of": "fn"}
    own = {"aws:ResourceTag/pilot:project": project}
    for action in ("lambda:GetFunctionConfiguration", "lambda:ListTags", "lambda:DeleteFunction"):
        assert allows(document, action, preview, f"{functions}--pr-1")
        assert not allows(document, action, own, functions)  # the app's own function
        assert not allows(document, action, own, f"{functions}--pr-1")  # untagged
        neighbour = {**preview, "aws:ResourceTag/pilot:project": "other"}
        assert not allows(document, action, neighbour, f"{functions}--pr-1")
    assert allows(document, "logs:DeleteLogGroup", {}, f"{logs}--pr-1")
    assert not allows(document, "logs:DeleteLogGroup", {}, logs)
    assert not allows(document, "lambda:UpdateFunctionCode", preview, f"{functions}--pr-1")
    assert allows(document, "tag:GetResources", {}, "*")
    # reading previews' deploy leases (a preview being deployed is kept), nothing else;
    # with no state bucket, nothing of any bucket
    state = f"arn:aws:s3:::pilot-state-{project}"
    leases = allows(document, "s3:GetObject", {}, f"{state}/pilot/locks/fn--pr-1.json")
    assert leases is (backend == "s3")
    backups = iam.list_role_policies(RoleName=f"pilot-{project}-server")["PolicyNames"]
    assert (f"pilot-{project}-backups" in backups) is (backend == "s3")
    assert not allows(document, "s3:GetObject", {}, f"{state}/pilot/locks/fn.json")
    assert not allows(document, "s3:GetObject", {}, f"{state}/pilot/releases/fn.json")

    assert cli("deploy", "fn").code == 0
    deployed = cli("deploy", "fn", "--preview", "pr-1")
    assert deployed.code == 0, deployed.err
    client = docker.from_env()
    try:
        agent = client.containers.get(scheduling.container_name(project))
        lam = session.client("lambda", endpoint_url=url)
        names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        assert f"pilot-{project}-fn--pr-1" in names
        at = str(time.time() + TTL + 60)
        done = agent.exec_run(
            ["python3", "-m", "pilot_tui.data.agent", "--prune-previews", "--at", at]
        )
        assert done.exit_code == 0, done.output
        assert b"removed the Lambda preview fn--pr-1: its TTL ran out" in done.output
        names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        assert names == {f"pilot-{project}-fn"}
        schedule = cli("db", "schedule")
        assert "Lambda previews of fn" in schedule.out + schedule.err
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(scheduling.container_name(project)).remove(force=True)
        client.close()


AWS_TOML = """[project]
name = "acme"

[server]
home = "aws"

[state]
backend = "s3"

[[apps]]
name = "web"
path = "web"

  [apps.target]
  kind = "lambda"

[[apps]]
name = "api"
path = "api"

  [apps.target]
  kind = "lambda"

  [apps.previews]
  max = 0

[[apps]]
name = "site"
path = "site"

  [apps.target]
  kind = "s3-cloudfront"
"""


def _outputs(state_dir, **outputs) -> None:
    """The server's outputs as `server up` records them (terraform/aws's)."""
    (state_dir / "outputs").mkdir(parents=True, exist_ok=True)
    record = {"home": "aws", "outputs": outputs}
    (state_dir / "outputs" / "server.json").write_text(json.dumps(record))


def test_the_agents_lambda_look_as_data(tmp_path):
    """Which apps `server up` grants (Lambda apps with previews), and the agent looks
    after only what the server's role was granted: nothing before `server up` did."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.data import scheduling
    from pilot_tui.data.agent import run as agent_run
    from pilot_tui.deploy.host import DockerTarget
    from pilot_tui.provision.tf.variables import variables

    config = check_text(AWS_TOML).config
    assert config is not None
    assert variables(config, "aws", tmp_path, "k", ["127.0.0.1/32"])["lambda_preview_apps"] == [
        "web"
    ]
    state_dir = tmp_path / ".pilot"
    ssh = DockerTarget("ssh", "ssh://ubuntu@host", host="host", remote_socket="/run/docker.sock")
    assert scheduling.lambda_previews(config, state_dir) is None  # no server yet
    _outputs(state_dir, lambda_previews=[])  # a server made without the grant
    assert scheduling.agent_plan(config, ssh, state_dir) is None
    _outputs(state_dir, lambda_previews=["web", "gone"])  # an app since taken out: not looked at
    plan = scheduling.agent_plan(config, ssh, state_dir)
    assert plan is not None and plan.settings["store"] is None
    assert plan.settings["lambda"] == {
        "region": "us-east-1",
        "ttls": {"web": TTL},
        "endpoint": None,
        "state_bucket": "pilot-state-acme",  # where a preview being deployed holds its lease
    }
    assert plan.network_mode == "host" and plan.environment == {}  # the instance role's
    assert scheduling.pruned(plan) == ["Lambda previews of web"]  # `db schedule` says it
    written = tmp_path / "agent.json"
    written.write_text(json.dumps(plan.settings))
    loaded = agent_run.load(written)
    assert loaded.lambda_ is not None and loaded.lambda_.ttls == {"web": TTL}
    assert loaded.prunes and loaded.edge is None and loaded.cloud_run is None
    # no Lambda app with previews: nothing goes to the template
    none = check_text(
        AWS_TOML.replace(
            'kind = "lambda"\n\n[[apps]]\nname = "api"',
            'kind = "lambda"\n\n  [apps.previews]\n  max = 0\n\n[[apps]]\nname = "api"',
        )
    ).config
    assert none is not None
    assert variables(none, "aws", tmp_path, "k", ["127.0.0.1/32"])["lambda_preview_apps"] is None


def test_one_preview_that_cannot_be_read_stops_no_other(tmp_path, moto, monkeypatch):
    """Regression (review): a refusal reading one function (throttled, a grant not in force
    yet) ended the look: the previews listed after it were never looked at, and the
    failures gathered were never said. Lambda's throttling is put in front of the local
    AWS API for one function."""
    from pilot_tui.data.agent import lambda_previews
    from pilot_tui.data.agent.aws import AwsApi, AwsApiError
    from pilot_tui.errors import PilotError

    now = time.time()
    account = Account()
    throttled = account.preview("acme", "web", "a", now - 60)
    after = account.preview("acme", "web", "b", now - 60)
    real = lambda_previews._decided

    def flaky(api, project, settings, name, at):
        if name == throttled:
            raise AwsApiError("lambda GET: TooManyRequestsException: Rate exceeded", 429)
        return real(api, project, settings, name, at)

    monkeypatch.setattr(lambda_previews, "_decided", flaky)
    api = AwsApi(REGION, {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}, moto)
    settings = lambda_previews.LambdaPreviews(REGION, {"web": TTL}, moto)
    said: list[str] = []
    with pytest.raises(PilotError, match=f"could not remove {throttled}: .*Rate exceeded"):
        lambda_previews.prune(settings, "acme", now, said.append, api)
    assert "removed the Lambda preview web--b: its TTL ran out" in said
    assert after not in account.functions() and throttled in account.functions()


def test_a_preview_deploy_says_when_the_server_will_not_remove_it(tmp_path):
    """A server made before the app ran previews (or by an earlier Pilot) has no grant for
    them: the preview's deploy says so and what grants it."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.targets import target_for

    config = check_text(AWS_TOML).config
    assert config is not None
    state_dir = tmp_path / ".pilot"
    engine = Deployer(None, None, config, state_dir, tmp_path, lambda event: None)
    app = config.app("web")
    assert app is not None
    preview = target_for(app).preview(Preview("web", "pr-1", time.time() + TTL))

    def said() -> str | None:
        return preview._not_removed_by_the_server(engine)  # type: ignore[attr-defined]

    assert said() is None  # no server yet: nothing to say
    _outputs(state_dir, public_ip="203.0.113.7")  # made by an earlier Pilot
    assert "`pilot-tui server up` grants it" in (said() or "")
    _outputs(state_dir, lambda_previews=[])  # made before web ran previews
    assert "may not remove web's previews" in (said() or "")
    _outputs(state_dir, lambda_previews=["web"])
    assert said() is None
    # with local state too: the server's role exists for the previews alone
    local = check_text(AWS_TOML.replace('backend = "s3"', 'backend = "local"')).config
    assert local is not None
    engine = Deployer(None, None, local, state_dir, tmp_path, lambda event: None)
    _outputs(state_dir, lambda_previews=[])
    assert "may not remove web's previews" in (said() or "")


def test_a_preview_being_deployed_is_kept_past_its_ttl(tmp_path, moto):
    """A preview whose lease holds in the state bucket (a deploy of it under way, from a
    laptop or a CI run) is kept, however expired its tags say it is; once the lease is
    given back the TTL decides. Against the local AWS API's S3 and Lambda."""
    from pilot_tui.deploy import lease_rules

    now = time.time()
    account = Account()
    function = account.preview("acme", "web", "pr-1", now - 60)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="pilot-state-acme")
    held = {"holder": "GitHub Actions acme/web run 9", "what": "preview", "since": now}
    s3.put_object(
        Bucket="pilot-state-acme",
        Key=lease_rules.key("web--pr-1"),
        Body=json.dumps({**held, "renewed": now, "released": False}).encode(),
    )
    looked = run_agent(tmp_path, moto, now, {"web": TTL}, "pilot-state-acme")
    assert looked.returncode == 0, looked.stdout + looked.stderr
    assert "kept the preview web--pr-1: a deploy of it is under way" in looked.stdout
    assert function in account.functions()
    s3.put_object(
        Bucket="pilot-state-acme",
        Key=lease_rules.key("web--pr-1"),
        Body=json.dumps({**held, "renewed": now, "released": True}).encode(),
    )
    looked = run_agent(tmp_path, moto, now, {"web": TTL}, "pilot-state-acme")
    assert "removed the Lambda preview web--pr-1" in looked.stdout, looked.stdout
    assert function not in account.functions()


def test_a_lease_holds_by_the_buckets_clock_until_given_back_or_lapsed():
    from pilot_tui.deploy import lease_rules

    held = json.dumps({"holder": "ann", "renewed": 0, "released": False}).encode()
    assert lease_rules.holds(held, 10.0)
    assert not lease_rules.holds(held, lease_rules.LEASE)  # not renewed for 5 minutes
    given = json.dumps({"holder": "ann", "released": True}).encode()
    assert not lease_rules.holds(given, 10.0)
    assert not lease_rules.holds(b"not json", 10.0)  # guards nothing
