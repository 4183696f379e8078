"""The ECS-on-Fargate target against the sandbox's local AWS API (a real moto server), with
real boto3 calls: cluster, role, log group, security groups, load balancer, task definition
revisions, service, rollback, status, logs, secrets in SSM, and nothing left after destroy.

What moto does not do, and so is not claimed here: it starts no containers (a service only
*reports* running tasks: MOTO_ECS_SERVICE_RUNNING below), nothing writes to CloudWatch,
the load balancer serves nothing, and a registered target is always "healthy"."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pilot_tui.cloud.aws_errors import aws_call
from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.schema import EcsTarget
from pilot_tui.deploy.targets.ecs.network import short_name
from pilot_tui.deploy.targets.ecs.service import EcsService, open_ecs
from pilot_tui.deploy.targets.managed import TargetError

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """(emulators, state dir): one moto server for the module. Its services report one
    running task each (moto's own switch: it never starts a container)."""
    state_dir = tmp_path_factory.mktemp("emulators")
    sandbox = Sandbox(state_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
        running, _ = sandbox.ensure()
    yield running, state_dir
    sandbox.stop()


class Aws:
    """boto3 clients on the moto server, for checking what the target made."""

    def __init__(self, url: str, region: str) -> None:
        session = emulator_aws(region).session
        for service in ("ecs", "ec2", "elbv2", "iam", "logs", "ssm"):
            setattr(self, service, session.client(service, endpoint_url=url))


def ecs_target(
    moto,
    project: str,
    app: str,
    region: str = REGION,
    secret_names: tuple[str, ...] = (),
    **settings,
) -> EcsService:
    aws = Aws(moto[0]["aws"].url, region)
    return EcsService(
        aws.ecs,
        aws.ec2,
        aws.elbv2,
        aws.iam,
        aws.logs,
        aws.ssm,
        project,
        app,
        EcsTarget(**settings),
        region,
        secret_names,
        timeout=5,
        poll=0.05,
    )


def image(project: str, app: str, tag: str) -> str:
    return f"123456789012.dkr.ecr.{REGION}.amazonaws.com/pilot-{project}-{app}:{tag}"


def groups(aws: Aws, name: str) -> list[dict]:
    return aws.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])[
        "SecurityGroups"
    ]


