"""The GCP deployer service account (pilot_tui.cloud.identity_gcp; its requests: gcp_iam,
its roles: policy_gcp).

No IAM / Resource Manager emulator exists here (only GCS has one), so requests are checked
as data and GcpDeployer is driven through FakeIam, a recording fake transport that keeps
accounts, keys and IAM policies (with etags) the way the APIs report them. It is a fake,
not an emulator: it checks what Pilot asks for, not what Google would answer."""

from __future__ import annotations

import base64
import copy
import json
import stat
from types import SimpleNamespace
from typing import get_args

import pytest

from pilot_tui import naming, redact
from pilot_tui.cloud import clients, gcp_iam, policy_gcp
from pilot_tui.cloud import identity_gcp as ig
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest, session_transport
from pilot_tui.cloud.identity_aws import IdentityError
from pilot_tui.config.schema import PreviewSettings, Target

GCP = "acme-prod"
EMAIL = "pilot-acme-deployer@acme-prod.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{EMAIL}"
PROJECT = "https://cloudresourcemanager.googleapis.com/v1/projects/acme-prod"
RUN_EMAIL = "pilot-acme-run@acme-prod.iam.gserviceaccount.com"
RUNTIME = f"https://iam.googleapis.com/v1/projects/-/serviceAccounts/{RUN_EMAIL}"
DEFAULT_COMPUTE = (
    "https://iam.googleapis.com/v1/projects/-/serviceAccounts/"
    "123456789012-compute@developer.gserviceaccount.com"
)
ACCOUNTS = "https://iam.googleapis.com/v1/projects/acme-prod/serviceAccounts"
REPO = (
    "https://artifactregistry.googleapis.com/v1/projects/acme-prod/locations/"
    "europe-west1/repositories"
)
SECRETS = "https://secretmanager.googleapis.com/v1/projects/acme-prod/secrets"
STORAGE = "https://storage.googleapis.com/storage/v1/b"
OTHERS = [
    {"role": "roles/viewer", "members": ["user:ana@example.com"]},
    {"role": "roles/run.admin", "members": ["user:ops@example.com"]},
    {
        "role": "roles/storage.admin",
        "members": ["group:web@example.com"],
        "condition": {"title": "web", "expression": "true"},
    },
]


def private_key(n: int) -> str:
    return (
        f"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC{n:04d}xyz\n"
        "-----END PRIVATE KEY-----\n"
    )


