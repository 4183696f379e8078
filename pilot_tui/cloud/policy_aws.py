"""The AWS deployer's least-privilege policy as data, one named builder per concept.

Only what deploys need, only on resources named after the project where AWS lets a policy
name them (naming.py); where it cannot (random ids: security groups, distributions, load
balancers), only resources carrying the project tag, which may be written only by the call
creating them (policy_aws_tagged.py). Roles are made at setup, not by deploys: a deployer
that could create roles or attach any policy to them could grant itself anything.
tests/unit/test_deployer_policy.py checks the whole with cloudsplaining."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pilot_tui.cloud.policy_aws_tagged import Statement, cdn_statements, network_statements
from pilot_tui.config.schema import AppSettings, EcsTarget, LambdaTarget, PilotConfig
from pilot_tui.naming import (
    CI_STATE_PREFIXES,
    PREVIEW,
    PREVIEW_EXPIRES,
    PREVIEW_OF,
    PROJECT_TAG,
    execution_roles,
    parameter_path,
    prefix,
    preview_execution_role,
    preview_repository,
    project_resource,
    state_bucket,
)

# The one AWS managed policy each execution role gets (by the target kind running as it).
EXECUTION_POLICIES = {
    LambdaTarget.kind: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    EcsTarget.kind: "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
}


@dataclass(frozen=True)
class Scope:
    """Whose policy: the project, and the account and region its resources live in."""

    project: str
    account: str
    region: str

    @property
    def names(self) -> str:
        return prefix(self.project)

    @property
    def arn(self) -> str:
        """The region:account part of a regional resource's ARN."""
        return f"{self.region}:{self.account}"

    @property
    def roles(self) -> list[str]:
        """The execution roles deploys pass on: the kinds', and the Lambda previews'."""
        names = [*execution_roles(self.project).values(), preview_execution_role(self.project)]
        return [f"arn:aws:iam::{self.account}:role/{name}" for name in names]


WHOLE_STATE_BUCKET = "StateAndHistory"  # the deployer's grant on the state bucket, all of it


