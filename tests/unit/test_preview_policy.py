"""The previews' role's policy (`ci github`: what a pull request's run may do) as data:
cloudsplaining finds no privilege escalation and no unrestricted modification, and the
evaluator of tests/unit/test_deployer_policy.py (which says how far it goes: IAM itself
cannot be run here) permits the previews' own functions, logs and histories, and refuses
everything of the apps' own: their functions and aliases, their histories, the Terraform
state, another project's previews. tests/integration/deploy/test_ci_deploy.py feeds it the
calls real pull-request runs make against moto."""

from __future__ import annotations

import pytest
from cloudsplaining.scan.policy_document import PolicyDocument
from cloudsplaining.shared.exclusions import Exclusions

from pilot_tui.cloud.policy_aws import preview_logs_policy, preview_policy
from pilot_tui.provision.backends import STATE_KEY
from tests.unit.test_deployer_policy import access_levels, allows, as_list, expand

ACCOUNT, REGION = "123456789012", "eu-west-1"
POLICY = preview_policy("acme", ACCOUNT, REGION, ["fn"])  # fn's pull requests get previews
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
STATE = "arn:aws:s3:::pilot-state-acme"
TAG = "pilot:project"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/"


def test_cloudsplaining_finds_no_escalation_and_no_unrestricted_modification():
    document = PolicyDocument(POLICY, exclusions=Exclusions({}))
    assert document.allows_privilege_escalation == []
    assert document.infrastructure_modification == []
    assert document.permissions_management_without_constraints == []


@pytest.mark.parametrize("images", [False, True], ids=["zip", "image"])
def test_nothing_is_written_on_any_resource(images):
    policy = preview_policy("acme", ACCOUNT, REGION, ["fn", "img"], ["img"]) if images else POLICY
    loose = {
        action
        for statement in policy["Statement"]
        if "*" in as_list(statement["Resource"])
        for pattern in as_list(statement["Action"])
        for action in expand(pattern)
        if access_levels(action) - {"Read", "List"}
    }
    assert loose == set()


# What IAM sees of a function: its tags (the project's preview, the app's own function,
# another project's preview), and what a request asks to tag.
PREVIEW = {"aws:ResourceTag/pilot:project": "acme", "aws:ResourceTag/pilot.preview-of": "fn"}
APP = {"aws:ResourceTag/pilot:project": "acme"}
OTHER = {"aws:ResourceTag/pilot:project": "acme-x", "aws:ResourceTag/pilot.preview-of": "fn"}
MADE = {
    "aws:RequestTag/pilot:project": "acme",
    "aws:RequestTag/pilot.preview-of": "fn",
    "aws:TagKeys": ["pilot:project", "pilot.preview-of", "pilot.preview", "pilot.preview-expires"],
}
TO_LAMBDA = {"iam:PassedToService": "lambda.amazonaws.com"}
# Whether IAM sees a new function's tags as its own while making it, or none: both work.
MADE_AS_ITS_OWN = {**MADE, **PREVIEW}
RENEWED = {**PREVIEW, "aws:TagKeys": ["pilot.preview-expires"]}
PREVIEW_KEY = "pilot.preview"
OF_API = {**MADE, "aws:RequestTag/pilot.preview-of": "api"}