class FakeIam:
    """IAM v1, Resource Manager v1 and Artifact Registry as a recording fake transport."""

    def __init__(self) -> None:
        self.calls: list[ApiRequest] = []
        self.accounts: set[str] = set()
        self.keys: dict[str, list[str]] = {}  # email -> key ids, oldest first
        self.policies = {
            PROJECT: {"version": 3, "etag": "e0", "bindings": copy.deepcopy(OTHERS)},
            DEFAULT_COMPUTE: {"etag": "d0"},
        }
        self.made = 0
        self.conflicts = 0  # setIamPolicy calls to answer 409 (someone changed the policy)
        self.deny: tuple[str, str] | None = None  # (method, url part) answered 403
        self.repository = False
        self.created: list[tuple[str, str, dict]] = []  # (secret | bucket, name, body)
        self.unseen = 0  # setIamPolicy calls answered 400: the new account is not visible yet

    def sets(self) -> list[ApiRequest]:
        return [c for c in self.calls if c.url.endswith(":setIamPolicy")]

    def __call__(self, request: ApiRequest) -> dict:
        self.calls.append(request)
        method, url = request.method, request.url
        if self.deny and method == self.deny[0] and self.deny[1] in url:
            raise ApiError(403, "Permission denied on resource", request)
        if url.endswith(":getIamPolicy") or (url.endswith("/iam") and method == "GET"):
            resource = url.removesuffix(":getIamPolicy").removesuffix("/iam")
            if resource not in self.policies:
                raise ApiError(404, "not found", request)
            return copy.deepcopy(self.policies[resource])
        if url.endswith(":setIamPolicy") or (url.endswith("/iam") and method == "PUT"):
            resource = url.removesuffix(":setIamPolicy").removesuffix("/iam")
            policy = request.body if method == "PUT" else request.body["policy"]
            if self.unseen:
                self.unseen -= 1
                raise ApiError(400, f"Service account {EMAIL} does not exist.", request)
            if self.conflicts:
                self.conflicts -= 1
                self.policies[resource]["etag"] += "x"
            if policy.get("etag") != self.policies[resource]["etag"]:
                raise ApiError(409, "There were concurrent policy changes", request)
            self.policies[resource] = {**policy, "etag": policy["etag"] + "+"}
            return self.policies[resource]
        if url == PROJECT:
            return {"projectId": GCP, "projectNumber": "123456789012"}
        if url == ACCOUNTS and method == "POST":
            email = f"{request.body['accountId']}@{GCP}.iam.gserviceaccount.com"
            if email in self.accounts:
                raise ApiError(409, "Service account already exists", request)
            self.accounts.add(email)
            self.policies.setdefault(f"{ACCOUNTS.replace(GCP, '-')}/{email}", {"etag": "a0"})
            return {"email": email}
        if url == SECRETS and method == "GET":  # listed by label, as Secret Manager filters
            wanted = (request.params or {}).get("filter", "")
            return {
                "secrets": [
                    {"name": f"projects/{GCP}/secrets/{name}", "labels": body.get("labels", {})}
                    for kind, name, body in self.created
                    if kind == "secret"
                    and wanted in (f"labels.{k}={v}" for k, v in body.get("labels", {}).items())
                ]
            }
        if url == STORAGE and method == "GET":  # listed by name prefix, as GCS does
            prefix = (request.params or {}).get("prefix", "")
            return {
                "items": [
                    {"name": name}
                    for kind, name, _ in self.created
                    if kind == "bucket" and name.startswith(prefix)
                ]
            }
        for collection, kind in ((SECRETS, "secret"), (STORAGE, "bucket")):
            if url == collection and method == "POST":
                name = (request.params or {}).get("secretId") or request.body["name"]
                if f"{collection}/{name}" in self.policies:
                    raise ApiError(409, f"{kind} already exists", request)
                self.policies[f"{collection}/{name}"] = {"etag": "s0"}
                self.created.append((kind, name, request.body))
                return {"name": name}
        email = url.removeprefix(ACCOUNTS + "/").split("/")[0]
        if url.startswith(ACCOUNTS) and email not in self.accounts:
            raise ApiError(404, "Service account not found", request)
        if url == f"{ACCOUNTS}/{email}" and method == "DELETE":
            self.accounts.discard(email)
            self.keys.pop(email, None)
            return {}
        if url == f"{ACCOUNTS}/{email}/keys" and method == "POST":
            assert request.body == {"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"}
            self.made += 1
            key_id = f"k{self.made:040x}"
            self.keys.setdefault(email, []).append(key_id)
            data = json.dumps(
                {
                    "type": "service_account",
                    "private_key_id": key_id,
                    "private_key": private_key(self.made),
                    "client_email": email,
                }
            )
            return {
                "name": f"projects/{GCP}/serviceAccounts/{email}/keys/{key_id}",
                "privateKeyData": base64.b64encode(data.encode()).decode(),
            }
        if url == f"{ACCOUNTS}/{email}/keys" and method == "GET":
            assert request.params == {"keyTypes": "USER_MANAGED"}
            return {
                "keys": [
                    {
                        "name": f"projects/{GCP}/serviceAccounts/{email}/keys/{k}",
                        "keyType": "USER_MANAGED",
                    }
                    for k in self.keys.get(email, [])
                ]
            }
        if "/keys/" in url and method == "DELETE":
            self.keys[email].remove(url.rsplit("/", 1)[1])
            return {}
        if url == f"{REPO}/pilot-acme" and method == "GET":
            if not self.repository:
                raise ApiError(404, "not found", request)
            return {"name": "pilot-acme"}
        if url == REPO and method == "POST":
            self.repository = True
            self.policies[f"{REPO}/pilot-acme"] = {"etag": "p0"}
            return {"name": "operations/op-1", "done": True, "response": {}}
        raise AssertionError(f"unexpected {method} {url}")


