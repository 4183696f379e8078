"""Google IAM calls as data: service accounts, their keys, and IAM policies (read one, add a
member to roles, drop a member) on projects, accounts, buckets and other resources. Pure
functions; identity_gcp sends them through a gcp_api.Transport."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pilot_tui.cloud.gcp_api import ApiRequest
from pilot_tui.naming import gcp_account_id

IAM = "https://iam.googleapis.com/v1/"
CRM = "https://cloudresourcemanager.googleapis.com/v1/"
STORAGE = "https://storage.googleapis.com/storage/v1"


# -- requests as data ------------------------------------------------------------------
def account_email(project: str, gcp_project: str, role: str = "deployer") -> str:
    return f"{gcp_account_id(project, role)}@{gcp_project}.iam.gserviceaccount.com"


def runtime_account_email(project: str, gcp_project: str) -> str:
    """What the project's Cloud Run services run as: an account of their own with no role
    but reading their secrets (the default compute account is an editor of the project)."""
    return account_email(project, gcp_project, "run")


def preview_runtime_email(project: str, gcp_project: str) -> str:
    """What the project's Cloud Run previews run as: an account with no role but reading
    the previews' own secrets (a preview runs a branch's code: it must not read the apps'
    secrets, as the apps' own runtime account may). One per project: a preview of one app
    may read the previews' secrets of the others."""
    return account_email(project, gcp_project, "preview")


def accounts_url(gcp_project: str) -> str:
    return f"{IAM}projects/{gcp_project}/serviceAccounts"


def account_url(gcp_project: str, email: str) -> str:
    return f"{accounts_url(gcp_project)}/{email}"


def project_url(gcp_project: str) -> str:
    return f"{CRM}projects/{gcp_project}"


def create_account_request(project: str, gcp_project: str, role: str = "deployer") -> ApiRequest:
    what = {
        "deployer": ("Pilot deployer", "used by deploys (least privilege)"),
        "run": ("Pilot Cloud Run apps", "what the Cloud Run apps run as"),
        "ci": ("Pilot CI", "what GitHub Actions runs act as (pilot-tui ci github)"),
        "preview": ("Pilot Cloud Run previews", "what previews run as (their secrets only)"),
    }[role]
    return ApiRequest(
        "POST",
        accounts_url(gcp_project),
        body={
            "accountId": gcp_account_id(project, role),
            "serviceAccount": {
                "displayName": f"{what[0]} of {project}",
                "description": f"Made by pilot-tui setup; {what[1]}",
            },
        },
    )


def delete_account_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest("DELETE", account_url(gcp_project, email))


def create_key_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{account_url(gcp_project, email)}/keys",
        body={"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"},
    )


def list_keys_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest(
        "GET", f"{account_url(gcp_project, email)}/keys", params={"keyTypes": "USER_MANAGED"}
    )


def delete_key_request(key_name: str) -> ApiRequest:
    """``key_name`` as the API returns it: projects/P/serviceAccounts/E/keys/ID."""
    return ApiRequest("DELETE", IAM + key_name)


def get_policy_request(resource_url: str) -> ApiRequest:
    """Version 3 so conditional bindings come back whole (a set of a version-1 read of a
    policy with conditions would be refused)."""
    return ApiRequest(
        "POST", f"{resource_url}:getIamPolicy", body={"options": {"requestedPolicyVersion": 3}}
    )


def set_policy_request(resource_url: str, policy: dict[str, Any]) -> ApiRequest:
    """``policy`` carries the etag read with it: a concurrent change makes this a 409."""
    return ApiRequest("POST", f"{resource_url}:setIamPolicy", body={"policy": policy})


def get_resource_policy_request(resource_url: str) -> ApiRequest:
    """Artifact Registry and Secret Manager read a policy with GET (v1)."""
    return ApiRequest(
        "GET", f"{resource_url}:getIamPolicy", params={"options.requestedPolicyVersion": 3}
    )


def get_bucket_policy_request(bucket_url: str) -> ApiRequest:
    return ApiRequest("GET", f"{bucket_url}/iam", params={"optionsRequestedPolicyVersion": 3})