@pytest.mark.parametrize(
    ("action", "context", "resource"),
    [
        ("lambda:GetFunction", {}, f"{FUNCTION}pilot-acme-fn--pr-12"),  # not made yet
        ("lambda:CreateFunction", MADE, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:CreateFunction", MADE_AS_ITS_OWN, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:TagResource", MADE, f"{FUNCTION}pilot-acme-fn--pr-12"),  # its tags on create
        ("lambda:TagResource", MADE_AS_ITS_OWN, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:TagResource", RENEWED, f"{FUNCTION}pilot-acme-fn--pr-12"),  # a new expiry
        ("lambda:UpdateFunctionCode", PREVIEW, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:UpdateAlias", PREVIEW, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:CreateFunctionUrlConfig", PREVIEW, f"{FUNCTION}pilot-acme-fn--pr-12:live"),
        ("lambda:DeleteFunction", PREVIEW, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("logs:DeleteLogGroup", {}, f"{LOGS}pilot-acme-fn--pr-12"),
        ("s3:PutObject", {}, f"{STATE}/pilot/releases/fn--pr-12.json"),
        ("s3:DeleteObject", {}, f"{STATE}/pilot/releases/fn--pr-12.json"),
        ("s3:GetObject", {}, f"{STATE}/pilot/releases/fn.json"),  # what the app's releases run
        ("lambda:ListAliases", APP, f"{FUNCTION}pilot-acme-fn"),  # an earlier Pilot's previews
        ("iam:PassRole", TO_LAMBDA, f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-lambda-previews"),
    ],
)
def test_the_previews_are_its_own(action, context, resource):
    assert allows(POLICY, action, context, resource)


@pytest.mark.parametrize(
    ("action", "context", "resource"),
    [
        # the app's own function: Lambda authorizes an alias change on its function
        ("lambda:UpdateAlias", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:UpdateFunctionCode", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:UpdateFunctionConfiguration", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:PublishVersion", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:DeleteAlias", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:GetFunction", APP, f"{FUNCTION}pilot-acme-fn"),  # its env: the app's secrets
        ("lambda:GetFunctionConfiguration", APP, f"{FUNCTION}pilot-acme-fn:live"),
        ("lambda:DeleteFunction", APP, f"{FUNCTION}pilot-acme-fn"),
        ("lambda:InvokeFunction", APP, f"{FUNCTION}pilot-acme-fn"),
        # an earlier Pilot's alias preview of the app's function: IAM's * matches the ":"
        # of pilot-acme-fn:preview--x, so its tags are what refuse it
        ("lambda:AddPermission", APP, f"{FUNCTION}pilot-acme-fn:preview--x"),
        ("lambda:CreateFunctionUrlConfig", APP, f"{FUNCTION}pilot-acme-fn:preview--x"),
        ("lambda:GetFunction", APP, f"{FUNCTION}pilot-acme-fn:preview--x"),
        # the app's function made a preview by tagging it, or a preview moved to a project
        ("lambda:TagResource", {**APP, **MADE}, f"{FUNCTION}pilot-acme-fn"),
        (
            "lambda:TagResource",
            {**RENEWED, "aws:TagKeys": ["pilot:project"]},
            f"{FUNCTION}pilot-acme-fn--pr-12",
        ),
        # a function made untagged, or not as a preview of fn, or with more tags
        ("lambda:CreateFunction", {}, f"{FUNCTION}pilot-acme-fn--pr-12"),
        ("lambda:CreateFunction", OF_API, f"{FUNCTION}pilot-acme-api--pr-1"),
        ("lambda:CreateFunction", OF_API, f"{FUNCTION}pilot-acme-fn--pr-1"),
        ("lambda:CreateFunction", {**MADE, "aws:TagKeys": ["x"]}, f"{FUNCTION}pilot-acme-fn--p"),
        ("lambda:UpdateFunctionCode", {**PREVIEW, **OF_API}, f"{FUNCTION}pilot-acme-api--pr-1"),
        # the app's function made a preview by tagging it (IAM seeing tags on create, or
        # not); a preview moved to another app or name: only its expiry is renewed
        ("lambda:TagResource", {**APP, **MADE}, f"{FUNCTION}pilot-acme-fn--x"),
        ("lambda:TagResource", {**PREVIEW, **OF_API}, f"{FUNCTION}pilot-acme-fn--pr-12"),
        (
            "lambda:TagResource",
            {**PREVIEW, "aws:TagKeys": ["pilot.preview"]},
            f"{FUNCTION}pilot-acme-fn--pr-1",
        ),
        (
            "lambda:CreateFunction",
            {"aws:RequestTag/pilot:project": "acme"},
            f"{FUNCTION}pilot-acme-x--y",
        ),
        # another project's preview, which the name pattern matches (project "acme-x")
        ("lambda:UpdateFunctionCode", OTHER, f"{FUNCTION}pilot-acme-x-fn--pr-12"),
        ("lambda:DeleteFunction", OTHER, f"{FUNCTION}pilot-acme-x-fn--pr-12"),
        ("lambda:UpdateFunctionCode", PREVIEW, f"{FUNCTION}pilot-blog-fn--pr-12"),
        # the apps' histories, the Terraform state and anything else in the bucket
        ("s3:PutObject", {}, f"{STATE}/pilot/releases/fn.json"),
        ("s3:DeleteObject", {}, f"{STATE}/pilot/releases/fn.json"),
        ("s3:GetObject", {}, f"{STATE}/{STATE_KEY}"),  # the Terraform state
        ("s3:PutObject", {}, f"{STATE}/pilot/releases/api--pr-1.json"),  # not fn's previews
        ("logs:DeleteLogGroup", {}, f"{LOGS}pilot-acme-x-fn--pr-12"),  # project acme-x's
        ("s3:GetObject", {}, f"{STATE}/pilot/secrets/fn.json"),
        # the apps' logs, images, roles
        ("logs:FilterLogEvents", {}, f"{LOGS}pilot-acme-fn"),
        ("ecr:PutImage", {}, f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/pilot-acme-fn"),
        ("iam:PassRole", {}, f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-ecs-exec"),
        # the apps' role (AWSLambdaBasicExecutionRole: any log group) for a pull request's code
        ("iam:PassRole", TO_LAMBDA, f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-lambda"),
        ("iam:PutRolePolicy", {}, f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-lambda"),
    ],
)
def test_nothing_of_the_apps_own(action, context, resource):
    assert not allows(POLICY, action, context, resource)


def test_the_previews_run_as_a_role_that_writes_their_own_logs_only():
    """A pull request's code runs as it: not the apps' role, which may write any log group."""
    logs = preview_logs_policy("acme", ACCOUNT, REGION, ["fn"])
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
        assert allows(logs, action, {}, f"{LOGS}pilot-acme-fn--pr-12")
        assert allows(logs, action, {}, f"{LOGS}pilot-acme-fn--pr-12:log-stream:x")
        assert not allows(logs, action, {}, f"{LOGS}pilot-acme-fn")
        assert not allows(logs, action, {}, f"{LOGS}pilot-acme-fn:log-stream:x")
    assert not allows(logs, "logs:DeleteLogGroup", {}, f"{LOGS}pilot-acme-fn--pr-12")


IMAGES = preview_policy("acme", ACCOUNT, REGION, ["fn", "img"], ["img"])  # img: an image app
REPOSITORY = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/"
PUSH_AND_PULL = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def test_an_image_apps_previews_push_to_their_own_repository_alone():
    """Pushed, read and deleted in the app's previews' repository; nothing of the app's
    own repository, another app's or another project's; no repository made, and no
    repository policy set (`ci github` made it with Lambda's pulls)."""
    previews = f"{REPOSITORY}pilot-acme-img/previews"
    for action in [*PUSH_AND_PULL, "ecr:ListImages", "ecr:BatchDeleteImage"]:
        assert allows(IMAGES, action, {}, previews), action
        for other in ("pilot-acme-img", "pilot-acme-fn/previews", "pilot-acmex-img/previews"):
            assert not allows(IMAGES, action, {}, f"{REPOSITORY}{other}"), (action, other)
    assert allows(IMAGES, "ecr:GetAuthorizationToken", {}, "*")
    for action in ("ecr:CreateRepository", "ecr:SetRepositoryPolicy", "ecr:DeleteRepository"):
        assert not allows(IMAGES, action, {}, previews), action
    assert not any(  # a zip app's previews' role logs in to no registry
        allows(POLICY, action, {}, "*") for action in ("ecr:GetAuthorizationToken",)
    )
    document = PolicyDocument(IMAGES, exclusions=Exclusions({}))
    assert document.allows_privilege_escalation == []
    assert document.infrastructure_modification == []


def test_of_the_servers_apps_it_asks_the_worker_for_previews_alone():
    """A Docker host app's previews (server_queue.py): the pull requests' role makes a
    pull request's request keys (which the worker takes for a pr-NUMBER preview alone)
    and their claim (a withdrawal), each only where none is, never changing another run's
    (review: it could fake another pull request's outcome, or overwrite its request);
    reads their events and results and the workers' heartbeats; never a result, a
    branch's request key, the events, another record, or a Lambda function (none is made
    for such an app)."""
    policy = preview_policy("acme", "123456789012", "us-east-1", [], ["web"], ["web"])
    deploys = "arn:aws:s3:::pilot-state-acme/pilot/deploys"
    only_new = {"s3:if-none-match": "*"}
    for part in ("preview-request", "claim"):
        key = f"{deploys}/preview-20261206T1.000Z-abc.{part}.json"
        assert allows(policy, "s3:PutObject", only_new, key), part
        assert not allows(policy, "s3:PutObject", {}, key), part  # an overwrite
        assert not allows(policy, "s3:PutObject", {"s3:if-match": '"e1"'}, key), part
    for part in ("preview-request", "claim", "events", "result"):
        key = f"{deploys}/preview-20261206T1.000Z-abc.{part}.json"
        assert allows(policy, "s3:GetObject", {}, key), part
    result = f"{deploys}/preview-20261206T1.000Z-abc.result.json"
    assert not allows(policy, "s3:PutObject", only_new, result)
    assert allows(policy, "s3:GetObject", {}, f"{deploys}/preview-x.events.json")
    assert allows(policy, "s3:GetObject", {}, f"{deploys}/workers/w.json")
    for key in (
        "preview-x.request.json",  # what a worker older than previews takes
        "20261206T1.000Z-abc.request.json",  # a branch's
        "20261206T1.000Z-abc.claim.json",
        "preview-x.events.json",
        "workers/w.json",
    ):
        assert not allows(policy, "s3:PutObject", only_new, f"{deploys}/{key}"), key
    assert not allows(policy, "s3:GetObject", {}, f"{deploys}/2026x.events.json")
    assert not [s for s in policy["Statement"] if str(s["Action"]).count("lambda:")]
    assert all(as_list(s["Resource"]) for s in policy["Statement"])  # none left empty
    # without such apps, none of this
    lambdas = preview_policy("acme", "123456789012", "us-east-1", ["fn"])
    assert not allows(
        lambdas, "s3:PutObject", only_new, f"{deploys}/preview-x.preview-request.json"
    )
