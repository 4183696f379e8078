"""A CI run's grant on the Google Cloud state bucket (policy_gcp.ci_state_condition): what
runs use of it (the history, the leases, the deploy requests), never the Terraform state
or the databases' backups. No Google service runs here, so the condition is checked as
data: ``admits`` evaluates the two forms of Common Expression Language it is made of, as
IAM documents them for Cloud Storage (an object's name is projects/_/buckets/B/objects/KEY;
a listing is asked of the bucket, projects/_/buckets/B, its prefix an attribute), joined
by ``||``: ``resource.name.startsWith("…")`` and ``(resource.name == "…" &&
api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("…"))``."""

from __future__ import annotations

import re

import pytest

from pilot_tui.cloud.gcp_iam import with_only_conditional
from pilot_tui.cloud.policy_gcp import ci_state_condition

BUCKET = "pilot-state-acme"
CI = "serviceAccount:pilot-acme-ci@p.iam.gserviceaccount.com"
TERM = re.compile(
    r'^resource\.name\.startsWith\("(?P<start>[^"]+)"\)$'
    r'|^\(resource\.name == "(?P<bucket>[^"]+)" && api\.getAttribute\('
    r'"storage\.googleapis\.com/objectListPrefix", ""\)\.startsWith\("(?P<listed>[^"]+)"\)\)$'
)


def admits(expression: str, name: str, list_prefix: str | None = None) -> bool:
    """``expression`` for a request on resource ``name`` (a listing of a bucket:
    ``list_prefix`` its prefix)."""
    for term in expression.split(" || "):
        found = TERM.match(term.strip())
        assert found is not None, f"a term this evaluator does not know: {term!r}"
        if found["start"] is not None and name.startswith(found["start"]):
            return True
        if (
            found["bucket"] == name
            and list_prefix is not None
            and list_prefix.startswith(found["listed"])
        ):
            return True
    return False


def object_named(key: str) -> str:
    return f"projects/_/buckets/{BUCKET}/objects/{key}"


@pytest.mark.parametrize(
    "key",
    ["pilot/releases/web.json", "pilot/locks/web.json", "pilot/deploys/x.request.json"],
)
def test_what_runs_use_is_admitted(key):
    assert admits(ci_state_condition(BUCKET)["expression"], object_named(key))


@pytest.mark.parametrize(
    "key",
    [
        "pilot/server.tfstate",  # the server's Terraform state: its secrets
        "backups/main/20261206T000000Z.dump",  # a database's data
        "pilot/releasesX/web.json",  # a prefix is a folder, not a start of a name
        "other/pilot/releases/web.json",
    ],
)
def test_the_terraform_state_and_backups_are_not(key):
    assert not admits(ci_state_condition(BUCKET)["expression"], object_named(key))


def test_listings_under_what_runs_use_are_admitted_and_no_other():
    """The queue and the history are listed by prefix; a listing of the whole bucket, or
    of backups/, would show what else it holds."""
    expression = ci_state_condition(BUCKET)["expression"]
    bucket = f"projects/_/buckets/{BUCKET}"
    for prefix in ("pilot/deploys/", "pilot/deploys/workers/", "pilot/releases/web"):
        assert admits(expression, bucket, prefix), prefix
    for prefix in ("", "pilot/", "backups/", "backups/main/"):
        assert not admits(expression, bucket, prefix), prefix
    other = "projects/_/buckets/pilot-state-acme-x/objects/pilot/releases/web.json"
    assert not admits(expression, other)
    assert not admits(expression, "projects/_/buckets/pilot-state-acme-x", "pilot/releases/")


def test_an_earlier_whole_grant_is_narrowed_and_others_bindings_kept():
    """`ci github` of an earlier Pilot granted CI the whole bucket: run again, the grant
    is the conditional one alone; the deployer's whole grant is never touched."""
    deployer = "serviceAccount:pilot-acme-deployer@p.iam.gserviceaccount.com"
    role = "roles/storage.objectAdmin"
    condition = ci_state_condition(BUCKET)
    before = {"etag": "e1", "bindings": [{"role": role, "members": [deployer, CI]}]}
    after = with_only_conditional(before, role, CI, condition)
    assert after is not None
    assert after["version"] == 3 and after["etag"] == "e1"
    assert after["bindings"] == [
        {"role": role, "members": [deployer]},
        {"role": role, "members": [CI], "condition": condition},
    ]
    assert with_only_conditional(after, role, CI, condition) is None  # so already


def test_the_conditional_binding_another_account_holds_is_joined_not_made_twice():
    role, condition = "roles/storage.objectAdmin", ci_state_condition(BUCKET)
    other = "serviceAccount:someone@p.iam.gserviceaccount.com"
    before = {
        "version": 3,
        "bindings": [{"role": role, "members": [other], "condition": condition}],
    }
    after = with_only_conditional(before, role, CI, condition)
    assert after is not None
    assert after["bindings"] == [{"role": role, "members": [other, CI], "condition": condition}]
