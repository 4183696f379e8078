"""What Pilot makes with the deployer carries the project tag from its creation, and the
scoped policy permits every call Pilot makes on security groups, load balancers and
CloudFront distributions — run for real against the sandbox's moto server (an ECS app:
deploy, a port change, destroy; a static site's distribution: create, invalidate,
destroy).

moto enforces no IAM conditions, so each recorded call (its parameters, and the tags moto
reports on the resource just before it) goes through the policy evaluator of
tests/unit/test_deployer_policy.py, which says how far that evaluation goes."""

from __future__ import annotations

from typing import Any

import pytest

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.identity_aws import aws_policy
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.schema import EcsTarget
from pilot_tui.deploy.build.site_files import Changes
from pilot_tui.deploy.targets.ecs.service import EcsService
from pilot_tui.deploy.targets.s3_site.bucket import S3Site
from pilot_tui.naming import PROJECT_TAG
from tests.unit.test_deployer_policy import allows

REGION, ACCOUNT, PROJECT = "eu-west-1", "123456789012", "tagme"
ELB = "elasticloadbalancing"


@pytest.fixture(scope="module")
def aws_url(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("emulators"))
    running, _ = sandbox.ensure()
    yield running["aws"].url
    sandbox.stop()


class Recorder:
    """Hooks boto3 clients: each call's IAM action(s), context keys and resource, the
    resource's tags read from moto (by an unhooked client) just before the call."""

    def __init__(self, url: str) -> None:
        session = emulator_aws(REGION).session
        self.session, self.url = session, url
        self.plain = {
            name: session.client(name, endpoint_url=url) for name in ("ec2", "elbv2", "cloudfront")
        }
        self.calls: list[tuple[str, dict[str, Any], str, str]] = []  # action, context, ...

    def client(self, name: str, **kwargs: Any) -> Any:
        made = self.session.client(name, endpoint_url=self.url, **kwargs)
        if name in self.plain:  # the services whose resources only the tag tells apart
            made.meta.events.register(f"before-parameter-build.{name}", self._record)
        return made

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix  # ec2, elasticloadbalancing, cloudfront
        operation = model.name
        request_tags = self._request_tags(service, params)
        context: dict[str, Any] = {}
        if request_tags is not None:
            context[f"aws:RequestTag/{PROJECT_TAG}"] = request_tags.get(PROJECT_TAG)
            context["aws:TagKeys"] = sorted(request_tags)
            context = {k: v for k, v in context.items() if v is not None}
        resource, tags = self._resource(service, operation, params)
        if PROJECT_TAG in tags:
            context[f"aws:ResourceTag/{PROJECT_TAG}"] = tags[PROJECT_TAG]
        action = (
            "cloudfront:CreateDistribution"
            if operation == "CreateDistributionWithTags"
            else f"{service}:{operation}"
        )
        self.calls.append((action, context, resource, operation))
        if request_tags is not None and operation.startswith("Create"):
            if service == "ec2":
                self.calls.append(
                    (
                        "ec2:CreateTags",
                        {**context, "ec2:CreateAction": operation},
                        resource,
                        operation,
                    )
                )
            elif service == ELB:
                self.calls.append(
                    (
                        f"{ELB}:AddTags",
                        {**context, f"{ELB}:CreateAction": operation},
                        resource,
                        operation,
                    )
                )
            else:  # CloudFront: tag-on-create is checked on "*"
                self.calls.append(("cloudfront:TagResource", context, "*", operation))

    @staticmethod
    def _request_tags(service: str, params: dict[str, Any]) -> dict[str, str] | None:
        if service == "ec2" and "TagSpecifications" in params:
            items = [t for spec in params["TagSpecifications"] for t in spec["Tags"]]
        elif service == ELB and "Tags" in params:
            items = params["Tags"]
        elif "DistributionConfigWithTags" in params:
            items = params["DistributionConfigWithTags"]["Tags"]["Items"]
        else:
            return None
        return {t["Key"]: t["Value"] for t in items}

    def _resource(
        self, service: str, operation: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, str]]:
        """(the ARN IAM checks, or "*"; the tags moto has on it now)."""
        elb = f"arn:aws:{ELB}:{REGION}:{ACCOUNT}"
        if service == "ec2":
            if operation == "CreateSecurityGroup":
                return f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-new", {}
            if "GroupId" in params:
                found = self.plain["ec2"].describe_security_groups(GroupIds=[params["GroupId"]])[
                    "SecurityGroups"
                ][0]
                return f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{params['GroupId']}", {
                    t["Key"]: t["Value"] for t in found.get("Tags", [])
                }
        elif service == ELB:
            if operation == "CreateLoadBalancer":
                return f"{elb}:loadbalancer/app/{params['Name']}/new", {}
            if operation == "CreateTargetGroup":
                return f"{elb}:targetgroup/{params['Name']}/new", {}
            arn = next(
                (
                    params[k]
                    for k in ("LoadBalancerArn", "TargetGroupArn", "ListenerArn")
                    if k in params and not operation.startswith("Describe")
                ),
                None,
            )
            if arn:
                described = self.plain["elbv2"].describe_tags(ResourceArns=[arn])
                tags = described["TagDescriptions"][0].get("Tags", [])
                return arn, {t["Key"]: t["Value"] for t in tags}
        elif service == "cloudfront" and ("Id" in params or "DistributionId" in params):
            found = params.get("Id") or params["DistributionId"]
            arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{found}"
            tags = self.plain["cloudfront"].list_tags_for_resource(Resource=arn)
            return arn, {t["Key"]: t["Value"] for t in tags["Tags"].get("Items", [])}
        return "*", {}

    def refused(self) -> list[tuple[str, dict[str, Any], str, str]]:
        policy = aws_policy(PROJECT, ACCOUNT, REGION)
        return [c for c in self.calls if not allows(policy, c[0], c[1], c[2])]


