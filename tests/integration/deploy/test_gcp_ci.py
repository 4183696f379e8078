"""Keyless CI deploys on Google Cloud, end to end where something real exists here:
`pilot-tui ci github` for a project whose state is in GCS, the workflow it writes, a
run's token exchanged for the deployer's access token with google-auth's own
external-account code, that token on Pilot's Google requests, the run's release history
in the state bucket on the real GCS emulator, and `ci remove`.

Stand-ins, said plainly: Google's IAM (pools, providers, bindings) is FakeWif, a recording
fake transport (tests/unit/test_gcp_wif.py); Google's STS and IAM Credentials API are a
local HTTP server (tests/support/google_sts.py) that admits a token at each step when
gcp_wif's evaluation of what `ci github` sent FakeWif does (the provider at STS, the
binding at generateAccessToken); GitHub's token service is the local one of
tests/support/github_tokens.py. No Google service runs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot_tui import redact
from pilot_tui.cloud import clients, gcp_wif, github_oidc, oidc_exchange, policy_gcp
from pilot_tui.cloud.clients import emulator_gcs
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import ApiRequest
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import from_ci, history
from pilot_tui.deploy.shared_history import shared_history
from pilot_tui.teardown.plan import _declared
from pilot_tui.teardown.things import GCP_POOL
from tests.support.gcp_project import GCP_PROJECT
from tests.support.google_sts import ACCESS
from tests.unit.test_gcp_wif import CI_EMAIL, CI_POLICY, MAIN, NAME, POOL, PROVIDER, FakeWif
from tests.unit.test_github_oidc import schema_check
from tests.unit.test_identity_gcp import EMAIL

PILOT_TOML = (
    GCP_PROJECT
    + """
[state]
backend = "gcs"

[[apps]]
name = "docs"
path = "site"

  [apps.build]
  kind = "static"
  output = "."

  [apps.target]
  kind = "gcs-cdn"

[[apps]]
name = "api"
path = "api"

  [apps.target]
  kind = "cloud-run"
