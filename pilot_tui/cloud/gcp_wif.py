"""Keyless deploys from GitHub Actions on Google Cloud, as data: a Workload Identity pool
of the project's, its provider for GitHub's OIDC issuer (admitting this repository's
tokens only), and the binding that lets runs on one branch act as the deployer service
account; then a small evaluator of all three over a token's claims. No IAM emulator
exists here, so what Google would admit is checked by that evaluator (as github_oidc's
is for AWS's trust policies), and the calls as data.

A run asks GitHub for a token whose audience is the provider, exchanges it at Google's
STS for a federated token and that for the deployer's access token
(oidc_exchange.google_credentials): no key is stored anywhere."""

from __future__ import annotations

import re
from typing import Any

from pilot_tui.cloud.gcp_api import ApiRequest
from pilot_tui.cloud.gcp_iam import IAM

ISSUER_URI = "https://token.actions.githubusercontent.com"
PROVIDER_ID = "github"
# The role that lets a federated identity act as a service account (getAccessToken).
WORKLOAD_USER = "roles/iam.workloadIdentityUser"
POOL_MAX = 32  # a pool id is 4-32 of [a-z0-9-]
SUBJECT_MAX = 127  # bytes of google.subject, which holds the token's sub
STS_URL = "https://sts.googleapis.com/v1/token"
IAM_CREDENTIALS = "https://iamcredentials.googleapis.com/v1/"
# What the provider maps from GitHub's token: the subject names repository and ref.
ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.ref": "assertion.ref",
}


def pool_id(project: str) -> str:
    return f"pilot-{project}"[:POOL_MAX].rstrip("-")


def pool_url(gcp_project: str, pool: str) -> str:
    return f"{IAM}projects/{gcp_project}/locations/global/workloadIdentityPools/{pool}"


def provider_url(gcp_project: str, pool: str) -> str:
    return f"{pool_url(gcp_project, pool)}/providers/{PROVIDER_ID}"


def provider_name(project_number: str, pool: str) -> str:
    """The provider's full name (by project number, as tokens and principals name it)."""
    return (
        f"projects/{project_number}/locations/global/workloadIdentityPools/{pool}"
        f"/providers/{PROVIDER_ID}"
    )


def audience(name: str) -> str:
    """The audience a run asks GitHub's token for: the provider's default allowed one."""
    return f"https://iam.googleapis.com/{name}"


def subject(repo: str, branch: str) -> str:
    """The token subject of a run on ``branch`` of ``repo`` (github_oidc.subjects)."""
    return f"repo:{repo}:ref:refs/heads/{branch}"


def principal(project_number: str, pool: str, sub: str) -> str:
    """The one federated identity a binding admits: tokens of subject ``sub``, exactly."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
        f"workloadIdentityPools/{pool}/subject/{sub}"
    )


def pool_members_prefix(project_number: str, pool: str) -> tuple[str, ...]:
    """How every identity of ``pool`` begins in a binding (one subject or a set)."""
    base = (
        f"iam.googleapis.com/projects/{project_number}/locations/global/"
        f"workloadIdentityPools/{pool}/"
    )
    return (f"principal://{base}", f"principalSet://{base}")


def workflow_ref(repo: str, branch: str) -> str:
    """The workflow `ci github` writes, on ``branch``, as a token's workflow_ref names it."""
    from pilot_tui.cloud.github_oidc import WORKFLOW

    return f"{repo}/{WORKFLOW}@refs/heads/{branch}"


def attribute_condition(repo: str, branch: str) -> str:
    """What the provider admits at all: a push's run of Pilot's workflow on ``branch`` of
    ``repo``. GitHub's issuer serves every repository on GitHub, so a provider with no
    condition would let any of them in (Google refuses GitHub providers without one now);
    and another workflow of the repository on that branch (a `pull_request_target` or
    `issue_comment` job that checks out someone's code) has the same subject."""
    return (
        f"assertion.repository == '{repo}' && assertion.event_name == 'push' && "
        f"assertion.workflow_ref == '{workflow_ref(repo, branch)}'"
    )


def create_pool_request(gcp_project: str, project: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{IAM}projects/{gcp_project}/locations/global/workloadIdentityPools",
        params={"workloadIdentityPoolId": pool_id(project)},
        body={
            "displayName": f"Pilot {project}"[:32],
            "description": f"Made by pilot-tui ci github: GitHub Actions runs of {project}",
        },
    )


