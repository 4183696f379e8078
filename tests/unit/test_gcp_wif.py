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
from tests.unit.test_identity_gcp import (
    ACCOUNTS,
    EMAIL,
    GCP,
    PROJECT,
    REPO,
    STORAGE,
    FakeIam,
    members,
)

NUMBER = "123456789012"
POOLS = f"https://iam.googleapis.com/v1/projects/{GCP}/locations/global/workloadIdentityPools"
POOL = f"{POOLS}/pilot-acme"
PROVIDER = f"{POOL}/providers/github"
CI_EMAIL = "pilot-acme-ci@acme-prod.iam.gserviceaccount.com"
CI_POLICY = f"https://iam.googleapis.com/v1/projects/-/serviceAccounts/{CI_EMAIL}"
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
        email = url.removeprefix(f"{ACCOUNTS}/")
        if method == "GET" and url.startswith(f"{ACCOUNTS}/") and email in self.accounts:
            self.calls.append(request)
            return {"email": email}
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
        if method == "PATCH":  # the masked fields only, as Google applies them
            for key in request.params["updateMask"].split(","):
                self.bodies[url][key] = copy.deepcopy(request.body[key])
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
        if self.bodies[POOL].get("disabled"):
            return False
        return gcp_wif.provider_admits(self.bodies[PROVIDER], NAME, claims)

    def binding_admits(self, claims: dict[str, str]) -> bool:
        """IAM: the deployer's binding lets that federated identity act as it."""
        bound = [
            m
            for b in self.policies.get(CI_POLICY, {}).get("bindings", [])
            if b["role"] == gcp_wif.WORKLOAD_USER
            for m in b["members"]
        ]
        mapping = self.bodies[PROVIDER]["attributeMapping"]
        return gcp_wif.binding_admits(mapping, bound, claims, NUMBER, "pilot-acme")


def claims(
    sub: str,
    repository: str = "acme/shop",
    event: str = "",
    workflow: str = ".github/workflows/pilot.yml",
    ref: str = "",
) -> dict[str, str]:
    """A GitHub token's claims: a push's run of ``workflow`` unless the subject or
    ``event`` says otherwise (``ref``: where a subject that names none runs)."""
    ref = ref or (sub.split(":ref:", 1)[1] if ":ref:" in sub else "refs/pull/7/merge")
    return {
        "iss": "https://token.actions.githubusercontent.com",
        "aud": f"https://iam.googleapis.com/{NAME}",
        "sub": sub,
        "repository": repository,
        "ref": ref,
        "event_name": event or ("pull_request" if sub.endswith(":pull_request") else "push"),
        "workflow_ref": f"{repository}/{workflow}@{ref}",
    }


# A job of Pilot's workflow, pushed to main, that names an environment: the condition
# takes it (repository, event, workflow and ref are the push's), its subject is not main's.
ENVIRONMENT = claims("repo:acme/shop:environment:production", ref="refs/heads/main")


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
    provider = gcp_wif.create_provider_request(GCP, "pilot-acme", "acme/shop", "main")
    assert provider.params == {"workloadIdentityPoolProviderId": "github"}
    assert provider.body["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert provider.body["attributeCondition"] == (
        "assertion.repository == 'acme/shop' && assertion.event_name == 'push' && "
        "assertion.workflow_ref == 'acme/shop/.github/workflows/pilot.yml@refs/heads/main'"
    )
    assert provider.body["attributeMapping"]["google.subject"] == "assertion.sub"
    assert gcp_wif.principal(NUMBER, "pilot-acme", "repo:acme/shop:ref:refs/heads/main") == MAIN
    # a pool id is 4-32 characters and never ends in a hyphen
    assert (
        gcp_wif.pool_id("a-very-long-project-name-for-a-pool") == "pilot-a-very-long-project-name-f"
    )
    assert gcp_wif.pool_id("abcdefghijklmnopqrstuvwxy-z") == "pilot-abcdefghijklmnopqrstuvwxy"


