"""What IAM would be asked for each AWS call Pilot really makes: every boto3 call of the
process is recorded (a spy on botocore's one call path; the calls still reach moto), and
each is turned into the IAM action(s), context and resource ARN that AWS's Service
Authorization Reference documents for it. moto enforces no IAM policy, so this is how a
test proves a policy permits what a run does (tests/unit/test_deployer_policy.allows
evaluates it). A call this module does not know fails the test: a new call is mapped
before it is trusted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

ACCOUNT = "123456789012"  # moto's
# Calls IAM lets any caller make (who am I; the web-identity exchange itself).
UNAUTHORIZED = {("sts", "GetCallerIdentity"), ("sts", "AssumeRoleWithWebIdentity")}
S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
}
LAMBDA_ACTIONS = {"Invoke": "InvokeFunction"}  # the rest are named as their calls


@dataclass(frozen=True)
class Call:
    service: str  # botocore's endpoint prefix: lambda, s3, tagging, iam, logs, sts
    operation: str
    params: dict[str, Any]
    region: str


Request = tuple[str, dict[str, Any], str]  # (action, context, resource)


@dataclass
class Calls:
    made: list[Call] = field(default_factory=list)

    def clear(self) -> None:
        self.made.clear()

    def requests(self, only: Callable[[Call], bool] = lambda call: True) -> list[Request]:
        """What the calls made (those ``only`` keeps) asked of IAM."""
        return [r for call in self.made if only(call) for r in requests(call)]


def requests(call: Call) -> list[Request]:
    """The IAM requests ``call`` makes: (action, condition context, resource)."""
    service, op, params, region = call.service, call.operation, call.params, call.region
    if (service, op) in UNAUTHORIZED:
        return []
    if service == "lambda":
        name = str(params.get("FunctionName") or params.get("Resource") or "")
        if not name:  # ListFunctions and the like: no resource
            return [(f"lambda:{LAMBDA_ACTIONS.get(op, op)}", {}, "*")]
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
        )
        if params.get("Qualifier"):
            arn += f":{params['Qualifier']}"
        made: list[Request] = [(f"lambda:{LAMBDA_ACTIONS.get(op, op)}", {}, arn)]
        if op == "CreateFunction":
            made.append(
                ("iam:PassRole", {"iam:PassedToService": "lambda.amazonaws.com"}, params["Role"])
            )
        return made
    if service == "s3" and op in S3_ACTIONS:
        bucket, key = params["Bucket"], params.get("Key")
        resource = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
        return [(S3_ACTIONS[op], {}, resource)]
    if service == "tagging" and op == "GetResources":
        return [("tag:GetResources", {}, "*")]
    if service == "iam" and op in ("GetRole", "AttachRolePolicy"):
        role = f"arn:aws:iam::{ACCOUNT}:role/{params['RoleName']}"
        context = {"iam:PolicyARN": params["PolicyArn"]} if "PolicyArn" in params else {}
        return [(f"iam:{op}", context, role)]
    if service == "logs" and "logGroupName" in params:
        group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{params['logGroupName']}"
        return [(f"logs:{op}", {}, group)]
    raise AssertionError(f"no IAM mapping for {service}:{op} yet: add it to iam_requests.py")


@pytest.fixture
def aws_calls(monkeypatch) -> Iterator[Calls]:
    """Every boto3 call this process makes from here on, recorded (and made)."""
    from botocore.client import BaseClient

    calls = Calls()
    original = BaseClient._make_api_call

    def recorded(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        meta = self.meta
        calls.made.append(
            Call(meta.service_model.endpoint_prefix, operation, dict(params), meta.region_name)
        )
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    yield calls