def set_bucket_policy_request(bucket_url: str, policy: dict[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", f"{bucket_url}/iam", body=policy)


class PolicyApi(NamedTuple):
    """How one kind of resource reads and writes its IAM policy."""

    get: Callable[[str], ApiRequest]
    set: Callable[[str, dict[str, Any]], ApiRequest]


IAM_POLICY = PolicyApi(get_policy_request, set_policy_request)  # projects, accounts
RESOURCE_POLICY = PolicyApi(get_resource_policy_request, set_policy_request)
BUCKET_POLICY = PolicyApi(get_bucket_policy_request, set_bucket_policy_request)


def bucket_url(bucket: str) -> str:
    return f"{STORAGE}/b/{bucket}"


def create_bucket_request(gcp_project: str, bucket: str, location: str) -> ApiRequest:
    """A site bucket as gcs_site.GcsSite makes it: uniform access, served as a website."""
    return ApiRequest(
        "POST",
        f"{STORAGE}/b",
        params={"project": gcp_project},
        body={
            "name": bucket,
            "location": location,
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}},
            "website": {"mainPageSuffix": "index.html", "notFoundPage": "404.html"},
        },
    )


def default_runtime_account(project_number: str) -> str:
    """What Cloud Run services run as when they name no account (Pilot's do not)."""
    return f"{project_number}-compute@developer.gserviceaccount.com"


# -- policies --------------------------------------------------------------------------
def with_member(policy: dict[str, Any], roles: Iterable[str], member: str) -> dict[str, Any] | None:
    """``policy`` with ``member`` in each of ``roles``, or None when it is already there.
    Other bindings, conditional ones of the same role included, are kept as they are."""
    bindings = [dict(b) for b in policy.get("bindings", [])]
    changed = False
    for role in roles:
        plain = next((b for b in bindings if b.get("role") == role and "condition" not in b), None)
        if plain is None:
            bindings.append({"role": role, "members": [member]})
        elif member not in plain.get("members", []):
            plain["members"] = [*plain.get("members", []), member]
        else:
            continue
        changed = True
    return {**policy, "bindings": bindings} if changed else None


def with_only_conditional(
    policy: dict[str, Any], role: str, member: str, condition: dict[str, str]
) -> dict[str, Any] | None:
    """``policy`` granting ``member`` ``role`` under ``condition`` alone: in the binding of
    that role and condition (made when missing), and in no other binding of the role (an
    earlier grant without it, or with another, is taken back). Version 3, which conditions
    need. None when it is so already."""
    bindings = policy.get("bindings", [])
    mine = next(
        (b for b in bindings if b.get("role") == role and b.get("condition") == condition), None
    )
    others = {**policy, "bindings": [b for b in bindings if b is not mine]}
    taken = without_roles(others, (role,), member)  # an earlier grant beside it
    members = list((mine or {}).get("members", []))
    if member in members and taken is None:
        return None
    granted = {"role": role, "members": members + [member] * (member not in members)}
    return {
        **policy,
        "bindings": [*(taken or others)["bindings"], {**granted, "condition": condition}],
        "version": 3,
    }


def without_roles(
    policy: dict[str, Any], roles: Iterable[str], member: str
) -> dict[str, Any] | None:
    """``policy`` with ``member`` gone from its bindings of ``roles`` (a binding left with
    no member goes too), or None when it held none of them."""
    dropped = set(roles)
    bindings, changed = [], False
    for binding in policy.get("bindings", []):
        members = binding.get("members", [])
        if binding.get("role") in dropped and member in members:
            changed = True
            kept = [m for m in members if m != member]
            if kept:
                bindings.append({**binding, "members": kept})
        else:
            bindings.append(binding)
    return {**policy, "bindings": bindings} if changed else None


def without_member(policy: dict[str, Any], member: str) -> dict[str, Any] | None:
    """``policy`` with ``member`` gone from every binding (also as the deleted:...?uid=
    form IAM gives it once the account is deleted), or None when it was in none."""
    return without_members(policy, lambda m: m == member or m.startswith(f"deleted:{member}?uid="))


def without_members(policy: dict[str, Any], gone: Callable[[str], bool]) -> dict[str, Any] | None:
    """``policy`` with every member ``gone`` says goes removed from every binding (a
    binding left empty goes too: IAM refuses one), or None when none was there."""
    bindings, changed = [], False
    for binding in policy.get("bindings", []):
        members = [m for m in binding.get("members", []) if not gone(m)]
        changed |= len(members) != len(binding.get("members", []))
        if members:  # an empty binding is refused
            bindings.append({**binding, "members": members})
    return {**policy, "bindings": bindings} if changed else None