def test_ensure_makes_the_ci_account_the_pool_the_provider_one_binding_and_no_key(fake):
    runs = trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert (runs.provider, runs.email) == (NAME, CI_EMAIL)
    assert fake.accounts == {CI_EMAIL}  # the CI account alone: the deployer is not made
    assert fake.states == {POOL: "ACTIVE", PROVIDER: "ACTIVE"}
    assert fake.keys == {}  # keyless: the runs act through the pool
    assert not any(c.url.endswith("/keys") for c in fake.calls)
    bindings = fake.policies[CI_POLICY]["bindings"]
    assert bindings == [{"role": gcp_wif.WORKLOAD_USER, "members": [MAIN]}]
    # the CI account: its grant on the site bucket CI deploys, Cloud CDN on the project,
    # and nothing of Cloud Run or secrets (the deployer's run.admin, secret accessors)
    assert ("bucket", "pilot-acme-docs-site", fake.created[0][2]) in fake.created
    site = fake.policies["https://storage.googleapis.com/storage/v1/b/pilot-acme-docs-site"]
    assert {"role": "roles/storage.admin", "members": [f"serviceAccount:{CI_EMAIL}"]} in (
        site["bindings"]
    )
    granted = {
        b["role"]
        for b in fake.policies[PROJECT]["bindings"]
        if f"serviceAccount:{CI_EMAIL}" in b["members"]
    }
    assert granted == {"roles/compute.loadBalancerAdmin"}
    sent = [c for c in fake.calls if "secretmanager" in c.url or "Cloud Run" in str(c.body)]
    assert sent == [] and "roles/iam.serviceAccountUser" not in str(fake.policies)
    # each operation was waited for
    assert any("/operations/" in c.url and c.method == "GET" for c in fake.calls)


def test_a_ci_account_that_deploys_cloud_run_holds_what_the_deployer_holds_for_it(fake):
    """CI deploying a Cloud Run app: run.admin on the project (the services' allUsers
    invoker binding), acting as the apps' runtime account (made if the deployer's setup has
    not), its grant on the repository and on each secret of the app; never the previews'
    account or secrets, and no key. `ci remove` takes its binding on the runtime account."""
    resources = Resources(
        "europe-west1",
        repository=True,
        cloud_run=True,
        secrets=(("api", "pilot-acme-api-token"),),
    )
    trust(fake).ensure("acme/shop", "main", resources)
    member = f"serviceAccount:{CI_EMAIL}"
    granted = {b["role"] for b in fake.policies[PROJECT]["bindings"] if member in b["members"]}
    assert granted == {"roles/compute.loadBalancerAdmin", "roles/run.admin"}
    runtime = "pilot-acme-run@acme-prod.iam.gserviceaccount.com"
    assert runtime in fake.accounts and fake.keys == {}
    acts_as = fake.policies[f"{ACCOUNTS.replace(GCP, '-')}/{runtime}"]["bindings"]
    assert acts_as == [{"role": "roles/iam.serviceAccountUser", "members": [member]}]
    secret = fake.policies[
        "https://secretmanager.googleapis.com/v1/projects/acme-prod/secrets/pilot-acme-api-token"
    ]
    assert {"role": "roles/secretmanager.admin", "members": [member]} in secret["bindings"]
    assert "pilot-acme-preview@acme-prod.iam.gserviceaccount.com" not in fake.accounts
    assert "preview_" not in str(fake.policies)
    repository = f"{REPO}/pilot-acme"
    assert member in str(fake.policies[repository])
    # the Cloud Run app gone from pilot.toml: `ci github` again takes back those grants,
    # on the project, the runtime account, the repository and the app's secrets (review:
    # the repository's and the secrets' stayed until `ci remove`)
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    granted = {b["role"] for b in fake.policies[PROJECT]["bindings"] if member in b["members"]}
    assert granted == {"roles/compute.loadBalancerAdmin"}
    assert member not in str(fake.policies[f"{ACCOUNTS.replace(GCP, '-')}/{runtime}"])
    assert member not in str(fake.policies[repository])
    assert member not in str(
        fake.policies[
            "https://secretmanager.googleapis.com/v1/projects/acme-prod/secrets/pilot-acme-api-token"
        ]
    )
    # and a site CI no longer deploys: its bucket's grant goes too, the bucket stays
    site = f"{STORAGE}/pilot-acme-docs-site"
    assert member in str(fake.policies[site])
    trust(fake).ensure("acme/shop", "main", Resources("europe-west1"))
    assert member not in str(fake.policies[site])
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert member in str(fake.policies[site])
    # a project whose Secret Manager API was never enabled: nothing of CI's there to take
    fake.deny = ("GET", "secretmanager")
    trust(fake).ensure("acme/shop", "main", Resources("europe-west1"))
    assert member not in str(fake.policies[site])
    fake.deny = None
    trust(fake).ensure("acme/shop", "main", resources)  # and back
    # the deployer removed (its runtime account with it) and made again: CI's binding on
    # the runtime account comes back with it (review: CI's deploys failed until `ci github`)
    from pilot_tui.cloud.identity_gcp import GcpDeployer

    GcpDeployer(fake, "acme", GCP, sleep=lambda _: None).remove()
    assert runtime not in fake.accounts
    fake.policies.pop(f"{ACCOUNTS.replace(GCP, '-')}/{runtime}")  # gone with it, as Google's
    GcpDeployer(fake, "acme", GCP, sleep=lambda _: None).ensure()
    acts_as = fake.policies[f"{ACCOUNTS.replace(GCP, '-')}/{runtime}"]["bindings"]
    assert [b["role"] for b in acts_as] == ["roles/iam.serviceAccountUser"]
    assert member in acts_as[0]["members"]
    trust(fake).remove()
    assert member not in str(fake.policies[f"{ACCOUNTS.replace(GCP, '-')}/{runtime}"])