@pytest.mark.slow
def test_deploy_twice_then_roll_back(moto):
    target = ecs_target(moto, "acme", "web", health_path="/healthz")
    aws = Aws(moto[0]["aws"].url, REGION)
    said: list[str] = []
    first = target.deploy(image("acme", "web", "v1"), {"GREETING": "hi"}, "v1", said.append)
    assert first.ref.endswith(":task-definition/pilot-acme-web:1")
    assert first.url.startswith("http://pilot-acme-web-") and first.url.endswith(
        f".{REGION}.elb.amazonaws.com/"
    )
    for line in (
        "created cluster pilot-acme",
        "created task execution role pilot-acme-ecs-exec",
        "created log group /pilot/acme/web (30 days)",
        "created load balancer pilot-acme-web",
        "created listener :80 on pilot-acme-web",
        "task definition pilot-acme-web:1",
        "created service pilot-acme-web in cluster pilot-acme",
        "waiting for 1 task of pilot-acme-web:1 to be healthy",
    ):
        assert any(s.startswith(line) for s in said), (line, said)

    role = aws.iam.get_role(RoleName="pilot-acme-ecs-exec")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs-tasks.amazonaws.com"
    }
    attached = aws.iam.list_attached_role_policies(RoleName="pilot-acme-ecs-exec")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == [
        "AmazonECSTaskExecutionRolePolicy"
    ]
    log_group = aws.logs.describe_log_groups(logGroupNamePrefix="/pilot/acme/web")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in log_group] == [
        ("/pilot/acme/web", 30)
    ]
    lb_group, task_group = (
        groups(aws, "pilot-acme-web-lb")[0],
        groups(aws, "pilot-acme-web-tasks")[0],
    )
    assert [(r["FromPort"], r["IpRanges"]) for r in lb_group["IpPermissions"]] == [
        (80, [{"CidrIp": "0.0.0.0/0"}])
    ]
    [rule] = task_group["IpPermissions"]  # only the app port, only from the load balancer
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"]) == (8080, 8080, [])
    assert [g["GroupId"] for g in rule["UserIdGroupPairs"]] == [lb_group["GroupId"]]
    [tg] = aws.elbv2.describe_target_groups(Names=["pilot-acme-web"])["TargetGroups"]
    assert (tg["TargetType"], tg["Port"], tg["HealthCheckPath"]) == ("ip", 8080, "/healthz")
    [balancer] = aws.elbv2.describe_load_balancers(Names=["pilot-acme-web"])["LoadBalancers"]
    [listener] = aws.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
        "Listeners"
    ]
    assert (
        listener["Port"] == 80
        and listener["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    )

    definition = aws.ecs.describe_task_definition(taskDefinition=first.ref)["taskDefinition"]
    assert (
        definition["requiresCompatibilities"],
        definition["networkMode"],
        definition["cpu"],
        definition["memory"],
    ) == (["FARGATE"], "awsvpc", "256", "512")
    assert definition["executionRoleArn"] == role["Arn"]
    [container] = definition["containerDefinitions"]
    assert container["name"] == "web" and container["image"].endswith(":v1")
    assert container["portMappings"][0]["containerPort"] == 8080
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "GREETING": "hi",
        "PORT": "8080",
    }
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/pilot/acme/web",
            "awslogs-region": REGION,
            "awslogs-stream-prefix": "v1",
        },
    }
    [service] = aws.ecs.describe_services(cluster="pilot-acme", services=["pilot-acme-web"])[
        "services"
    ]
    assert service["launchType"] == "FARGATE" and service["desiredCount"] == 1
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    assert network["assignPublicIp"] == "ENABLED" and len(network["subnets"]) >= 2
    assert network["securityGroups"] == [task_group["GroupId"]]
    assert service["loadBalancers"] == [
        {"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}
    ]

    said.clear()
    target.settings.port = 9090  # a changed port moves the tasks' only rule with it
    second = target.deploy(image("acme", "web", "v2"), {"GREETING": "hello"}, "v2", said.append)
    assert second.ref.endswith("pilot-acme-web:2") and second.url == first.url
    assert not [s for s in said if s.startswith("created")], said  # all found again
    assert "updated service pilot-acme-web to pilot-acme-web:2" in said
    [service] = aws.ecs.describe_services(cluster="pilot-acme", services=["pilot-acme-web"])[
        "services"
    ]
    assert service["taskDefinition"] == second.ref
    [rule] = groups(aws, "pilot-acme-web-tasks")[0]["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (9090, 9090)
    listed = aws.ecs.list_task_definitions(familyPrefix="pilot-acme-web")["taskDefinitionArns"]
    assert listed == [first.ref, second.ref]

    said.clear()
    back = target.activate(first.ref, said.append)
    assert back.ref == first.ref and back.url == first.url
    assert said[0] == "service pilot-acme-web now runs pilot-acme-web:1"
    [service] = aws.ecs.describe_services(cluster="pilot-acme", services=["pilot-acme-web"])[
        "services"
    ]
    assert service["taskDefinition"] == first.ref
    missing = first.ref.replace(":1", ":7")
    with pytest.raises(TargetError, match=re.escape(f"task definition {missing} does not")):
        target.activate(missing, said.append)
    target.destroy(said.append)


@pytest.mark.slow
def test_status(moto):
    aws = Aws(moto[0]["aws"].url, REGION)
    target = ecs_target(moto, "beta", "web")
    assert target.status().health == "not deployed" and target.status().url == "-"
    revision = target.deploy(image("beta", "web", "v1"), {}, "v1", lambda line: None)
    status = target.status()
    assert (status.health, status.url, status.ok) == ("healthy", revision.url, True)
    assert status.detail == "1/1 tasks running, task definition pilot-beta-web:1"
    # ECS registers its tasks' addresses in the target group; moto's tasks have none, so a
    # target is registered by hand. moto calls every registered target healthy.
    [tg] = aws.elbv2.describe_target_groups(Names=["pilot-beta-web"])["TargetGroups"]
    aws.elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "172.31.0.10", "Port": 8080}]
    )
    assert target.status().detail.endswith(", 1/1 load balancer targets healthy")

    # Two tasks wanted, moto reports one running: the deploy times out, status says why.
    busy = ecs_target(moto, "beta", "api", desired_count=2)
    busy.timeout = 0.3
    with pytest.raises(
        TargetError,
        match="timed out after 0s waiting for ECS service pilot-beta-api to run pilot-beta-api:1",
    ):
        busy.deploy(image("beta", "api", "v1"), {}, "v1", lambda line: None)
    status = busy.status()
    assert status.health == "unhealthy (1/2 tasks running)" and not status.ok
    assert status.detail == "1/2 tasks running, task definition pilot-beta-api:1, 1 pending"

    idle = ecs_target(moto, "beta", "cron", desired_count=0)
    said: list[str] = []
    idle.deploy(image("beta", "cron", "v1"), {}, "v1", said.append)
    assert "not waiting for tasks to start" in said and idle.status().health == "stopped"
    for each in (target, busy, idle):
        each.destroy(lambda line: None)