def members(policy: dict) -> list[str]:
    return [m for b in policy.get("bindings", []) for m in b["members"]]


@pytest.fixture
def fake() -> FakeIam:
    return FakeIam()


@pytest.fixture
def deployer(fake) -> ig.GcpDeployer:
    return ig.GcpDeployer(fake, "acme", GCP, sleep=lambda _: None)


def config(
    home: str = "gcp", kinds: tuple[str, ...] = ("cloud-run",), backend: str = "local"
) -> SimpleNamespace:
    return SimpleNamespace(
        server=SimpleNamespace(home=home),
        project=SimpleNamespace(name="acme"),
        gcp=SimpleNamespace(project=GCP, region="europe-west1", credentials="keys/admin.json"),
        state=SimpleNamespace(backend=backend, bucket=None),
        apps=[
            SimpleNamespace(
                name=k.replace("-", ""),
                target=next(t() for t in get_args(Target) if t().kind == k),
                secrets=["DATABASE_URL"] if k == "cloud-run" else [],
                previews=PreviewSettings(),
            )
            for k in kinds
        ],
    )


def test_requests_are_data():
    assert naming.gcp_account_id("acme") == "pilot-acme-deployer"
    # cut to IAM's 30 characters, and no trailing "-" left by the cut
    assert naming.gcp_account_id("abcdefghij-klmnopqrstuv") == "pilot-abcdefghij-klmnopqrstuv"
    assert len(naming.gcp_account_id("x" * 40)) == 30
    create = gcp_iam.create_account_request("acme", GCP)
    assert (create.method, create.url) == ("POST", ACCOUNTS)
    assert create.body["accountId"] == "pilot-acme-deployer"
    key = gcp_iam.create_key_request(GCP, EMAIL)
    assert (key.method, key.url, key.body) == (
        "POST",
        f"{ACCOUNTS}/{EMAIL}/keys",
        {"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"},
    )
    assert gcp_iam.list_keys_request(GCP, EMAIL).params == {"keyTypes": "USER_MANAGED"}
    assert (
        gcp_iam.delete_key_request(f"projects/{GCP}/serviceAccounts/{EMAIL}/keys/k1").url
        == f"{ACCOUNTS}/{EMAIL}/keys/k1"
    )
    get = gcp_iam.get_policy_request(gcp_iam.project_url(GCP))
    assert (get.method, get.url) == ("POST", f"{PROJECT}:getIamPolicy")
    put = gcp_iam.set_policy_request(gcp_iam.project_url(GCP), {"etag": "e0", "bindings": []})
    assert (put.url, put.body) == (
        f"{PROJECT}:setIamPolicy",
        {"policy": {"etag": "e0", "bindings": []}},
    )


def test_roles_are_what_deploys_need_and_never_owner_or_editor():
    roles = set(policy_gcp.DEPLOYER_ROLES)
    assert (
        not {
            "roles/owner",
            "roles/editor",
            "roles/iam.serviceAccountUser",
            "roles/resourcemanager.projectIamAdmin",
            "roles/artifactregistry.admin",
        }
        & roles
    )
    assert {"roles/run.admin", "roles/compute.loadBalancerAdmin", "roles/logging.viewer"} <= roles


def test_ensure_is_idempotent_and_keeps_other_bindings_and_the_etag(fake, deployer):
    assert deployer.ensure() == EMAIL
    assert fake.sets()[0].body["policy"]["etag"] == "e0"  # written back with the etag read
    assert deployer.ensure() == EMAIL  # 409 on create: it exists
    assert len(fake.sets()) == 2  # the second run found the bindings there: no writes
    policy = fake.policies[PROJECT]
    assert policy["version"] == 3
    for other in OTHERS:  # every other binding kept, the conditional one untouched
        assert any(
            b["role"] == other["role"]
            and set(other["members"]) <= set(b["members"])
            and b.get("condition") == other.get("condition")
            for b in policy["bindings"]
        )
    granted = {b["role"] for b in policy["bindings"] if MEMBER in b["members"]}
    assert granted == set(policy_gcp.DEPLOYER_ROLES)
    assert not any(MEMBER in b["members"] for b in policy["bindings"] if "condition" in b)
    assert fake.policies[RUNTIME]["bindings"] == [{"role": policy_gcp.ACT_AS, "members": [MEMBER]}]