def site_statements(scope: Scope) -> list[Statement]:
    """A static site's buckets, and the state bucket's objects (the release history)."""
    names, state = scope.names, state_bucket(scope.project)
    return [
        {
            "Sid": "SiteBuckets",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket",
                "s3:ListBucket",
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:PutBucketPolicy",
                "s3:GetBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:DeleteBucket",
                "s3:PutBucketVersioning",
                "s3:GetObjectVersion",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:ListBucketVersions",
                "s3:DeleteObjectVersion",
                "s3:PutBucketTagging",
            ],
            "Resource": [f"arn:aws:s3:::{names}*", f"arn:aws:s3:::{names}*/*"],
        },
        {
            "Sid": WHOLE_STATE_BUCKET,
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{state}", f"arn:aws:s3:::{state}/*"],
        },
        {
            "Sid": "ForgetPreviews",  # a removed preview's history and lease, nothing else
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": [
                f"arn:aws:s3:::{state}/pilot/releases/*--*.json",
                f"arn:aws:s3:::{state}/pilot/locks/*--*.json",
            ],
        },
    ]


def image_statements(scope: Scope) -> list[Statement]:
    """The apps' ECR repositories, and the registry login (which takes no resource)."""
    return [
        {
            "Sid": "Images",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:PutImage",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:CreateRepository",
                "ecr:TagResource",
                "ecr:DescribeRepositories",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:DeleteRepository",
                # a removed preview's own tags (previews.image_tag), and what only they named
                "ecr:ListImages",
                "ecr:BatchDeleteImage",
                # Lambda's pulls (registry.LAMBDA_PULLS): set on a previews' repository when
                # it is made; Lambda itself sets them on an app's through its caller. (Any
                # statement on any of the project's repositories: AWS offers no narrower.)
                "ecr:GetRepositoryPolicy",
                "ecr:SetRepositoryPolicy",
                # the CI runs' images of a Pilot Server app: its newest kept, the rest
                # expired (server_requests._expire_old_images)
                "ecr:PutLifecyclePolicy",
            ],
            "Resource": f"arn:aws:ecr:{scope.arn}:repository/{scope.names}*",
        },
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
    ]


def function_statements(scope: Scope) -> list[Statement]:
    """The Lambda apps' functions (and their versions and aliases), and finding their
    previews (functions of their own) by their tags."""
    functions = f"arn:aws:lambda:{scope.arn}:function:{scope.names}*"
    return [
        {
            "Sid": "Functions",
            "Effect": "Allow",
            "Action": "lambda:*",
            "Resource": [functions, f"{functions}:*"],
        },
        {
            "Sid": "FindPreviews",  # a read of tags; GetResources takes no resource
            "Effect": "Allow",
            "Action": "tag:GetResources",
            "Resource": "*",
        },
    ]


def service_statements(scope: Scope) -> list[Statement]:
    """The project's ECS cluster, its services and the apps' task definitions."""
    cluster, arn = project_resource(scope.project), scope.arn
    return [
        {
            "Sid": "Services",
            "Effect": "Allow",
            "Action": ["ecs:*"],
            "Resource": [
                f"arn:aws:ecs:{arn}:cluster/{cluster}",
                f"arn:aws:ecs:{arn}:service/{cluster}/*",
                f"arn:aws:ecs:{arn}:task-definition/{scope.names}*:*",
            ],
        },
        {
            "Sid": "TaskDefinitions",
            "Effect": "Allow",  # these take no resource
            "Action": [
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
            ],
            "Resource": "*",
        },
    ]


def execution_role_statements(scope: Scope) -> list[Statement]:
    """The execution roles setup made: passed on to functions and tasks, and given only
    their own managed policy."""
    return [
        {
            "Sid": "PassExecutionRoles",
            "Effect": "Allow",
            "Action": [
                "iam:GetRole",
                "iam:PassRole",
                "iam:ListAttachedRolePolicies",
                "iam:GetRolePolicy",
            ],
            "Resource": scope.roles,
        },
        {
            "Sid": "OnlyTheExecutionPolicies",  # not to the previews' role: its logs only
            "Effect": "Allow",
            "Action": "iam:AttachRolePolicy",
            "Resource": scope.roles[: len(execution_roles(scope.project))],
            "Condition": {"ArnEquals": {"iam:PolicyARN": list(EXECUTION_POLICIES.values())}},
        },
    ]


def log_statements(scope: Scope) -> list[Statement]:
    """The apps' CloudWatch log groups (ECS apps under their parameter path, functions
    under /aws/lambda/)."""
    arn = scope.arn
    return [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:FilterLogEvents",
                "logs:GetLogEvents",
                "logs:PutRetentionPolicy",
                "logs:DeleteLogGroup",
                "logs:TagResource",
                "logs:TagLogGroup",
                "logs:DescribeLogGroups",
            ],
            "Resource": [
                f"arn:aws:logs:{arn}:log-group:{parameter_path(scope.project)}/*",
                f"arn:aws:logs:{arn}:log-group:/aws/lambda/{scope.names}*",
            ],
        },
    ]


def secret_statements(scope: Scope) -> list[Statement]:
    """The ECS apps' secrets in Parameter Store."""
    return [
        {
            "Sid": "Secrets",
            "Effect": "Allow",
            "Action": [
                "ssm:PutParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:DeleteParameter",
                "ssm:DeleteParameters",
                "ssm:AddTagsToResource",
                "ssm:GetParametersByPath",
            ],
            "Resource": f"arn:aws:ssm:{scope.arn}:parameter{parameter_path(scope.project)}/*",
        },
    ]


# The policy, in this order.
STATEMENTS: tuple[Callable[[Scope], list[Statement]], ...] = (
    site_statements,
    lambda scope: cdn_statements(scope.project, scope.account),
    image_statements,
    function_statements,
    service_statements,
    execution_role_statements,
    lambda scope: network_statements(scope.project, scope.arn),
    log_statements,
    secret_statements,
)


def aws_policy(project: str, account: str, region: str) -> dict[str, Any]:
    """The deployer user's one policy."""
    scope = Scope(project, account, region)
    return {
        "Version": "2012-10-17",
        "Statement": [statement for build in STATEMENTS for statement in build(scope)],
    }


def ci_policy(project: str, account: str, region: str) -> dict[str, Any]:
    """The branch's role (`ci github`: what a run on the deployed branch may do): the
    deployer's policy, but of the state bucket only what a run reads and writes (the
    release history, the leases, the deploy requests to the server's worker), never the
    Terraform state or the databases' backups beside them. A workflow's step, or a
    dependency it installs, reads no production data and none of the server's secrets
    that Terraform's state holds; the deployer user keeps the whole bucket (`db backup`
    and `db restore` run with it on a laptop)."""
    state = f"arn:aws:s3:::{state_bucket(project)}"
    deployer = aws_policy(project, account, region)["Statement"]
    runs = [
        {
            # the history, the leases; a branch's requests, their claims when withdrawn,
            # the worker's events, results and heartbeats (server_queue.py)
            "Sid": "HistoryLeasesAndRequests",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"{state}/{prefix}*" for prefix in CI_STATE_PREFIXES],
        },
        {
            "Sid": "ListState",  # the keys' names (a missing history is a 404, not a 403)
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": state,
        },
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [s for s in deployer if s["Sid"] != WHOLE_STATE_BUCKET] + runs,
    }


def execution_secrets_policy(
    project: str, account: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """ECS reads the app's secrets from Parameter Store when it starts a task. No
    kms:Decrypt: the AWS-managed key aws/ssm already lets the account's principals decrypt
    through SSM, and a grant on "*" would open customer-managed keys too."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": (
                    f"arn:{partition}:ssm:{region}:{account}:parameter{parameter_path(project)}/*"
                ),
            }
        ],
    }


def preview_policy(
    project: str,
    account: str,
    region: str,
    apps: Sequence[str],
    images: Sequence[str] = (),
    servers: Sequence[str] = (),
) -> dict[str, Any]:
    """The previews' role (`ci github`: what a pull request's run may do): make, update and
    remove the previews of ``apps`` (their own Lambda functions), and nothing of the apps'
    own. A preview needs no network or secret store; of ``images`` (those of ``apps``
    deployed as images) it pushes, reads and deletes images in the app's previews'
    repository (naming.preview_repository), never the app's own, and makes none (`ci
    github` does, with Lambda's pulls already allowed, so it sets no repository policy).
    The previews' execution role is passed, never changed; the release history is read,
    and written only for these previews (pilot/releases/APP--NAME.json). Not the Terraform
    state beside it.

    A preview function is named pilot-PROJECT-APP--NAME, one pattern per app, but a name
    alone is not enough (IAM's ``*`` also matches ``:``, and a neighbour project's names
    may match the pattern): each call needs the function tagged as this project's preview
    of one of ``apps``; one made must be tagged so, and afterwards only its expiry is
    renewed. Whether IAM sees a new function's tags as its resource tags while making it
    (AWS's ABAC guide implies it does) or not, tagging on create is allowed, and an app's
    own function (tagged with the project, never as a preview) is never made one.

    Of ``servers`` (apps of the Docker host, which a run cannot reach; their images are
    in ``images``) it asks the Pilot Server's worker for their previews: it writes and
    reads the deploy requests whose keys say they are a pull request's
    (server_queue.PREVIEW_ID), which the worker takes for nothing but such a preview, and
    reads the workers' heartbeats. Nothing of the Docker host itself."""
    scope = Scope(project, account, region)
    statements = _preview_function_statements(scope, project, account, apps) if apps else []
    state = state_bucket(project)
    releases = f"arn:aws:s3:::{state}/pilot/releases"
    return {
        "Version": "2012-10-17",
        "Statement": [
            *statements,
            {
                "Sid": "ReadHistory",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{releases}/*",
            },
            {
                "Sid": "ListHistory",  # (and a missing history is a 404, not a 403)
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{state}",
            },
            *(_preview_image_statements(scope, project, images) if images else []),
            *(_preview_request_statements(state) if servers else []),
        ],
    }


def _preview_request_statements(state: str) -> list[dict[str, Any]]:
    """Asking the Pilot Server's worker for previews (server_queue.py): a pull request's
    requests only, made and never changed, and the workers' heartbeats."""
    deploys = f"arn:aws:s3:::{state}/pilot/deploys"
    return [
        {
            # A pull request's request (the worker takes previews alone from those keys)
            # and its claim when the run withdraws it; never a branch's request key. Each
            # only where none is (If-None-Match): a run cannot change another's request,
            # nor its worker's claim (found reviewing).
            "Sid": "AskTheServersWorker",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [
                f"{deploys}/preview-*.preview-request.json",
                f"{deploys}/preview-*.claim.json",
            ],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        {
            # The request's claim, its events as they come and how it ended: the result is
            # the worker's alone to write (a run could otherwise fake another's outcome).
            "Sid": "FollowTheServersWorker",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                f"{deploys}/preview-*.preview-request.json",
                f"{deploys}/preview-*.claim.json",
                f"{deploys}/preview-*.events.json",
                f"{deploys}/preview-*.result.json",
            ],
        },
        {
            "Sid": "SeeTheServersWorker",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{deploys}/workers/*",
        },
    ]


def _preview_function_statements(
    scope: Scope, project: str, account: str, apps: Sequence[str]
) -> list[dict[str, Any]]:
    """The Lambda previews of ``apps``: their functions, logs, history and leases."""
    names = [f"{scope.names}{app}--*" for app in apps]
    functions = [f"arn:aws:lambda:{scope.arn}:function:{name}" for name in names]
    previews_role = f"arn:aws:iam::{account}:role/{preview_execution_role(project)}"
    state = state_bucket(project)
    releases = f"arn:aws:s3:::{state}/pilot/releases"
    locks = f"arn:aws:s3:::{state}/pilot/locks"
    ours = {f"aws:ResourceTag/{PROJECT_TAG}": project, f"aws:ResourceTag/{PREVIEW_OF}": list(apps)}
    asked = {f"aws:RequestTag/{PROJECT_TAG}": project, f"aws:RequestTag/{PREVIEW_OF}": list(apps)}
    labels = {"aws:TagKeys": [PROJECT_TAG, PREVIEW_OF, PREVIEW, PREVIEW_EXPIRES]}
    return [
        {
            "Sid": "PreviewFunctions",
            "Effect": "Allow",
            "Action": [
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:PublishVersion",
                "lambda:GetAlias",
                "lambda:CreateAlias",
                "lambda:UpdateAlias",
                "lambda:GetFunctionUrlConfig",
                "lambda:CreateFunctionUrlConfig",
                "lambda:DeleteFunctionUrlConfig",
                "lambda:AddPermission",
                "lambda:ListTags",
                "lambda:DeleteFunction",
            ],
            "Resource": functions,
            "Condition": {"StringEquals": ours},
        },
        {
            # Whether a preview's function is there yet: IAM sees no tags on one that is
            # not, so only an untagged (never a project's) function may be looked at.
            "Sid": "LookBeforeMaking",
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "Resource": functions,
            "Condition": {"Null": {f"aws:ResourceTag/{PROJECT_TAG}": "true"}},
        },
        {
            "Sid": "MakePreviewFunctions",  # tagged as a preview of one of the apps
            "Effect": "Allow",
            "Action": "lambda:CreateFunction",
            "Resource": functions,
            "Condition": {
                "StringEquals": asked,
                "ForAllValues:StringEquals": labels,
                "StringEqualsIfExists": ours,
            },
        },
        {
            # CreateFunction's tags, where IAM sees none on the function being made
            "Sid": "TagWhileMaking",
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": functions,
            "Condition": {
                "StringEquals": asked,
                "ForAllValues:StringEquals": labels,
                "Null": {f"aws:ResourceTag/{PROJECT_TAG}": "true"},
            },
        },
        {
            # CreateFunction's tags, where IAM sees them as the new function's own
            "Sid": "TagWhileMakingTagged",
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": functions,
            "Condition": {
                "StringEquals": {**asked, **ours},
                "ForAllValues:StringEquals": labels,
            },
        },
        {
            "Sid": "RenewTheExpiry",  # a redeploy's; never whose preview it is
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": functions,
            "Condition": {
                "StringEquals": ours,
                "ForAllValues:StringEquals": {"aws:TagKeys": [PREVIEW_EXPIRES]},
            },
        },
        {
            # Previews earlier Pilots made as aliases of the app's function, counted
            # (legacy_previews.py): seen, never changed.
            "Sid": "SeeOldPreviews",
            "Effect": "Allow",
            "Action": ["lambda:ListAliases", "lambda:GetFunctionUrlConfig"],
            "Resource": [
                *(f"arn:aws:lambda:{scope.arn}:function:{scope.names}{app}" for app in apps),
                *(
                    f"arn:aws:lambda:{scope.arn}:function:{scope.names}{app}:preview--*"
                    for app in apps
                ),
            ],
        },
        {
            "Sid": "FindPreviews",  # by their tags (GetResources takes no resource)
            "Effect": "Allow",
            "Action": "tag:GetResources",
            "Resource": "*",
        },
        {
            # The previews' own execution role (their logs only), never the apps': a
            # pull request's code runs as it.
            "Sid": "PassThePreviewsRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": previews_role,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
        {
            "Sid": "FindThePreviewsRole",
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": previews_role,
        },
        {
            "Sid": "PreviewLogs",
            "Effect": "Allow",
            "Action": ["logs:FilterLogEvents", "logs:GetLogEvents", "logs:DeleteLogGroup"],
            "Resource": [
                f"arn:aws:logs:{scope.arn}:log-group:/aws/lambda/{name}" for name in names
            ],
        },
        {
            "Sid": "PreviewHistory",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{releases}/{app}--*.json" for app in apps],
        },
        {
            # One deploy of a preview at a time, a laptop's or a run's (shared_lease.py)
            "Sid": "PreviewDeployLocks",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{locks}/{app}--*.json" for app in apps],
        },
    ]


def _preview_image_statements(
    scope: Scope, project: str, images: Sequence[str]
) -> list[dict[str, Any]]:
    """Pushing an image app's previews' images to their own repository, and deleting them."""
    return [
        {
            "Sid": "PreviewImages",
            "Effect": "Allow",
            "Action": [
                "ecr:DescribeRepositories",
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetRepositoryPolicy",  # Lambda's pulls, looked at when it makes one
                "ecr:ListImages",
                "ecr:BatchDeleteImage",
            ],
            "Resource": [
                f"arn:aws:ecr:{scope.arn}:repository/{preview_repository(project, app)}"
                for app in images
            ],
        },
        {
            "Sid": "RegistryLogin",  # the token alone; each repository is granted above
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
    ]


def preview_logs_policy(
    project: str, account: str, region: str, apps: Sequence[str]
) -> dict[str, Any]:
    """What Lambda previews of ``apps`` run as may do (a pull request's code): write their
    own logs. Not AWSLambdaBasicExecutionRole, the apps' role's, which may write any log
    group."""
    groups = [
        f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{prefix(project)}{app}--*"
        for app in apps
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [*groups, *(f"{group}:*" for group in groups)],
            }
        ],
    }


def lambda_preview_apps(config: PilotConfig) -> list[AppSettings]:
    """The Lambda apps that run previews (previews.max above 0): the server's grant to
    remove their expired previews (`server up`, terraform/aws) and the agent's look for
    them (scheduling.lambda_previews)."""
    return [a for a in config.apps if a.target.kind == LambdaTarget.kind and a.previews.max > 0]