def test_logs_oldest_first(moto):
    aws = Aws(moto[0]["aws"].url, REGION)
    target = ecs_target(moto, "gamma", "web")
    assert list(target.logs()) == []  # no log group yet: nothing, not an error
    target.deploy(image("gamma", "web", "v1"), {}, "v1", lambda line: None)
    assert list(target.logs()) == []
    # moto runs no tasks, so nothing writes to CloudWatch: the lines the awslogs driver
    # would write (stream prefix/container/task id) are put here by hand.
    now = int(time.time() * 1000)
    for stream, events in (
        ("v1/web/task-a", [(now - 3000, "booting"), (now - 1000, "ready")]),
        ("v1/web/task-b", [(now - 2000, "booting too\n")]),
    ):
        aws.logs.create_log_stream(logGroupName="/pilot/gamma/web", logStreamName=stream)
        aws.logs.put_log_events(
            logGroupName="/pilot/gamma/web",
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events],
        )
    lines = list(target.logs())
    assert [(line.text, line.source) for line in lines] == [
        ("booting", "v1/web/task-a"),
        ("booting too", "v1/web/task-b"),
        ("ready", "v1/web/task-a"),
    ]
    assert lines[0].timestamp == pytest.approx((now - 3000) / 1000)
    assert [line.text for line in target.logs(limit=2)] == ["booting too", "ready"]
    assert [line.text for line in target.logs(since=(now - 1500) / 1000)] == ["ready"]
    target.destroy(lambda line: None)
    assert list(target.logs()) == []


