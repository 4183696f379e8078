"""What IAM would be asked for each AWS call Pilot really makes: every boto3 call of the
process is recorded (a spy on botocore's one call path; the calls still reach moto), and
each is turned into the IAM action(s), context and resource ARN that AWS's Service
Authorization Reference documents for it. moto enforces no IAM policy, so this is how a
test proves a policy permits what a run does (tests/unit/test_deployer_policy.allows
evaluates it). A call this module does not know fails the test: a new call is mapped
before it is trusted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.config import Config

ACCOUNT = "123456789012"  # moto's
# A client made with this config is the test's own: its calls are not the run's.
UNRECORDED = Config(user_agent_extra="pilot-test-unrecorded")
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
    service: str  # botocore's endpoint prefix: lambda, s3, tagging, iam, logs, sts, api.ecr
    operation: str
    params: dict[str, Any]
    region: str
    tags: dict[str, str] = field(default_factory=dict)  # the function's, just before


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
    """The IAM requests ``call`` makes: (action, condition context, resource). A Lambda
    call's context has the function's tags as they were just before it."""
    service, op, params, region = call.service, call.operation, call.params, call.region
    if (service, op) in UNAUTHORIZED:
        return []
    if service == "lambda":
        arn = function_arn(params, region)
        if arn is None:  # ListFunctions and the like: no resource
            return [(f"lambda:{LAMBDA_ACTIONS.get(op, op)}", {}, "*")]
        if params.get("Qualifier"):
            arn += f":{params['Qualifier']}"
        # The function's tags as IAM sees them; a create or a tagging asks for its own.
        context: dict[str, Any] = {f"aws:ResourceTag/{k}": v for k, v in call.tags.items()}
        asked = params.get("Tags") or {}
        if asked:
            context.update({f"aws:RequestTag/{k}": v for k, v in asked.items()})
            context["aws:TagKeys"] = sorted(asked)
        made: list[Request] = [(f"lambda:{LAMBDA_ACTIONS.get(op, op)}", context, arn)]
        if op == "CreateFunction" and asked:
            # Tags on create need lambda:TagResource too. Whether IAM then sees the new
            # tags as the function's own (AWS's ABAC guide implies so) or sees none: both
            # must be allowed.
            as_its_own = {**context, **{f"aws:ResourceTag/{k}": v for k, v in asked.items()}}
            made.append(("lambda:CreateFunction", as_its_own, arn))
            made.append(("lambda:TagResource", context, arn))
            made.append(("lambda:TagResource", as_its_own, arn))
        if params.get("Role"):  # a create, or a change of the role it runs as
            made.append(
                ("iam:PassRole", {"iam:PassedToService": "lambda.amazonaws.com"}, params["Role"])
            )
        image = params.get("ImageUri") or (params.get("Code") or {}).get("ImageUri")
        if image:  # Lambda reads the image as its caller may (as IAM is asked, at least)
            repository = ecr_repository_arn(str(image), region)
            made += [(f"ecr:{a}", {}, repository) for a in ECR_PULL]
        return made
    if service == "api.ecr":
        if op == "GetAuthorizationToken":
            return [("ecr:GetAuthorizationToken", {}, "*")]
        names = params.get("repositoryNames") or [params.get("repositoryName") or "*"]
        return [
            (f"ecr:{op}", {}, f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{name}") for name in names
        ]
    if service == "s3" and op in S3_ACTIONS:
        bucket, key = params["Bucket"], params.get("Key")
        resource = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
        context = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
        for header, key in (("IfNoneMatch", "s3:if-none-match"), ("IfMatch", "s3:if-match")):
            if header in params:  # a conditional write, which a policy may demand
                context[key] = params[header]
        return [(S3_ACTIONS[op], context, resource)]
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


# What a push of an image asks of ECR (the registry's API, which moto lacks: the tests push
# to a local registry) and what a pull asks.
ECR_PUSH = (
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
)
ECR_PULL = ("BatchGetImage", "GetDownloadUrlForLayer")


def ecr_repository_arn(image: str, region: str) -> str:
    """The repository ARN of ``image`` (host/repository@sha256:... or host/repository:tag)."""
    path = image.partition("/")[2]
    repository = path.partition("@")[0] if "@" in path else path.rpartition(":")[0] or path
    return f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{repository}"


def function_arn(params: dict[str, Any], region: str) -> str | None:
    """The unqualified ARN of the function a Lambda call names, if it names one."""
    name = str(params.get("FunctionName") or params.get("Resource") or "")
    if not name:
        return None
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:7])  # arn:aws:lambda:REGION:ACCOUNT:function:NAME
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


@pytest.fixture
def aws_calls(monkeypatch) -> Iterator[Calls]:
    """Every boto3 call this process makes from here on, recorded (and made)."""
    from botocore.client import BaseClient

    calls = Calls()
    original = BaseClient._make_api_call

    def recorded(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        meta = self.meta
        if meta.config.user_agent_extra == UNRECORDED.user_agent_extra:
            return original(self, operation, params)  # the test's own look
        service = meta.service_model.endpoint_prefix
        tags: dict[str, str] = {}
        arn = function_arn(params, meta.region_name) if service == "lambda" else None
        if arn is not None and operation != "CreateFunction":
            try:  # (read by the unrecorded path: not a call of the run's)
                tags = original(self, "ListTags", {"Resource": arn}).get("Tags", {})
            except Exception:  # no such function (yet, or any more): no tags
                tags = {}
        calls.made.append(Call(service, operation, dict(params), meta.region_name, tags))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)
    yield calls


# -- another process's calls: moto's own recording of the requests it got -----------------
class MotoRecording:
    """moto's request recorder (its /moto-api/recorder/ API): what every client of the
    local AWS API asked, another process's or a container's too, which the spy above
    cannot see."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _post(self, what: str) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.url}/moto-api/recorder/{what}", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def start(self) -> None:
        self._post("reset-recording")
        self._post("start-recording")

    def stop(self) -> None:
        self._post("stop-recording")

    def entries(self) -> list[dict[str, Any]]:
        import json
        import urllib.request

        url = f"{self.url}/moto-api/recorder/download-recording"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def recorded_calls(entries: list[dict[str, Any]], access_key: str) -> list[Call]:
    """The calls of the requests signed with ``access_key``, from moto's recording, each as
    botocore names it (then ``requests`` says what IAM is asked). A request this does not
    know fails the test."""
    import base64
    import json
    import urllib.parse

    calls = []
    for entry in entries:
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        signed = re.search(
            r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/", headers.get("authorization", "")
        )
        if signed is None or signed[1] != access_key:
            continue
        region, service = signed[2], signed[3]
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        if service == "s3":
            calls.append(_s3_call(entry["method"], entry["url"], region, headers))
        elif service == "ecr":
            operation = headers["x-amz-target"].rpartition(".")[2]
            calls.append(Call("api.ecr", operation, json.loads(body or "{}"), region))
        elif service == "sts":
            form = urllib.parse.parse_qs(body)
            calls.append(Call("sts", form["Action"][0], {}, region))
        else:
            raise AssertionError(f"no mapping for a recorded {service} request yet: {entry['url']}")
    return calls


def _s3_call(method: str, url: str, region: str, headers: dict[str, str]) -> Call:
    """A path-style S3 request (the local API's address is an IP) as botocore's call."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    params: dict[str, Any] = {"Bucket": bucket}
    if key:
        params["Key"] = urllib.parse.unquote(key)
        operation = {
            "GET": "GetObject",
            "HEAD": "HeadObject",
            "PUT": "PutObject",
            "DELETE": "DeleteObject",
        }.get(method)
    elif method == "GET" and "list-type" in query:
        operation = "ListObjectsV2"
        if "prefix" in query:
            params["Prefix"] = query["prefix"][0]
    elif method == "HEAD":
        operation = "HeadBucket"
    else:
        operation = None
    if operation is None or (key and set(query) - {"x-id"}):
        raise AssertionError(f"no mapping for a recorded S3 request yet: {method} {url}")
    for header, name in (("if-none-match", "IfNoneMatch"), ("if-match", "IfMatch")):
        if operation == "PutObject" and header in headers:
            params[name] = headers[header]
    return Call("s3", operation, params, region)