def test_a_ci_account_that_pushes_the_servers_apps_gets_the_repository_alone(fake):
    """A Pilot Server app CI deploys on Google Cloud (its release history in GCS): the
    run pushes its image to the project's repository, and the worker releases it, so CI's
    account may push there (artifactregistry.writer: the worker deletes older images, so
    CI needs no repoAdmin), and holds neither run.admin nor acting as the Cloud Run runtime
    account (least privilege: it deploys no service). Setup makes no repository for a
    project without CI (review: a GCP project's `server up` then needed Artifact Registry);
    `ci github` grants the deployer it (tests/integration/deploy/test_gcp_server_ci.py)."""
    from pilot_tui.cloud.policy_gcp import ci_resources, resources_for
    from pilot_tui.config.validate import check_text
    from tests.support.gcp_project import GCP_PROJECT

    text = GCP_PROJECT + '[state]\nbackend = "gcs"\n\n[[apps]]\nname = "web"\npath = "web"\n'
    config = check_text(text).config
    assert config is not None
    resources = ci_resources(config, ["web"])
    assert resources.repository and not resources.cloud_run
    assert not resources_for(config).repository  # setup's: no Cloud Run app
    fake.policies["https://storage.googleapis.com/storage/v1/b/pilot-state-acme"] = {"etag": "b0"}
    trust(fake).ensure("acme/shop", "main", resources)
    member = f"serviceAccount:{CI_EMAIL}"
    granted = {b["role"] for b in fake.policies[PROJECT]["bindings"] if member in b["members"]}
    assert granted == {"roles/compute.loadBalancerAdmin"}
    assert "pilot-acme-run@acme-prod.iam.gserviceaccount.com" not in fake.accounts
    repository = fake.policies[f"{REPO}/pilot-acme"]["bindings"]
    assert {"role": "roles/artifactregistry.writer", "members": [member]} in repository
    assert "repoAdmin" not in str(repository)
    # a Cloud Run app added: repoAdmin, as the deployer holds for Cloud Run apps, the
    # writer's grant taken back; and the other way again
    with_run = Resources("europe-west1", repository=True, cloud_run=True)
    trust(fake).ensure("acme/shop", "main", with_run)
    roles = {
        b["role"] for b in fake.policies[f"{REPO}/pilot-acme"]["bindings"] if member in b["members"]
    }
    assert roles == {"roles/artifactregistry.repoAdmin"}
    trust(fake).ensure("acme/shop", "main", resources)
    roles = {
        b["role"] for b in fake.policies[f"{REPO}/pilot-acme"]["bindings"] if member in b["members"]
    }
    assert roles == {"roles/artifactregistry.writer"}
    # nothing pushed any more: neither role left
    trust(fake).ensure("acme/shop", "main", Resources("europe-west1"))
    assert member not in str(fake.policies[f"{REPO}/pilot-acme"])
    # with the history kept on this machine, no run pushes anything: no repository
    local = check_text(text.replace('backend = "gcs"', 'backend = "local"')).config
    assert local is not None and not ci_resources(local, ["web"]).repository
    assert not resources_for(local).repository


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
        (ENVIRONMENT, False),  # on main, but its subject is the environment's
        # the branch's subject, but not Pilot's workflow run on a push: another workflow
        # (a pull_request_target or issue_comment job may check out someone's code)
        (claims("repo:acme/shop:ref:refs/heads/main", event="pull_request_target"), False),
        (claims("repo:acme/shop:ref:refs/heads/main", event="issue_comment"), False),
        (claims("repo:acme/shop:ref:refs/heads/main", workflow=".github/workflows/x.yml"), False),
        ({**claims("repo:acme/shop:ref:refs/heads/main"), "aud": "sts.amazonaws.com"}, False),
        ({**claims("repo:acme/shop:ref:refs/heads/main"), "iss": "https://evil.test"}, False),
    ],
)
def test_what_was_made_admits_exactly_this_repositorys_branch(fake, token, admitted):
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.admits(token) is admitted