@pytest.mark.slow
def test_destroy_leaves_nothing_and_keeps_what_others_use(moto):
    aws = Aws(moto[0]["aws"].url, REGION)
    web, web2 = ecs_target(moto, "delta", "web"), ecs_target(moto, "delta", "web2")
    for target in (web, web2):
        for release in ("v1", "v2"):
            target.deploy(image("delta", target.app, release), {}, release, lambda line: None)

    said: list[str] = []
    done = web.destroy(said.append)
    assert [line.split(" (sg-")[0] for line in done] == [
        "deleted service pilot-delta-web",
        "deregistered task definitions pilot-delta-web:1, pilot-delta-web:2",
        "deleted listener :80 of pilot-delta-web",
        "deleted load balancer pilot-delta-web",
        "deleted target group pilot-delta-web",
        "deleted security group pilot-delta-web-tasks",
        "deleted security group pilot-delta-web-lb",
        "deleted log group /pilot/delta/web",
    ]
    assert said[-1] == "kept cluster pilot-delta: still used by pilot-delta-web2"
    # moto keeps a deleted service listed (as INACTIVE, like AWS does for a while).
    services = aws.ecs.describe_services(
        cluster="pilot-delta", services=aws.ecs.list_services(cluster="pilot-delta")["serviceArns"]
    )["services"]
    assert {s["serviceName"]: s["status"] for s in services} == {
        "pilot-delta-web": "INACTIVE",
        "pilot-delta-web2": "ACTIVE",
    }
    active = aws.ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
    assert [a for a in active if "pilot-delta-web:" in a] == []
    assert len([a for a in active if "pilot-delta-web2:" in a]) == 2  # same prefix, kept
    balancers = [
        b["LoadBalancerName"] for b in aws.elbv2.describe_load_balancers()["LoadBalancers"]
    ]
    assert "pilot-delta-web" not in balancers and "pilot-delta-web2" in balancers
    assert "pilot-delta-web" not in [
        t["TargetGroupName"] for t in aws.elbv2.describe_target_groups()["TargetGroups"]
    ]
    assert groups(aws, "pilot-delta-web-lb") == groups(aws, "pilot-delta-web-tasks") == []
    assert [
        g["logGroupName"]
        for g in aws.logs.describe_log_groups(logGroupNamePrefix="/pilot/delta/")["logGroups"]
    ] == ["/pilot/delta/web2"]

    said.clear()
    assert web.destroy(said.append) == []  # a second destroy finds nothing
    assert said[-1] == "nothing left to remove for app web on ECS"

    said.clear()
    done = web2.destroy(said.append)
    assert done[-1] == "deleted cluster pilot-delta"
    [cluster] = aws.ecs.describe_clusters(clusters=["pilot-delta"])["clusters"]
    assert cluster["status"] == "INACTIVE"
    # The execution role belongs to setup (`pilot-tui deployer remove` takes it away).
    assert said[-1].startswith("kept role pilot-delta-ecs-exec: setup made it")
    assert aws.iam.get_role(RoleName="pilot-delta-ecs-exec")["Role"]
    assert web2.destroy(lambda line: None) == []


def test_long_names_fit_the_load_balancer_limit(moto):
    project, app = "a-very-long-project-name-for-acme", "the-customer-billing-api"
    name = short_name(project, app)
    assert len(name) == 32 and name.startswith("pilot-a-very-long-projec-")
    assert short_name(project, app) == name  # stable across deploys
    assert short_name(project, app + "2") != name  # and distinct
    assert short_name("acme", "web") == "pilot-acme-web"
    assert "--" not in short_name("acme", "a--b")  # AWS refuses double hyphens
    target = ecs_target(moto, project, app, region="us-west-2")
    revision = target.deploy(image(project, app, "v1"), {}, "v1", lambda line: None)
    aws = Aws(moto[0]["aws"].url, "us-west-2")
    assert [
        b["LoadBalancerName"] for b in aws.elbv2.describe_load_balancers()["LoadBalancers"]
    ] == [name]
    assert [t["TargetGroupName"] for t in aws.elbv2.describe_target_groups()["TargetGroups"]] == [
        name
    ]
    assert revision.ref.endswith(f"task-definition/pilot-{project}-{app}:1")  # 255 allowed
    assert f"deleted load balancer {name}" in target.destroy(lambda line: None)


def test_no_default_vpc_is_a_clear_error(moto):
    region = "ap-southeast-2"
    aws = Aws(moto[0]["aws"].url, region)
    [vpc] = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    for subnet in aws.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]:
        aws.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    aws.ec2.delete_vpc(VpcId=vpc["VpcId"])
    target = ecs_target(moto, "acme", "web", region=region)
    with pytest.raises(TargetError) as raised:
        target.deploy(image("acme", "web", "v1"), {}, "v1", lambda line: None)
    assert str(raised.value) == (
        "app web: AWS region ap-southeast-2 has no default VPC, which ECS apps run in; create "
        "it with `aws ec2 create-default-vpc --region ap-southeast-2` or set another "
        "aws.region in pilot.toml"
    )
    target.destroy(lambda line: None)