@pytest.mark.slow
def test_an_ecs_apps_network_is_tagged_and_every_call_is_permitted(aws_url):
    rec = Recorder(aws_url)
    make = rec.client
    target = EcsService(
        make("ecs"),
        make("ec2"),
        make("elbv2"),
        make("iam"),
        make("logs"),
        make("ssm"),
        PROJECT,
        "web",
        EcsTarget(),
        REGION,
        (),
        wait=False,
        timeout=5,
        poll=0.05,
    )
    target.deploy(
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/pilot-{PROJECT}-web:v1", {}, "v1", lambda _: None
    )
    target.settings = EcsTarget(port=9000)  # a new port: stale rules revoked, new ones added
    target.deploy(
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/pilot-{PROJECT}-web:v2", {}, "v2", lambda _: None
    )

    # Everything made carries the project tag, as moto reports it.
    ec2, elbv2 = rec.plain["ec2"], rec.plain["elbv2"]
    groups = ec2.describe_security_groups(
        Filters=[
            {
                "Name": "group-name",
                "Values": [f"pilot-{PROJECT}-web-lb", f"pilot-{PROJECT}-web-tasks"],
            }
        ]
    )["SecurityGroups"]
    assert len(groups) == 2
    for group in groups:
        assert {"Key": PROJECT_TAG, "Value": PROJECT} in group.get("Tags", []), group
    balancer = elbv2.describe_load_balancers(Names=[f"pilot-{PROJECT}-web"])["LoadBalancers"][0]
    arns = [
        balancer["LoadBalancerArn"],
        *[
            t["TargetGroupArn"]
            for t in elbv2.describe_target_groups(Names=[f"pilot-{PROJECT}-web"])["TargetGroups"]
        ],
        *[
            x["ListenerArn"]
            for x in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
                "Listeners"
            ]
        ],
    ]
    assert len(arns) == 3
    for described in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]:
        assert {"Key": PROJECT_TAG, "Value": PROJECT} in described["Tags"], described
    ecs = emulator_aws(REGION).session.client("ecs", endpoint_url=aws_url)
    definition = ecs.describe_task_definition(
        taskDefinition=f"pilot-{PROJECT}-web", include=["TAGS"]
    )
    assert {"key": PROJECT_TAG, "value": PROJECT} in definition["tags"]

    target.destroy(lambda _: None)
    operations = {c[3] for c in rec.calls}
    assert {
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
        "DeleteSecurityGroup",
        "CreateLoadBalancer",
        "CreateTargetGroup",
        "CreateListener",
        "ModifyTargetGroup",
        "DeleteListener",
        "DeleteLoadBalancer",
        "DeleteTargetGroup",
    } <= operations
    assert rec.refused() == []


def test_a_sites_distribution_is_tagged_and_every_call_is_permitted(aws_url):
    rec = Recorder(aws_url)
    site = S3Site(
        rec.client("s3"), rec.client("cloudfront"), f"pilot-{PROJECT}-docs-site", REGION, PROJECT
    )
    site.ensure_bucket()
    s3 = emulator_aws(REGION).session.client("s3", endpoint_url=aws_url)
    tagging = s3.get_bucket_tagging(Bucket=f"pilot-{PROJECT}-docs-site")["TagSet"]
    assert {"Key": PROJECT_TAG, "Value": PROJECT} in tagging
    distribution, _ = site.ensure_distribution()
    arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution}"
    tags = rec.plain["cloudfront"].list_tags_for_resource(Resource=arn)["Tags"]["Items"]
    assert {"Key": PROJECT_TAG, "Value": PROJECT} in tags
    assert site.ensure_distribution()[0] == distribution  # found again, not made twice
    site.invalidate(distribution, Changes(upload=[], delete=["old.html"], unchanged=0))
    site.destroy()
    assert {
        "CreateDistributionWithTags",
        "CreateInvalidation",
        "UpdateDistribution",
        "DeleteDistribution",
    } <= {c[3] for c in rec.calls}
    assert rec.refused() == []