"""
)
STATE_BUCKET = "pilot-state-acme"


@pytest.fixture(scope="module")
def gcs_url(tmp_path_factory) -> str:
    sandbox = Sandbox(tmp_path_factory.mktemp("gcs-emulator"))
    running, _ = sandbox.ensure()
    yield running["gcs"].url
    sandbox.stop()


@pytest.fixture
def project(tmp_path, monkeypatch, gcs_url) -> FakeWif:
    """The project, with Google's IAM as FakeWif and its buckets on the GCS emulator (the
    admin's client, and the deployer's in a run: STORAGE_EMULATOR_HOST)."""
    (tmp_path / "pilot.toml").write_text(PILOT_TOML)
    (tmp_path / "site").mkdir()
    fake = FakeWif()
    gcs = emulator_gcs(gcs_url)
    if gcs.lookup_bucket(STATE_BUCKET) is None:
        gcs.create_bucket(STATE_BUCKET)
    # the state bucket exists (above): the fake's IAM knows its policy
    fake.policies[f"https://storage.googleapis.com/storage/v1/b/{STATE_BUCKET}"] = {"etag": "b0"}
    real_transport = clients.google_transport

    def admins_transport(config, root, *, role="deployer"):
        return fake if role == "admin" else real_transport(config, root, role=role)

    monkeypatch.setattr(clients, "google_transport", admins_transport)
    real_gcs = clients.project_gcs

    def admins_or_runs(config, state_dir, root, *, sandbox, start=True, role="admin"):
        if role == "admin":
            return gcs
        return real_gcs(config, state_dir, root, sandbox=sandbox, start=start, role=role)

    monkeypatch.setattr(clients, "project_gcs", admins_or_runs)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    monkeypatch.setattr(oidc_exchange, "_google", {})
    return fake


@pytest.fixture
def in_a_run(project, github_tokens, google_sts, monkeypatch):
    """Make this process a job of the workflow (once `ci github` has run, as on the laptop):
    GitHub's and Google's token services standing in, each step of Google's admitting what
    Pilot made admit."""
    fake = project

    def start():
        google_sts.provider_admits = lambda claims: (
            fake.provider_admits(claims)
            and (claims["sts_audience"] == f"//iam.googleapis.com/{NAME}")
        )
        google_sts.binding_admits = lambda claims, email: (
            email == CI_EMAIL and (fake.binding_admits(claims))
        )
        monkeypatch.setattr(gcp_wif, "STS_URL", google_sts.sts_url)
        monkeypatch.setattr(gcp_wif, "IAM_CREDENTIALS", google_sts.iam_credentials)
        for key, value in github_tokens.gcp_env(NAME, CI_EMAIL).items():
            monkeypatch.setenv(key, value)
        assert oidc_exchange.google_in_github_actions()
        return github_tokens, google_sts

    return start


def config_of(root: Path):
    config = ProjectFile.load(root / "pilot.toml").check().config
    assert config is not None
    return config


def test_ci_github_on_gcp_makes_the_pool_writes_the_workflow_and_ci_remove_undoes_it(
    tmp_path, cli, project
):
    fake = project
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert made.out.strip() == CI_EMAIL  # what the runs act as, for scripts
    assert (
        f"made the workload identity pool pilot-acme with a provider for acme/shop's runs: "
        f"only a push's run of the workflow on its main may act as {CI_EMAIL}"
    ) in made.err
    # the Cloud Run app too: its image built on the runner's engine
    assert "pushes to that branch deploy docs, api, with no stored key" in made.err
    assert "the runs record their releases in the state bucket pilot-state-acme" in made.err
    assert fake.states == {POOL: "ACTIVE", PROVIDER: "ACTIVE"}
    assert fake.policies[CI_POLICY]["bindings"] == [
        {"role": gcp_wif.WORKLOAD_USER, "members": [MAIN]}
    ]
    assert fake.keys == {}  # no key made: runs act through the pool
    # the runs may write the release history in the state bucket, and nothing else of it:
    # never the Terraform state or a backup (the grant's condition, checked as data below)
    state_policy = fake.policies[f"https://storage.googleapis.com/storage/v1/b/{STATE_BUCKET}"]
    [grant] = [b for b in state_policy["bindings"] if f"serviceAccount:{CI_EMAIL}" in b["members"]]
    assert grant["role"] == "roles/storage.objectAdmin"
    assert grant["condition"] == policy_gcp.ci_state_condition(STATE_BUCKET)
    assert state_policy["version"] == 3  # conditions need it

    workflow = tmp_path / github_oidc.WORKFLOW
    text = workflow.read_text()
    job = __import__("yaml").safe_load(text)["jobs"]["deploy"]
    assert job["env"] == {
        "PILOT_GCP_WORKLOAD_PROVIDER": NAME,
        "PILOT_GCP_SERVICE_ACCOUNT": CI_EMAIL,
    }
    assert job["steps"][-1]["run"] == "pilot-tui deploy docs api"
    assert "AWS" not in text and "pull_request" not in text and "schedule" not in text
    checked = schema_check(text, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = cli("ci", "github", "--repo", "acme/shop")
    assert again.code == 0 and fake.policies[CI_POLICY]["bindings"][0]["members"] == [MAIN]

    # `server destroy` lists the pool and the CI account the workflow names
    by = ".github/workflows/pilot.yml (pilot-tui ci github)"
    declared = [t for t in _declared(config_of(tmp_path), tmp_path) if by == t.found]
    assert [(t.kind, t.name, t.step) for t in declared] == [
        (GCP_POOL, "pilot-acme", "deployer"),
        ("GCP service account", "pilot-acme-ci", "deployer"),
    ]

    removed = cli("ci", "remove")
    assert removed.code == 0, removed.err
    assert f"removed the binding that let GitHub's runs act as {CI_EMAIL}" in removed.err
    assert "removed the workload identity pool pilot-acme and its provider" in removed.err
    assert f"removed the CI account {CI_EMAIL}" in removed.err
    assert "keeps it until it expires (an hour at most)" in removed.err
    assert fake.states == {POOL: "DELETED", PROVIDER: "DELETED"}
    assert ".github/workflows/pilot.yml is left for you to delete and commit" in removed.err
    nothing = cli("ci", "remove")
    assert nothing.code == 0 and "nothing to remove" in nothing.err


def test_ci_github_on_gcp_refuses_the_sandbox_and_a_missing_project(tmp_path, cli, project):
    text = PILOT_TOML.replace('home = "gcp"', 'home = "sandbox"')
    (tmp_path / "pilot.toml").write_text(text)
    refused = cli("ci", "github", "--repo", "acme/shop")
    assert refused.code == 2 and "the sandbox has no Google IAM" in refused.err
    assert project.calls == [] and not (tmp_path / github_oidc.WORKFLOW).exists()
    (tmp_path / "pilot.toml").write_text(PILOT_TOML)
    long_branch = cli("ci", "github", "--repo", "acme/shop", "--branch", "b" * 120)
    assert long_branch.code == 2
    assert "longer than the 127 bytes Google keeps of it" in long_branch.err
    assert project.calls == [] and not (tmp_path / github_oidc.WORKFLOW).exists()
    # found walking: a full ref (the workflow would never run), git's non-names, and a
    # repository GitHub could not have were taken
    full = cli("ci", "github", "--repo", "acme/shop", "--branch", "refs/heads/main")
    assert full.code == 2 and "give the branch's name alone, e.g. main" in full.err
    for branch in ("a..b", "x.lock", "/a", "a/", "a//b", "-x", ".a"):
        assert cli("ci", "github", "--repo", "acme/shop", f"--branch={branch}").code == 2
    for repo in ("../x", "acme/..", "ac.me/shop"):
        assert cli("ci", "github", "--repo", repo).code == 2
    assert project.calls == []
    # a local history on Google Cloud: the hint names GCS, not S3
    local = PILOT_TOML.replace('backend = "gcs"', 'backend = "local"')
    (tmp_path / "pilot.toml").write_text(local)
    told = cli("ci", "github", "--repo", "acme/shop")
    assert told.code == 2 and "pilot-tui config set state.backend gcs" in told.err
    helped = cli("ci", "github", "--help")
    assert 'Google Cloud (state.backend = "gcs"' in helped.out


def test_a_runs_token_becomes_the_deployers_access_and_its_history_reaches_the_bucket(
    tmp_path, cli, project, in_a_run, gcs_url
):
    config = config_of(tmp_path)
    assert cli("ci", "github", "--repo", "acme/shop").code == 0  # on the laptop
    github_tokens, google_sts = in_a_run()

    # what a deploy's Google requests carry: the deployer's access token, nothing stored
    transport = clients.google_transport(config, tmp_path)
    echoed = transport(ApiRequest("GET", f"{google_sts.url}/echo"))
    assert echoed == {"authorization": f"Bearer {ACCESS}"}
    assert github_tokens.asked[-1]["query"]["audience"] == [f"https://iam.googleapis.com/{NAME}"]
    sts, impersonate = google_sts.asked[0], google_sts.asked[1]
    assert sts["form"]["audience"] == f"//iam.googleapis.com/{NAME}"
    assert impersonate["path"] == f"/v1/projects/-/serviceAccounts/{CI_EMAIL}:generateAccessToken"
    assert impersonate["body"]["scope"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert ACCESS not in redact.text(f"token {ACCESS}")  # masked should anything echo it
    assert not (tmp_path / ".pilot" / "keys").exists()  # no key file anywhere

    # the run's release history goes to the state bucket as the deployer
    state_dir = tmp_path / ".pilot"
    record = history.Release(
        id="v1",
        app="docs",
        image="site",
        image_id="sha256:abc",
        created="2026-12-05T11:00:00Z",
        status="live",
    )
    history.save(state_dir, "docs", [record])
    shared = shared_history(config, state_dir, tmp_path)
    assert shared is not None and shared.kind == "gcs"
    assert shared.client._credentials is oidc_exchange.google_credentials()
    shared.push(state_dir, "docs")
    blob = emulator_gcs(gcs_url).bucket(STATE_BUCKET).get_blob("pilot/releases/docs.json")
    assert json.loads(blob.download_as_bytes())[0]["id"] == "v1"

    # a run here acts on Google Cloud only: AWS is said to be out of reach, not tried
    with pytest.raises(CloudError, match="this run was given no AWS role"):
        clients.deployer_aws(config, state_dir)
    # what a run may deploy: the GCS site and the Cloud Run app (built on the runner)
    from_ci.check_run(config, ["docs", "api"])
    # its image pushed to Artifact Registry with the run's own token (no key file read)
    from pilot_tui.deploy import artifact_registry

    login = artifact_registry.docker_login("keys/none.json", tmp_path, "europe-west1")
    assert login == (artifact_registry.registry_host("europe-west1"), "oauth2accesstoken", ACCESS)


CONDITION = "rejected by the attribute condition"


@pytest.mark.parametrize(
    ("sub", "ref", "refused_by", "said"),
    [
        # another branch, a pull request, another repository: the provider's condition
        # refuses them at STS
        ("repo:acme/shop:ref:refs/heads/feature", None, "STS", CONDITION),
        ("repo:acme/shop:pull_request", None, "STS", CONDITION),
        ("repo:evil/shop:ref:refs/heads/main", None, "STS", CONDITION),
        # a job of the workflow on main that names an environment: the provider takes it,
        # the binding (main's subject, exactly) does not
        ("repo:acme/shop:environment:production", "refs/heads/main", "IAM", "getAccessToken"),
    ],
)
def test_a_run_pilot_did_not_admit_is_refused_by_google_in_pilots_words(
    tmp_path, cli, project, in_a_run, sub, ref, refused_by, said
):
    assert cli("ci", "github", "--repo", "acme/shop").code == 0
    github_tokens, google_sts = in_a_run()
    github_tokens.sub, github_tokens.ref = sub, ref
    github_tokens.event = "push" if ref else None
    with pytest.raises(CloudError) as caught:
        clients.google_transport(config_of(tmp_path), tmp_path)
    message = str(caught.value)
    assert message.startswith("Google refused this run the deployer's access")
    assert said in message
    assert "was it a push's run of .github/workflows/pilot.yml on the branch" in message
    steps = [a["path"].rsplit(":", 1)[-1] for a in google_sts.asked]
    assert steps == (["/v1/token"] if refused_by == "STS" else ["/v1/token", "generateAccessToken"])


def test_server_destroy_removes_the_deployer_without_reading_pools_when_none_is_named(
    tmp_path, project, monkeypatch
):
    """Regression (review): `server destroy` read the workload identity pool before
    removing the GCP deployer, also for a project that never ran `ci github`; setup's
    admin roles do not include reading pools, so Google's 403 left the deployer and its
    keys behind. The pool is removed only when the workflow names it."""
    from pilot_tui.teardown.remove import Teardown
    from pilot_tui.teardown.scan import Scan
    from pilot_tui.teardown.things import Thing

    fake = project
    original = FakeWif.__call__

    def no_pool_role(request: ApiRequest) -> dict:
        if "workloadIdentityPools" in request.url:
            from pilot_tui.cloud.gcp_api import ApiError

            raise ApiError(403, "Permission 'iam.workloadIdentityPools.get' denied", request)
        return original(fake, request)

    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: no_pool_role)
    fake.accounts.add(EMAIL)
    config = config_of(tmp_path)
    said: list[str] = []
    teardown = Teardown(config, tmp_path, Scan("acme"))
    deployer = [Thing("GCP service account", "pilot-acme-deployer", "x")]
    teardown.remove_deployer(deployer, said.append)
    assert teardown.failures == []
    assert said == ["removed the GCP deployer service account and its keys"]
    assert EMAIL not in fake.accounts
    # named by the workflow: removed first, and a refusal there is said, the rest goes on
    fake.accounts.add(EMAIL)
    things = [
        Thing(GCP_POOL, "pilot-acme", ".github/workflows/pilot.yml"),
        Thing("GCP service account", "pilot-acme-deployer", "x"),
    ]
    teardown.remove_deployer(things, said.append)
    assert teardown.failures[0].startswith(
        "the workload identity pool and the CI account: delete the workload identity pool"
    )
    assert said[-1] == "removed the GCP deployer service account and its keys"