def test_aws_errors_become_target_errors(moto):
    # AWS's answer: the resource and the error code, nothing of the request.
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateLoadBalancer"
    )
    with (
        pytest.raises(
            TargetError,
            match=r"^load balancer x: AWS answered AccessDenied: "
            r"not allowed$",
        ),
        aws_call("load balancer x"),
    ):
        raise denied
    # No answer at all (botocore's own errors).
    target = ecs_target(moto, "acme", "web")
    target.ecs = emulator_aws(REGION).session.client(
        "ecs", endpoint_url="http://127.0.0.1:9", config=Config(retries={"total_max_attempts": 1})
    )
    with pytest.raises(
        TargetError,
        match=r"^ECS service pilot-acme-web: "
        r"EndpointConnectionError",
    ):
        target.status()
    # A rollback to another app's revision is refused.
    other = ecs_target(moto, "epsilon", "web")
    other.deploy(image("epsilon", "web", "v1"), {}, "v1", lambda line: None)
    with pytest.raises(TargetError, match="is not one of app api's"):
        ecs_target(moto, "epsilon", "api").activate(
            f"arn:aws:ecs:{REGION}:123456789012:task-definition/pilot-epsilon-web:1",
            lambda line: None,
        )
    other.destroy(lambda line: None)


def test_open_ecs_from_a_sandbox_config(moto, tmp_path):
    from pilot_tui.config.validate import check_text

    checked = check_text(
        '[project]\nname = "zeta"\n\n[server]\nhome = "sandbox"\n\n'
        '[aws]\nregion = "eu-central-1"\n\n[[apps]]\nname = "api"\n'
        'target = { kind = "ecs", port = 3000, desired_count = 2 }\n',
        "pilot.toml",
        tmp_path,
    )
    assert checked.config is not None, checked.report.lines()
    app = checked.config.app("api")
    target = open_ecs(checked.config, moto[1], tmp_path, app)  # the module's running moto
    assert (target.kind, target.project, target.app, target.region, target.wait) == (
        "ecs",
        "zeta",
        "api",
        "eu-central-1",
        False,
    )
    said: list[str] = []
    revision = target.deploy(image("zeta", "api", "v1"), {}, "v1", said.append)
    assert said[-1] == "not waiting for tasks to start"  # moto never starts them
    assert revision.ref.startswith("arn:aws:ecs:eu-central-1:")
    assert target.status().detail.startswith("1/2 tasks running")
    assert "deleted cluster pilot-zeta" in target.destroy(lambda line: None)