def test_a_concurrent_policy_change_is_read_again_once(fake, deployer):
    fake.conflicts = 1
    deployer.ensure()
    assert MEMBER in members(fake.policies[PROJECT])
    fake2 = FakeIam()
    fake2.conflicts = 2
    with pytest.raises(IdentityError, match=r"grant the deploy roles.*HTTP 409"):
        ig.GcpDeployer(fake2, "acme", GCP).ensure()


def test_setting_the_policy_waits_for_a_new_account_to_be_visible(fake):
    waits: list[float] = []
    fake.unseen = 2  # IAM is eventually consistent: a new account is unknown for seconds
    ig.GcpDeployer(fake, "acme", GCP, sleep=waits.append).ensure()
    assert waits == [2.0, 4.0] and MEMBER in members(fake.policies[PROJECT])


def test_rotating_three_times_leaves_one_key_the_newest_stored_0600(fake, deployer, tmp_path):
    deployer.ensure()
    keys = tmp_path / "keys"
    ids = [deployer.rotate(keys) for _ in range(3)]
    assert len(set(ids)) == 3 and fake.keys[EMAIL] == [ids[-1]]
    stored = json.loads((keys / ig.KEY_FILE).read_text())
    assert stored["private_key_id"] == ids[-1] and stored["private_key"] == private_key(3)
    assert stat.S_IMODE((keys / ig.KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for n in (1, 2, 3):
        body = private_key(n).splitlines()[1]
        assert body not in redact.text(f"leaked {private_key(n)} and {json.dumps(private_key(n))}")


def test_the_new_key_is_stored_before_the_old_ones_go(fake, deployer, tmp_path):
    deployer.ensure()
    deployer.rotate(tmp_path)
    fake.deny = ("GET", "/keys")
    with pytest.raises(IdentityError, match="delete the older keys") as failed:
        deployer.rotate(tmp_path)
    assert len(fake.keys[EMAIL]) == 2  # nothing deleted, and the new key is usable
    assert json.loads((tmp_path / ig.KEY_FILE).read_text())["private_key"] == private_key(2)
    assert private_key(2).splitlines()[1] not in str(failed.value)


def test_a_key_answer_that_is_no_key_file_never_shows_the_key(fake, deployer, tmp_path):
    deployer.ensure()
    secret = private_key(9)
    fake_answer = {"name": "projects/p/serviceAccounts/e/keys/k9", "privateKeyData": secret}
    deployer.transport = lambda r: fake_answer if r.method == "POST" else fake(r)
    with pytest.raises(IdentityError, match="not a key file") as failed:
        deployer.rotate(tmp_path)
    assert secret.splitlines()[1] not in str(failed.value) and failed.value.__cause__ is None
    assert not (tmp_path / ig.KEY_FILE).exists()


def test_remove_leaves_no_binding_account_or_file(fake, deployer, tmp_path):
    deployer.ensure()
    deployer.rotate(tmp_path)
    fake.policies[PROJECT]["bindings"].append(  # as IAM shows a deleted account's binding
        {"role": "roles/logging.viewer", "members": [f"deleted:{MEMBER}?uid=123"]}
    )
    deployer.remove(tmp_path)
    for policy in fake.policies.values():
        assert not any(EMAIL in m for m in members(policy))
        assert all(b["members"] for b in policy.get("bindings", []))
    assert {b["role"] for b in fake.policies[PROJECT]["bindings"]} == {
        "roles/viewer",
        "roles/run.admin",
        "roles/storage.admin",
    }
    assert not fake.accounts and not (tmp_path / ig.KEY_FILE).exists()
    deployer.remove(tmp_path)  # again: nothing left, no error


def test_a_403_names_the_step_and_never_the_token():
    token = "ya29.a0AfB_deployerSetupTOKEN0123456789"

    class Session:  # a requests-like session whose API answers 403 and echoes the token
        credentials = SimpleNamespace(token=token)

        def request(self, method, url, **_):
            body = {
                "error": {
                    "code": 403,
                    "message": f"Permission 'iam.serviceAccounts.create' denied (Bearer {token})",
                }
            }
            return SimpleNamespace(status_code=403, text=json.dumps(body))

    deployer = ig.GcpDeployer(session_transport(Session(), GCP), "acme", GCP)
    with pytest.raises(IdentityError) as failed:
        deployer.ensure()
    message = str(failed.value)
    assert message.startswith(f"create service account {EMAIL}: HTTP 403: Permission")
    assert "roles/iam.serviceAccountAdmin" in message and token not in message


def test_setup_makes_the_account_repository_and_a_key_once(fake, tmp_path):
    email, key_id = ig.setup_gcp_deployer(config(), tmp_path, tmp_path / ".pilot", transport=fake)
    assert email == EMAIL and key_id == fake.keys[EMAIL][0] and fake.repository
    again = ig.setup_gcp_deployer(config(), tmp_path, tmp_path / ".pilot", transport=fake)
    assert again == (EMAIL, None) and len(fake.keys[EMAIL]) == 1


def test_cloud_run_previews_run_as_an_account_with_no_role(fake, tmp_path):
    """A preview runs a branch's code: it runs as an account of its own that the deployer
    may act as and that holds no role but reading the previews' own secrets (the apps'
    runtime account reads theirs, and not the previews'); the deployer's removal takes it
    too."""
    ig.setup_gcp_deployer(config(), tmp_path, tmp_path / ".pilot", transport=fake)
    previews = "pilot-acme-preview@acme-prod.iam.gserviceaccount.com"
    assert previews in fake.accounts
    acted_as = f"{ACCOUNTS.replace(GCP, '-')}/{previews}"
    assert fake.policies[acted_as]["bindings"] == [{"role": ig.ACT_AS, "members": [MEMBER]}]
    holds = [
        (resource, b["role"])
        for resource, policy in fake.policies.items()
        for b in policy.get("bindings", [])
        if f"serviceAccount:{previews}" in b["members"]
    ]
    shared = "https://secretmanager.googleapis.com/v1/projects/acme-prod/secrets/"
    shared += "pilot-acme-cloudrun-preview_database-url"
    assert holds == [(shared, "roles/secretmanager.secretAccessor")]
    assert sorted((b["role"], b["members"]) for b in fake.policies[shared]["bindings"]) == [
        ("roles/secretmanager.admin", [MEMBER]),  # the deployer adds its versions
        ("roles/secretmanager.secretAccessor", [f"serviceAccount:{previews}"]),
    ]
    made = [(name, body["labels"]) for kind, name, body in fake.created if kind == "secret"]
    # labelled the app's, so `app destroy` takes it with the app's own
    labelled = {"pilot-project": "acme", "pilot-app": "cloudrun"}
    assert ("pilot-acme-cloudrun-preview_database-url", labelled) in made
    ig.GcpDeployer(fake, "acme", GCP).remove(tmp_path)
    assert previews not in fake.accounts
    # a project whose Cloud Run apps run no previews gets no such account
    other = FakeIam()
    site = config(kinds=("gcs-cdn",))
    ig.setup_gcp_deployer(site, tmp_path / "b", tmp_path / "b" / ".pilot", transport=other)
    assert previews not in other.accounts


def test_setup_refuses_the_sandbox(fake, tmp_path):
    with pytest.raises(IdentityError, match="no IAM emulator"):
        ig.setup_gcp_deployer(config("sandbox"), tmp_path, tmp_path, transport=fake)
    assert not fake.calls


def test_deploys_use_the_deployer_key_when_there_is_one(tmp_path):
    state = tmp_path / ".pilot"
    assert clients.gcp_deploy_key(config(), tmp_path, state) == str(
        (tmp_path / "keys/admin.json").resolve()
    )
    (state / "keys").mkdir(parents=True)
    (state / "keys" / ig.KEY_FILE).write_text(json.dumps({"private_key": private_key(7)}))
    assert clients.gcp_deploy_key(config(), tmp_path, state) == str(state / "keys" / ig.KEY_FILE)
    assert private_key(7).splitlines()[1] not in redact.text(private_key(7).replace("\n", " "))


def test_wants_the_deployer_for_a_gcp_server_or_gcp_apps():
    assert ig.wants_gcp_deployer(config("gcp", ()))
    assert ig.wants_gcp_deployer(config("aws", ("gcs-cdn",)))
    assert not ig.wants_gcp_deployer(config("aws", ("lambda",)))


def test_setup_grants_on_the_resources_it_names_not_on_the_project(fake, tmp_path):
    """Project-wide storage.admin / secretmanager.admin / repoAdmin reached every bucket,
    secret and repository of the Google project: setup makes the ones pilot.toml names and
    grants the deployer on each of them; Cloud Run runs as its own account."""
    fake.policies[f"{STORAGE}/pilot-state-acme"] = {"etag": "b0"}  # server up made it
    ig.setup_gcp_deployer(
        config(kinds=("cloud-run", "gcs-cdn"), backend="gcs"),
        tmp_path,
        tmp_path / ".pilot",
        transport=fake,
    )

    def roles_of(resource: str, member: str = MEMBER) -> set[str]:
        return {
            b["role"] for b in fake.policies[resource].get("bindings", []) if member in b["members"]
        }

    on_project = roles_of(PROJECT)
    assert not {
        r for r in on_project if r.startswith(("roles/storage.", "roles/artifactregistry."))
    }
    assert "roles/secretmanager.admin" not in on_project
    assert on_project == set(policy_gcp.DEPLOYER_ROLES)
    secret = f"{SECRETS}/pilot-acme-cloudrun-database-url"
    assert roles_of(f"{REPO}/pilot-acme") == {"roles/artifactregistry.repoAdmin"}
    assert roles_of(secret) == {"roles/secretmanager.admin"}
    assert roles_of(secret, f"serviceAccount:{RUN_EMAIL}") == {"roles/secretmanager.secretAccessor"}
    assert roles_of(f"{STORAGE}/pilot-acme-gcscdn-site") == {"roles/storage.admin"}
    assert roles_of(f"{STORAGE}/pilot-state-acme") == {"roles/storage.objectAdmin"}
    made = {(kind, name) for kind, name, _ in fake.created}
    assert made >= {
        ("secret", "pilot-acme-cloudrun-database-url"),
        ("bucket", "pilot-acme-gcscdn-site"),
    }
    bucket = next(body for kind, _, body in fake.created if kind == "bucket")
    assert bucket["iamConfiguration"] == {"uniformBucketLevelAccess": {"enabled": True}}
    # Cloud Run's runtime account is Pilot's own, the deployer may act as it alone, and the
    # default compute account (an editor of the project) is left alone.
    assert RUN_EMAIL in fake.accounts
    assert roles_of(RUNTIME) == {policy_gcp.ACT_AS}
    assert fake.policies[DEFAULT_COMPUTE] == {"etag": "d0"}
    assert not [c for c in fake.calls if DEFAULT_COMPUTE in c.url]


def test_a_site_bucket_setup_did_not_make_is_a_clear_error():
    """The deployer holds storage.admin only on the buckets setup made. The GCS emulator
    enforces no IAM, so a stand-in client answers as Cloud Storage does to it."""
    from google.api_core.exceptions import Forbidden, NotFound
    from google.cloud.storage import Bucket

    from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
    from pilot_tui.deploy.targets.s3_site.bucket import SiteError

    class Client:
        def get_bucket(self, name):
            raise NotFound(f"bucket {name}")

        def bucket(self, name):
            return Bucket(client=None, name=name)

        def create_bucket(self, bucket, location):
            raise Forbidden("caller does not have storage.buckets.create access")

    with pytest.raises(
        SiteError,
        match=r"bucket pilot-acme-web-site does not exist.*"
        r"pilot-tui deployer create --cloud gcp",
    ):
        GcsSite(Client(), "pilot-acme-web-site", "EUROPE-WEST1").ensure_bucket()
