"""Keyless CI deploys on Google Cloud: the workload identity pool, its GitHub provider and
the deployer's binding (pilot_tui.cloud.gcp_wif as data, identity_github_gcp driving it).

No IAM emulator exists here, so the calls go through FakeWif, a recording fake transport
(test_identity_gcp's FakeIam, plus pools and providers kept with their states the way the
API reports them, soft deletion included). It is a fake, not an emulator: it checks what
Pilot asks for. What Google would admit is checked by gcp_wif.admits over sample claims,
applied to the provider and binding the fake was sent, so the verdicts are about what
Pilot really made."""

from __future__ import annotations

import copy

import pytest

from pilot_tui.cloud import gcp_wif
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.cloud.identity_aws import IdentityError
from pilot_tui.cloud.identity_github_gcp import GcpGithubTrust
from pilot_tui.cloud.policy_gcp import Resources
from tests.unit.test_identity_gcp import EMAIL, GCP, FakeIam, members

NUMBER = "123456789012"
POOLS = f"https://iam.googleapis.com/v1/projects/{GCP}/locations/global/workloadIdentityPools"
POOL = f"{POOLS}/pilot-acme"
PROVIDER = f"{POOL}/providers/github"
DEPLOYER_POLICY = f"https://iam.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL}"
NAME = f"projects/{NUMBER}/locations/global/workloadIdentityPools/pilot-acme/providers/github"
MAIN = (
    f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global/"
    "workloadIdentityPools/pilot-acme/subject/repo:acme/shop:ref:refs/heads/main"
)


class FakeWif(FakeIam):
    """FakeIam plus Workload Identity pools and providers: each create answers a
    long-running operation that is done when polled; a deleted one keeps its id (409)
    until undeleted, as Google's do for 30 days."""

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, str] = {}  # pool / provider url -> ACTIVE | DELETED
        self.bodies: dict[str, dict] = {}
        self.unseen_pool = 0  # provider creates answered 404: the new pool not visible yet

    def operation(self, url: str) -> dict:
        return {"name": f"{url.removeprefix('https://iam.googleapis.com/v1/')}/operations/o1"}

    def __call__(self, request: ApiRequest) -> dict:
        url, method = request.url, request.method
        if not url.startswith(POOLS):
            return super().__call__(request)
        self.calls.append(request)
        if "/operations/" in url:
            return {"name": url, "done": True, "response": {}}
        if url in (POOLS, f"{POOL}/providers") and method == "POST":
            made = (
                f"{url}/{request.params['workloadIdentityPoolId']}"
                if url == POOLS
                else f"{url}/{request.params['workloadIdentityPoolProviderId']}"
            )
            if url != POOLS and (self.unseen_pool or self.states.get(POOL) != "ACTIVE"):
                self.unseen_pool = max(0, self.unseen_pool - 1)
                raise ApiError(404, "Requested entity was not found.", request)
            if made in self.states:
                raise ApiError(409, "Requested entity already exists", request)
            self.states[made] = "ACTIVE"
            self.bodies[made] = copy.deepcopy(request.body)
            return self.operation(made)
        if url.endswith(":undelete"):
            self.states[url.removesuffix(":undelete")] = "ACTIVE"
            return self.operation(url)
        if url not in self.states:
            raise ApiError(404, "Requested entity was not found.", request)
        if method == "GET":
            return {"name": url, "state": self.states[url], **self.bodies[url]}
        if method == "PATCH":
            assert request.params == {"updateMask": "attributeMapping,attributeCondition,oidc"}
            self.bodies[url] = copy.deepcopy(request.body)
            return self.operation(url)
        if method == "DELETE":
            for known in self.states:  # a pool's providers go with it
                if known == url or known.startswith(f"{url}/"):
                    self.states[known] = "DELETED"
            return self.operation(url)
        raise AssertionError(f"unexpected {method} {url}")

    def admits(self, claims: dict[str, str]) -> bool:
        """What Google would decide for a token with ``claims``, from what was made."""
        return self.provider_admits(claims) and self.binding_admits(claims)

    def provider_admits(self, claims: dict[str, str]) -> bool:
        """Google's STS: the provider, as made, takes the token for a federated one."""
        if self.states.get(POOL) != "ACTIVE" or self.states.get(PROVIDER) != "ACTIVE":
            return False
        return gcp_wif.provider_admits(self.bodies[PROVIDER], NAME, claims)

    def binding_admits(self, claims: dict[str, str]) -> bool:
        """IAM: the deployer's binding lets that federated identity act as it."""
        bound = [
            m
            for b in self.policies.get(DEPLOYER_POLICY, {}).get("bindings", [])
            if b["role"] == gcp_wif.WORKLOAD_USER
            for m in b["members"]
        ]
        mapping = self.bodies[PROVIDER]["attributeMapping"]
        return gcp_wif.binding_admits(mapping, bound, claims, NUMBER, "pilot-acme")