def test_secrets_go_to_ssm_never_into_the_task_definition(moto):
    aws = Aws(moto[0]["aws"].url, REGION)
    secret, path = "postgres://app:s3cr3t-Value@db/app", "/pilot/theta/web/DATABASE_URL"
    target = ecs_target(moto, "theta", "web", secret_names=("DATABASE_URL", "UNSET"))
    said: list[str] = []
    first = target.deploy(
        image("theta", "web", "v1"), {"GREETING": "hi", "DATABASE_URL": secret}, "v1", said.append
    )
    assert f"stored secret DATABASE_URL in SSM parameter {path}" in said
    assert not [line for line in said if secret in line]

    described = aws.ecs.describe_task_definition(taskDefinition=first.ref)
    assert secret not in json.dumps(described, default=str)
    [container] = described["taskDefinition"]["containerDefinitions"]
    assert {e["name"] for e in container["environment"]} == {"GREETING", "PORT"}
    parameter = aws.ssm.get_parameter(Name=path, WithDecryption=True)["Parameter"]
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": parameter["ARN"]}]
    assert (parameter["Type"], parameter["Value"], parameter["Version"]) == (
        "SecureString",
        secret,
        1,
    )
    tags = aws.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=path)
    assert tags["TagList"] == [{"Key": "pilot:project", "Value": "theta"}]
    # ECS reads the parameter with the execution role: allowed for the project's path only.
    policy = aws.iam.get_role_policy(RoleName="pilot-theta-ecs-exec", PolicyName="pilot-secrets")
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ssm:GetParameters"
    assert statement["Resource"] == parameter["ARN"].replace("/web/DATABASE_URL", "/*")

    said.clear()  # the same value again: not rewritten
    target.deploy(image("theta", "web", "v2"), {"DATABASE_URL": secret}, "v2", said.append)
    assert aws.ssm.get_parameter(Name=path)["Parameter"]["Version"] == 1
    assert not [line for line in said if "secret" in line], said
    target.deploy(image("theta", "web", "v3"), {"DATABASE_URL": secret + "2"}, "v3", said.append)
    assert f"updated secret DATABASE_URL in SSM parameter {path}" in said
    parameter = aws.ssm.get_parameter(Name=path, WithDecryption=True)["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == (secret + "2", 2)

    # Should AWS echo a value in an error, the TargetError (and its traceback) hides it.
    echoed = ClientError(
        {"Error": {"Code": "ValidationException", "Message": f"Value '{secret}' is too long"}},
        "PutParameter",
    )
    with pytest.raises(TargetError) as raised, aws_call(f"SSM parameter {path}", hide=secret):
        raise echoed
    assert (
        str(raised.value) == f"SSM parameter {path}: AWS answered ValidationException: "
        "Value '***' is too long"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__

    # Twelve parameters, one no longer listed in pilot.toml: destroy deletes all (10 a call).
    for i in range(11):
        aws.ssm.put_parameter(Name=f"/pilot/theta/web/OLD_{i}", Value="v", Type="SecureString")
    done = target.destroy(lambda line: None)
    assert any(
        line.startswith(
            "deleted SSM parameters /pilot/theta/web/DATABASE_URL, /pilot/theta/web/OLD_0"
        )
        for line in done
    ), done
    assert aws.ssm.get_parameters_by_path(Path="/pilot/theta/web")["Parameters"] == []
    assert done[-1] == "deleted cluster pilot-theta"


class SlowRollout:
    """moto finishes every rollout at once, so this view of its ECS API reports no running
    task (a stand-in for a rollout still in progress); every call still goes to moto."""

    def __init__(self, ecs) -> None:
        self.ecs = ecs

    def __getattr__(self, name):
        return getattr(self.ecs, name)

    def describe_services(self, **args):
        found = self.ecs.describe_services(**args)
        for service in found["services"]:
            service["runningCount"] = 0
        return found


def test_cancel_during_a_rollout_puts_the_live_revision_back(moto, tmp_path):
    """Cancel while ECS rolls out a revision that never gets steady: the wait stops at once,
    the service goes back to the live task definition, and the history records the attempt
    as cancelled (the engine's own _attempt)."""
    import threading
    from types import SimpleNamespace

    from pilot_tui.deploy import history
    from pilot_tui.deploy.context import Cancelled, CancelToken
    from pilot_tui.deploy.targets.managed_flow import _attempt
    from tests.conftest import RecordingLog

    target = ecs_target(moto, "kappa", "web")
    live = target.deploy(image("kappa", "web", "v1"), {}, "v1", lambda line: None)
    current = history.Release(
        "v1", "web", "img", "x", history.now(), history.LIVE, revision=live.ref
    )
    history.record(tmp_path, "web", current)
    target.ecs = SlowRollout(target.ecs)
    target.timeout = 60
    stop = CancelToken()  # the engine's one cancellation token
    engine = SimpleNamespace(
        cancel=stop,
        state_dir=tmp_path,
        record_release=lambda log, name, release: history.record(tmp_path, name, release),
    )
    attempt = history.Release("v2", "web", "img2", "y", history.now(), history.FAILED)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        _attempt(
            engine,
            RecordingLog(),
            SimpleNamespace(name="web", target=target.settings),
            target,
            attempt,
            current,
            lambda say: target.deploy(image("kappa", "web", "v2"), {}, "v2", say),
        )
    assert time.monotonic() - started < 10  # not the 60 s timeout
    aws = Aws(moto[0]["aws"].url, REGION)
    [service] = aws.ecs.describe_services(cluster="pilot-kappa", services=["pilot-kappa-web"])[
        "services"
    ]
    assert service["taskDefinition"] == live.ref
    assert [(r.id, r.status) for r in history.load(tmp_path, "web")] == [
        ("v1", "live"),
        ("v2", "cancelled"),
    ]
    target.destroy(lambda line: None)


def test_a_release_that_fails_its_health_through_the_load_balancer_is_reverted(
    moto, tmp_path, monkeypatch
):
    """The watch after an ECS release (issue 15, item 2): the health path asked through
    the load balancer; a release that fails it watch_failures times in a row puts the
    service back on the previous task definition, by itself, recorded reverted.

    Stand-in, said plainly: moto's load balancer answers no request, so the watch's GET
    goes to one that answers as the task definition moto's service runs at that moment
    (500 for the bad one). ECS, the load balancer's address, the service's update and
    the history are real (moto, the engine's own _record and revert)."""
    from types import SimpleNamespace

    from pilot_tui.deploy import history
    from pilot_tui.deploy.engine import DeployError
    from pilot_tui.deploy.targets import managed_watch
    from pilot_tui.deploy.targets.managed import Probe
    from pilot_tui.deploy.targets.managed_flow import _record
    from tests.conftest import RecordingLog

    target = ecs_target(moto, "omega", "web", health_path="/healthz", watch=2, watch_failures=2)
    aws = Aws(moto[0]["aws"].url, REGION)
    asked: list[tuple[str, str]] = []

    def load_balancer(url: str, timeout: float | None = None) -> Probe:
        [service] = aws.ecs.describe_services(cluster="pilot-omega", services=["pilot-omega-web"])[
            "services"
        ]
        runs = service["taskDefinition"]
        asked.append((url, runs))
        return Probe(runs != bad.ref, "HTTP 200" if runs != bad.ref else "HTTP 500")

    monkeypatch.setattr(managed_watch, "http_probe", load_balancer)
    monkeypatch.setattr(managed_watch, "INTERVAL", 0.05)
    good = target.deploy(image("omega", "web", "v1"), {}, "v1", lambda line: None)
    before = history.Release(
        "v1", "web", "img", "x", history.now(), history.LIVE, revision=good.ref
    )
    history.record(tmp_path, "web", before)
    bad = target.deploy(image("omega", "web", "v2"), {}, "v2", lambda line: None)
    ctx = SimpleNamespace(
        config=SimpleNamespace(server=SimpleNamespace(home="aws")),
        watch=True,
        cancel=SimpleNamespace(is_set=lambda: False, set=lambda: None),
        state_dir=tmp_path,
        pull=lambda log, name: None,
        record_release=lambda log, name, release: history.record(tmp_path, name, release),
    )
    released = history.Release(
        "v2", "web", "img2", "y", history.now(), history.LIVE, revision=bad.ref, url=bad.url
    )
    app = SimpleNamespace(name="web", target=target.settings)
    log = RecordingLog()
    with pytest.raises(DeployError) as caught:
        _record(ctx, log, app, released, watched=(target, before))
    assert str(caught.value) == (
        "v2 was reverted: its health check failed 2 times in a row (last: HTTP 500); "
        "v1 serves again"
    )
    [service] = aws.ecs.describe_services(cluster="pilot-omega", services=["pilot-omega-web"])[
        "services"
    ]
    assert service["taskDefinition"] == good.ref
    assert [(r.id, r.status) for r in history.load(tmp_path, "web")] == [
        ("v1", "live"),
        ("v2", "reverted"),
    ]
    assert asked[0] == (f"http://{target.balancer.dns()}/healthz", bad.ref)
    assert "watching the new release for 2 s: /healthz asked every 0.05 s" in " ".join(log.lines)
    target.wait = False  # as in the sandbox, whose load balancer answers nothing: no look
    assert target.probe("/healthz") is None
    target.destroy(lambda line: None)