def test_the_evaluator_can_say_yes_to_a_looser_binding_or_condition(fake):
    """A binding of the whole pool, or a condition on the repository alone, admits what
    Pilot's refuse (so the refusals above are theirs, not a broken evaluator's); no
    condition, or one the evaluator does not know, admits nothing."""
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.provider_admits(ENVIRONMENT) and not fake.admits(ENVIRONMENT)
    group = gcp_wif.pool_members_prefix(NUMBER, "pilot-acme")[1]
    for loose in (f"{group}*", f"{group}attribute.repository/acme/shop"):
        fake.policies[CI_POLICY]["bindings"][0]["members"] = [loose]
        assert fake.admits(ENVIRONMENT)
    pull = claims("repo:acme/shop:pull_request")
    assert not fake.admits(pull)  # refused by the condition
    fake.bodies[PROVIDER]["attributeCondition"] = "assertion.repository == 'acme/shop'"
    assert fake.admits(pull)
    fake.bodies[PROVIDER]["attributeCondition"] = ""
    assert not fake.admits(pull)
    fake.bodies[PROVIDER]["attributeCondition"] = "assertion.repository.startsWith('acme')"
    assert not fake.admits(pull)  # unknown: admits nothing


def test_ensure_again_is_idempotent_and_another_branch_replaces_the_binding(fake):
    fake.policies[CI_POLICY] = {
        "etag": "a0",
        "bindings": [{"role": "roles/iam.serviceAccountTokenCreator", "members": ["user:ana@x"]}],
    }
    fake.accounts.add(CI_EMAIL)
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert members(fake.policies[CI_POLICY]) == ["user:ana@x", MAIN]
    trust(fake).ensure("acme/shop", "release", RESOURCES)
    assert members(fake.policies[CI_POLICY]) == [
        "user:ana@x",
        MAIN.replace("main", "release"),
    ]
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert fake.admits(claims("repo:acme/shop:ref:refs/heads/release"))
    # a repository moved: the provider admits the new one only
    trust(fake).ensure("acme/store", "main", RESOURCES)
    assert fake.bodies[PROVIDER]["attributeCondition"].startswith(
        "assertion.repository == 'acme/store' && "
    )
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert fake.admits(claims("repo:acme/store:ref:refs/heads/main", "acme/store"))


def test_a_pool_not_visible_yet_is_waited_for(fake):
    fake.unseen_pool = 2
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.states[PROVIDER] == "ACTIVE"


def test_remove_takes_the_binding_the_pool_and_the_ci_account_and_again_finds_nothing(fake):
    fake.accounts.add(EMAIL)  # the deployer, made by setup for the laptop's deploys
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    removed = trust(fake).remove()
    assert removed == [
        f"the binding that let GitHub's runs act as {CI_EMAIL}",
        f"the CI account {CI_EMAIL} and its roles on the project",
        "the workload identity pool pilot-acme and its provider (Google keeps them 30 days, "
        "disabled; `ci github` undeletes them)",
    ]
    assert fake.states == {POOL: "DELETED", PROVIDER: "DELETED"}
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    assert fake.accounts == {EMAIL}  # the deployer stays
    assert f"serviceAccount:{CI_EMAIL}" not in members(fake.policies[PROJECT])
    assert trust(fake).remove() == []
    # made again within 30 days: the ids are still held, so both are undeleted
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.states == {POOL: "ACTIVE", PROVIDER: "ACTIVE"}
    undeleted = [c.url for c in fake.calls if c.url.endswith(":undelete")]
    assert undeleted == [f"{POOL}:undelete", f"{PROVIDER}:undelete"]
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


def test_a_pool_or_provider_disabled_by_hand_is_enabled_again(fake):
    """A disabled pool or provider exchanges no token: `ci github` saying it set up the
    trust while every run is refused would be a lie."""
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    fake.bodies[POOL]["disabled"] = True
    fake.bodies[PROVIDER]["disabled"] = True
    assert not fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
    trust(fake).ensure("acme/shop", "main", RESOURCES)
    assert fake.bodies[POOL]["disabled"] is False and fake.bodies[PROVIDER]["disabled"] is False
    assert fake.admits(claims("repo:acme/shop:ref:refs/heads/main"))