def claims(sub: str, repository: str = "acme/shop", **more: str) -> dict[str, str]:
    ref = sub.split(":ref:", 1)[1] if ":ref:" in sub else ""
    return {
        "iss": "https://token.actions.githubusercontent.com",
        "aud": f"https://iam.googleapis.com/{NAME}",
        "sub": sub,
        "repository": repository,
        "ref": ref,
        **more,
    }


@pytest.fixture
def fake() -> FakeWif:
    return FakeWif()


def trust(fake: FakeWif) -> GcpGithubTrust:
    return GcpGithubTrust(fake, "acme", GCP, sleep=lambda _: None)


RESOURCES = Resources("europe-west1", buckets=("pilot-acme-docs-site",))


def test_requests_are_data():
    pool = gcp_wif.create_pool_request(GCP, "acme")
    assert (pool.method, pool.url) == ("POST", POOLS)
    assert pool.params == {"workloadIdentityPoolId": "pilot-acme"}
    provider = gcp_wif.create_provider_request(GCP, "pilot-acme", "acme/shop")
    assert provider.params == {"workloadIdentityPoolProviderId": "github"}
    assert provider.body["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider.body["attributeCondition"] == "assertion.repository == 'acme/shop'"
    assert provider.body["attributeMapping"]["google.subject"] == "assertion.sub"
    assert gcp_wif.principal(NUMBER, "pilot-acme", "repo:acme/shop:ref:refs/heads/main") == MAIN
    # a pool id is 4-32 characters and never ends in a hyphen
    assert (
        gcp_wif.pool_id("a-very-long-project-name-for-a-pool") == "pilot-a-very-long-project-name-f"
    )
    assert gcp_wif.pool_id("abcdefghijklmnopqrstuvwxy-z") == "pilot-abcdefghijklmnopqrstuvwxy"


def test_ensure_makes_the_pool_the_provider_and_one_binding_and_no_key(fake):
    runs = trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert (runs.provider, runs.email) == (NAME, EMAIL)
    assert fake.states == {POOL: "ACTIVE", PROVIDER: "ACTIVE"}
    assert fake.keys == {}  # keyless: the runs act through the pool
    assert not any(c.url.endswith("/keys") for c in fake.calls)
    bindings = fake.policies[DEPLOYER_POLICY]["bindings"]
    assert bindings == [{"role": gcp_wif.WORKLOAD_USER, "members": [MAIN]}]
    # the deployer got its grants on what pilot.toml names (here the site bucket)
    assert ("bucket", "pilot-acme-docs-site", fake.created[0][2]) in fake.created
    # each operation was waited for
    assert any("/operations/" in c.url and c.method == "GET" for c in fake.calls)


@pytest.mark.parametrize(
    ("token", "admitted"),
    [
        (claims("repo:acme/shop:ref:refs/heads/main"), True),
        # a pull request: anyone who may open one would get the deployer's rights
        (claims("repo:acme/shop:pull_request"), False),
        (claims("repo:evil/shop:ref:refs/heads/main", "evil/shop"), False),  # another repo
        # another repository whose token claims this one's subject: the condition holds
        # its own repository claim against pilot.toml's, the binding the subject
        (claims("repo:acme/shop:ref:refs/heads/main", "evil/shop"), False),
        (claims("repo:acme/shop-fork:ref:refs/heads/main", "acme/shop-fork"), False),
        (claims("repo:acme/shop:ref:refs/heads/feature"), False),  # another branch
        (claims("repo:acme/shop:ref:refs/tags/v1"), False),  # a tag
        (claims("repo:acme/shop:environment:production"), False),
        ({**claims("repo:acme/shop:ref:refs/heads/main"), "aud": "sts.amazonaws.com"}, False),
        ({**claims("repo:acme/shop:ref:refs/heads/main"), "iss": "https://evil.test"}, False),
    ],
)
def test_what_was_made_admits_exactly_this_repositorys_branch(fake, token, admitted):
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.admits(token) is admitted


def test_the_evaluator_can_say_yes_to_a_looser_binding(fake):
    """A binding of the whole pool admits what Pilot's refuses (so the refusals above are
    the binding's and condition's, not a broken evaluator's); no condition admits nothing."""
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    group = gcp_wif.pool_members_prefix(NUMBER, "pilot-acme")[1]
    for loose in (f"{group}*", f"{group}attribute.repository/acme/shop"):
        fake.policies[DEPLOYER_POLICY]["bindings"][0]["members"] = [loose]
        assert fake.admits(claims("repo:acme/shop:pull_request"))
    fake.bodies[PROVIDER]["attributeCondition"] = ""
    assert not fake.admits(claims("repo:acme/shop:pull_request"))
    fake.bodies[PROVIDER]["attributeCondition"] = "assertion.repository.startsWith('acme')"
    assert not fake.admits(claims("repo:acme/shop:pull_request"))  # unknown: admits nothing


def test_ensure_again_is_idempotent_and_another_branch_replaces_the_binding(fake):
    fake.policies[DEPLOYER_POLICY] = {
        "etag": "a0",
        "bindings": [{"role": "roles/iam.serviceAccountTokenCreator", "members": ["user:ana@x"]}],
    }
    fake.accounts.add(EMAIL)
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert members(fake.policies[DEPLOYER_POLICY]) == ["user:ana@x", MAIN]
    trust(fake).ensure("acme/shop", "release", RESOURCES)
    assert members(fake.policies[DEPLOYER_POLICY]) == [
        "user:ana@x",
        MAIN.replace("main", "release"),
    ]
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert fake.admits(claims("repo:acme/shop:ref:refs/heads/release"))
    # a repository moved: the provider admits the new one only
    trust(fake).ensure("acme/store", "main", RESOURCES)
    assert fake.bodies[PROVIDER]["attributeCondition"] == "assertion.repository == 'acme/store'"
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert fake.admits(claims("repo:acme/store:ref:refs/heads/main", "acme/store"))


def test_a_pool_not_visible_yet_is_waited_for(fake):
    fake.unseen_pool = 2
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.states[PROVIDER] == "ACTIVE"


def test_remove_takes_the_binding_and_the_pool_and_again_finds_nothing(fake):
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    removed = trust(fake).remove()
    assert removed == [
        f"the binding that let GitHub's runs act as {EMAIL}",
        "the workload identity pool pilot-acme and its provider (Google keeps them 30 days, "
        "disabled; `ci github` undeletes them)",
    ]
    assert MAIN not in members(fake.policies[DEPLOYER_POLICY])
    assert fake.states == {POOL: "DELETED", PROVIDER: "DELETED"}
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert EMAIL in fake.accounts  # the deployer stays, for the laptop's deploys
    assert trust(fake).remove() == []
    # made again within 30 days: the ids are still held, so both are undeleted
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.states == {POOL: "ACTIVE", PROVIDER: "ACTIVE"}
    assert any(c.url == f"{POOL}:undelete" for c in fake.calls)
    assert fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))


def test_remove_without_a_deployer_or_pool_is_nothing(fake):
    assert trust(fake).remove() == []


def test_a_refusal_names_the_step_and_the_role_needed(fake):
    original = FakeWif.__call__

    def refusing(request: ApiRequest) -> dict:
        if request.url.startswith(POOLS) and request.method == "POST":
            raise ApiError(403, "Permission 'iam.workloadIdentityPools.create' denied", request)
        return original(fake, request)

    made = GcpGithubTrust(refusing, "acme", GCP, sleep=lambda _: None)
    with pytest.raises(IdentityError) as caught:
        made.ensure("acme/shop", "main", RESOURCES)
    said = str(caught.value)
    assert said.startswith("create the workload identity pool pilot-acme: HTTP 403")
    assert "roles/iam.workloadIdentityPoolAdmin" in said