def provider_body(repo: str, branch: str) -> dict[str, Any]:
    return {
        "displayName": "GitHub Actions",
        "description": f"Made by pilot-tui ci github: runs of {repo}",
        "disabled": False,
        "attributeMapping": dict(ATTRIBUTE_MAPPING),
        "attributeCondition": attribute_condition(repo, branch),
        "oidc": {"issuerUri": ISSUER_URI},
    }


def create_provider_request(gcp_project: str, pool: str, repo: str, branch: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{pool_url(gcp_project, pool)}/providers",
        params={"workloadIdentityPoolProviderId": PROVIDER_ID},
        body=provider_body(repo, branch),
    )


def update_provider_request(gcp_project: str, pool: str, repo: str, branch: str) -> ApiRequest:
    """The provider as made for another repository or branch, or by hand, or disabled,
    set to admit ``repo``'s ``branch`` (and enabled)."""
    return ApiRequest(
        "PATCH",
        provider_url(gcp_project, pool),
        params={"updateMask": "disabled,attributeMapping,attributeCondition,oidc"},
        body=provider_body(repo, branch),
    )


def enable_pool_request(gcp_project: str, pool: str) -> ApiRequest:
    """A pool disabled by hand enabled again (a disabled pool exchanges no token)."""
    return ApiRequest(
        "PATCH",
        pool_url(gcp_project, pool),
        params={"updateMask": "disabled"},
        body={"disabled": False},
    )


def undelete_request(url: str) -> ApiRequest:
    """A pool or provider deleted less than 30 days ago (its id is not free until then)."""
    return ApiRequest("POST", f"{url}:undelete", body={})


def impersonation_url(email: str, base: str = IAM_CREDENTIALS) -> str:
    return f"{base}projects/-/serviceAccounts/{email}:generateAccessToken"


# -- what Google would admit --------------------------------------------------------------
_TEST = re.compile(r"^assertion\.([a-z_]+) == '([^']*)'$")


def admits(
    provider: dict[str, Any],
    name: str,
    members: list[str],
    claims: dict[str, str],
    project_number: str,
    pool: str,
) -> bool:
    """Whether a token with ``claims`` gets the deployer's access token: Google's STS
    takes it for a federated token (``provider_admits``), then IAM lets that act as the
    deployer (``binding_admits``)."""
    return provider_admits(provider, name, claims) and binding_admits(
        provider.get("attributeMapping", {}), members, claims, project_number, pool
    )


def provider_admits(provider: dict[str, Any], name: str, claims: dict[str, str]) -> bool:
    """What Google's STS checks of a token against the provider (its body, as made) named
    ``name``: that it is enabled, the issuer, the audience (the provider's default when
    none is listed), and an attribute condition of ``assertion.X == 'v'`` tests joined by
    ``&&`` (anything else, or none, admits nothing here)."""
    if provider.get("disabled") or claims.get("iss") != provider.get("oidc", {}).get("issuerUri"):
        return False
    # The default allowed audience: the provider's full name, with or without https:.
    allowed = provider.get("oidc", {}).get("allowedAudiences") or [
        audience(name),
        f"//iam.googleapis.com/{name}",
    ]
    if claims.get("aud") not in allowed:
        return False
    condition = provider.get("attributeCondition", "")
    tests = [_TEST.match(part.strip()) for part in condition.split("&&")] if condition else []
    return bool(tests) and all(t is not None and claims.get(t[1]) == t[2] for t in tests)


def binding_admits(
    mapping: dict[str, str],
    members: list[str],
    claims: dict[str, str],
    project_number: str,
    pool: str,
) -> bool:
    """What IAM checks when the federated identity asks for the deployer's token: the
    subject mapped from ``sub``, or a mapped attribute, among ``members`` of the workload
    identity user role (``principal://`` one subject, ``principalSet://`` a set)."""
    if mapping.get("google.subject") != "assertion.sub" or not claims.get("sub"):
        return False
    attributes = {
        key.removeprefix("attribute."): claims.get(value.removeprefix("assertion."), "")
        for key, value in mapping.items()
        if key.startswith("attribute.")
    }
    person, group = pool_members_prefix(project_number, pool)
    for member in members:
        if member == f"{person}subject/{claims['sub']}":
            return True
        if member == f"{group}*":
            return True
        if member.startswith(f"{group}attribute."):
            key, _, value = member.removeprefix(f"{group}attribute.").partition("/")
            if attributes.get(key) == value:
                return True
    return False
