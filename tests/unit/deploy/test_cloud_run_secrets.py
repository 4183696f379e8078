"""Cloud Run secrets kept in Secret Manager, referenced by the service, never in it.

No Secret Manager (or Cloud Run) emulator exists here, so: the request builders are checked
as data, and CloudRunService is driven through FakeSecretManager, a recording fake
transport (FakeCloudRun plus Secret Manager and Cloud Resource Manager) that keeps secrets,
versions and policies the way the API reports them. It is a fake, not an emulator: it
checks what Pilot asks for, not what Google would answer."""

from __future__ import annotations

import base64
import json

import pytest

from pilot_tui import naming
from pilot_tui.cloud import gcp_resources
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.deploy.targets.cloud_run import secrets as cs
from pilot_tui.deploy.targets.cloud_run import service as cr
from pilot_tui.deploy.targets.managed import TargetError
from tests.unit.deploy.test_cloud_run import SETTINGS, FakeCloudRun

SM = "https://secretmanager.googleapis.com/v1/projects/acme-prod/secrets"
CRM = "https://cloudresourcemanager.googleapis.com/v1/projects/acme-prod"
SECRET = "pilot-acme-api-db-url"
VALUE = "correct-horse-battery-staple-42"
NEW_VALUE = "tr0ub4dor-and-3-more-words"
RUNTIME = "serviceAccount:pilot-acme-run@acme-prod.iam.gserviceaccount.com"  # Pilot's own
DEFAULT_COMPUTE = "123456-compute@developer.gserviceaccount.com"


class FakeSecretManager(FakeCloudRun):
    """FakeCloudRun plus Secret Manager and Cloud Resource Manager (a recording fake, no
    emulator). ``fail`` maps a URL suffix to an ApiError status to answer with."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, dict] = {}
        self.fail: dict[str, int] = {}
        self.page_size = 1  # so listing pages

    def sm_calls(self) -> list[str]:
        return [f"{c.method} {c.url.removeprefix(SM)}" for c in self.calls if c.url.startswith(SM)]

    def __call__(self, request: ApiRequest) -> dict:
        url, method = request.url, request.method
        if url == CRM:
            self.calls.append(request)
            return {"projectId": "acme-prod", "projectNumber": "123456"}
        if not url.startswith(SM):
            return super().__call__(request)
        self.calls.append(request)
        for suffix, status in self.fail.items():
            if url.endswith(suffix):
                echo = json.dumps(request.body)  # a careless API echoing what it got
                raise ApiError(status, f"refused {echo}", request)
        rest = url.removeprefix(SM)
        if rest == "" and method == "POST":
            name = request.params["secretId"]
            if name in self.secrets:
                raise ApiError(409, f"Secret [{name}] already exists.", request)
            self.secrets[name] = {
                "labels": request.body["labels"],
                "versions": [],
                "disabled": False,
                "policy": {"etag": "e0"},
            }
            return {"name": f"projects/123456/secrets/{name}"}
        if rest == "" and method == "GET":
            wanted = dict(
                term.removeprefix("labels.").split("=")
                for term in request.params["filter"].split(" AND ")
            )
            names = sorted(
                n for n, s in self.secrets.items() if wanted.items() <= s["labels"].items()
            )
            start = int(request.params.get("pageToken", 0))
            page = names[start : start + self.page_size]
            more = start + self.page_size < len(names)
            return {
                "secrets": [{"name": f"projects/123456/secrets/{n}"} for n in page],
                **({"nextPageToken": str(start + self.page_size)} if more else {}),
            }
        name, _, action = rest.removeprefix("/").partition(":")
        name = name.removesuffix("/versions/latest")
        if name not in self.secrets:
            raise ApiError(404, f"Secret [{name}] not found.", request)
        secret = self.secrets[name]
        versions = f"projects/123456/secrets/{name}/versions/"
        if action == "access":
            if not secret["versions"]:
                raise ApiError(404, "Secret not found or has no versions.", request)
            if secret["disabled"]:
                raise ApiError(400, "Secret Version is in DISABLED state.", request)
            data = base64.b64encode(secret["versions"][-1].encode()).decode()
            return {"name": f"{versions}{len(secret['versions'])}", "payload": {"data": data}}
        if action == "addVersion":
            secret["versions"].append(base64.b64decode(request.body["payload"]["data"]).decode())
            secret["disabled"] = False
            return {"name": f"{versions}{len(secret['versions'])}", "state": "ENABLED"}
        if action == "getIamPolicy":
            return secret["policy"]
        if action == "setIamPolicy":
            secret["policy"] = request.body["policy"]
            return secret["policy"]
        if method == "DELETE" and not action:
            del self.secrets[name]
            return {}
        if method == "GET" and not action:
            return {"name": f"projects/123456/secrets/{name}", "labels": secret["labels"]}
        raise AssertionError(f"unexpected {method} {url}")


@pytest.fixture
def fake() -> FakeSecretManager:
    return FakeSecretManager()


@pytest.fixture
def run(fake) -> cr.CloudRunService:
    return cr.CloudRunService(
        fake,
        "acme-prod",
        "europe-west1",
        "acme",
        "api",
        SETTINGS,
        interval=0,
        secret_names=("DB_URL", "API_KEY"),
    )


def container_env(request: ApiRequest) -> list[dict]:
    assert request.body is not None
    return request.body["template"]["containers"][0]["env"]


def service_writes(fake: FakeSecretManager) -> list[ApiRequest]:
    return [
        c
        for c in fake.calls
        if c.url.startswith(cr.API)
        and c.method in ("POST", "PATCH")
        and c.body
        and "template" in c.body
    ]


def assert_value_only_in_secret_manager(
    fake: FakeSecretManager, said: list[str], *values: str
) -> None:
    for call in fake.calls:
        text = json.dumps([call.url, call.params, call.body])
        carries = call.url.endswith(":addVersion")
        for value in values:
            encoded = base64.b64encode(value.encode()).decode()
            assert carries or (value not in text and encoded not in text), call
    assert not any(v in line for line in said for v in values)


# -- requests as data ------------------------------------------------------------------
def test_secret_ids_are_lower_case_dashed_and_bounded():
    assert naming.secret_id("acme", "api", "DB_URL") == SECRET
    long = naming.secret_id("acme", "api", "X" * 300)
    assert len(long) == naming.SECRET_ID_MAX and long.startswith("pilot-acme-api-xxx")


def test_secret_manager_requests_as_data():
    create = gcp_resources.create_secret_request("acme-prod", SECRET, {"pilot-project": "acme"})
    assert create == ApiRequest(
        "POST",
        SM,
        params={"secretId": SECRET},
        body={"replication": {"automatic": {}}, "labels": {"pilot-project": "acme"}},
    )
    add = cs.add_version_request("acme-prod", SECRET, "s3cr3t-vålue")
    assert (add.method, add.url) == ("POST", f"{SM}/{SECRET}:addVersion")
    assert base64.b64decode(add.body["payload"]["data"]).decode() == "s3cr3t-vålue"
    assert cs.access_latest_request("acme-prod", SECRET) == ApiRequest(
        "GET", f"{SM}/{SECRET}/versions/latest:access"
    )
    assert cs.list_secrets_request("acme-prod", "acme", "api") == ApiRequest(
        "GET", SM, params={"filter": "labels.pilot-project=acme AND labels.pilot-app=api"}
    )
    assert cs.delete_secret_request("acme-prod", SECRET) == ApiRequest("DELETE", f"{SM}/{SECRET}")
    assert cs.get_secret_policy_request("acme-prod", SECRET).url == f"{SM}/{SECRET}:getIamPolicy"
    assert cs.set_secret_policy_request("acme-prod", SECRET, {"etag": "e"}) == ApiRequest(
        "POST", f"{SM}/{SECRET}:setIamPolicy", body={"policy": {"etag": "e"}}
    )
    assert cs.project_request("acme-prod") == ApiRequest("GET", CRM)
    assert cs.default_runtime_account("123456") == DEFAULT_COMPUTE


def test_accessor_binding_keeps_other_bindings():
    conditional = {
        "role": cs.ACCESSOR,
        "members": ["user:x@acme.example"],
        "condition": {"expression": "request.time < timestamp('2030-01-01Z')"},
    }
    policy = {
        "etag": "e1",
        "bindings": [
            {"role": "roles/secretmanager.admin", "members": ["user:a@acme.example"]},
            conditional,
        ],
    }
    wanted = cs.with_accessor(policy, RUNTIME)
    assert wanted == {
        "etag": "e1",
        "bindings": [*policy["bindings"], {"role": cs.ACCESSOR, "members": [RUNTIME]}],
    }
    assert cs.with_accessor(wanted, RUNTIME) is None  # already there: nothing to send
    merged = cs.with_accessor({"bindings": [{"role": cs.ACCESSOR, "members": ["user:b"]}]}, RUNTIME)
    assert merged["bindings"] == [{"role": cs.ACCESSOR, "members": ["user:b", RUNTIME]}]


def test_service_body_references_secrets_and_keeps_plain_env():
    refs = {"DB_URL": cs.SecretRef(SECRET, "3")}
    body = cr.service_body("img", {"DB_URL": VALUE, "MODE": "prod"}, "rev", SETTINGS, {}, refs)
    env = body["template"]["containers"][0]["env"]
    assert env == [
        {"name": "DB_URL", "valueSource": {"secretKeyRef": {"secret": SECRET, "version": "3"}}},
        {"name": "MODE", "value": "prod"},
    ]
    assert VALUE not in json.dumps(body)


def test_answers_are_read():
    assert cs.version_number({"name": f"projects/1/secrets/{SECRET}/versions/12"}) == "12"
    data = base64.b64encode(b"abc").decode()
    assert cs.payload_text({"payload": {"data": data}}) == "abc"
    assert cs.payload_text({"payload": {"data": "!!"}}) is None


# -- the target through the fake -------------------------------------------------------
def test_first_deploy_stores_binds_and_references_version_1(run, fake):
    said: list[str] = []
    run.deploy("img@sha256:1", {"DB_URL": VALUE, "MODE": "prod"}, "v1", said.append)
    assert fake.sm_calls() == [  # not there: created, no latest version to compare
        f"GET /{SECRET}",
        "POST ",
        f"POST /{SECRET}:addVersion",
        f"GET /{SECRET}:getIamPolicy",
        f"POST /{SECRET}:setIamPolicy",
    ]
    secret = fake.secrets[SECRET]
    assert secret["versions"] == [VALUE]
    assert secret["labels"] == {"pilot-project": "acme", "pilot-app": "api"}
    assert secret["policy"]["bindings"] == [{"role": cs.ACCESSOR, "members": [RUNTIME]}]
    assert CRM not in [c.url for c in fake.calls]  # the runtime account is named: no lookup
    # The binding comes before the service write: the revision reads the secret at start.
    (create,) = service_writes(fake)
    urls = [c.url for c in fake.calls]
    assert urls.index(f"{SM}/{SECRET}:setIamPolicy") < fake.calls.index(create)
    assert container_env(create) == [
        {"name": "DB_URL", "valueSource": {"secretKeyRef": {"secret": SECRET, "version": "1"}}},
        {"name": "MODE", "value": "prod"},
    ]
    assert_value_only_in_secret_manager(fake, said, VALUE)
    assert f"stored secret DB_URL in Secret Manager {SECRET} (version 1)" in said


def test_redeploy_with_the_same_value_adds_no_version(run, fake):
    run.deploy("img@sha256:1", {"DB_URL": VALUE}, "v1", lambda _: None)
    fake.calls.clear()
    said: list[str] = []
    run.deploy("img@sha256:2", {"DB_URL": VALUE}, "v2", said.append)
    assert fake.sm_calls() == [
        f"GET /{SECRET}",
        f"GET /{SECRET}/versions/latest:access",
        f"GET /{SECRET}:getIamPolicy",
    ]  # it exists; bound already
    assert fake.secrets[SECRET]["versions"] == [VALUE]
    assert container_env(service_writes(fake)[0])[0]["valueSource"]["secretKeyRef"] == {
        "secret": SECRET,
        "version": "1",
    }
    assert_value_only_in_secret_manager(fake, said, VALUE)


def test_a_changed_value_adds_version_2_and_the_old_revision_keeps_1(run, fake):
    run.deploy("img@sha256:1", {"DB_URL": VALUE}, "v1", lambda _: None)
    said: list[str] = []
    run.deploy("img@sha256:2", {"DB_URL": NEW_VALUE}, "v2", said.append)
    assert fake.secrets[SECRET]["versions"] == [VALUE, NEW_VALUE]
    first, second = service_writes(fake)
    assert container_env(first)[0]["valueSource"]["secretKeyRef"]["version"] == "1"
    assert container_env(second)[0]["valueSource"]["secretKeyRef"]["version"] == "2"
    assert f"updated secret DB_URL in Secret Manager {SECRET} (version 2)" in said
    assert_value_only_in_secret_manager(fake, said, VALUE, NEW_VALUE)
    # A rollback moves traffic only: revision v1 still reads version 1.
    run.activate("pilot-acme-api-v1", lambda _: None)
    assert [c for c in fake.calls if c.method == "PATCH"][-1].body == cr.traffic_request(
        cr.service_url("acme-prod", "europe-west1", "pilot-acme-api"), "pilot-acme-api-v1"
    ).body


def test_a_disabled_latest_version_counts_as_different(run, fake):
    run.deploy("img@sha256:1", {"DB_URL": VALUE}, "v1", lambda _: None)
    fake.secrets[SECRET]["disabled"] = True  # access answers 400 FAILED_PRECONDITION
    run.deploy("img@sha256:2", {"DB_URL": VALUE}, "v2", lambda _: None)
    assert (
        container_env(service_writes(fake)[-1])[0]["valueSource"]["secretKeyRef"]["version"] == "2"
    )


def test_without_secret_values_nothing_reaches_secret_manager(run, fake):
    run.deploy("img@sha256:1", {"DB_URL": "", "MODE": "prod"}, "v1", lambda _: None)
    assert fake.sm_calls() == [] and CRM not in [c.url for c in fake.calls]
    assert container_env(service_writes(fake)[0]) == [
        {"name": "DB_URL", "value": ""},
        {"name": "MODE", "value": "prod"},
    ]


def test_a_named_runtime_account_needs_no_project_lookup(fake):
    store = cs.CloudRunSecrets(fake, "acme-prod", "acme", "api", ("DB_URL",))
    refs = store.store({"DB_URL": VALUE}, lambda _: None)
    store.grant(refs, "run-api@acme-prod.iam.gserviceaccount.com", lambda _: None)
    assert CRM not in [c.url for c in fake.calls]
    assert fake.secrets[SECRET]["policy"]["bindings"] == [
        {
            "role": cs.ACCESSOR,
            "members": ["serviceAccount:run-api@acme-prod.iam.gserviceaccount.com"],
        }
    ]


def test_destroy_deletes_the_apps_secrets_only(run, fake):
    run.deploy("img@sha256:1", {"DB_URL": VALUE, "API_KEY": NEW_VALUE}, "v1", lambda _: None)
    fake.secrets["pilot-acme-api-old-name"] = {  # a secret no longer in pilot.toml
        "labels": {"pilot-project": "acme", "pilot-app": "api"},
        "versions": ["x"],
    }
    fake.secrets["pilot-acme-web-db-url"] = {  # another app's
        "labels": {"pilot-project": "acme", "pilot-app": "web"},
        "versions": ["y"],
    }
    said: list[str] = []
    done = run.destroy(said.append)
    assert done == [
        "deleted Cloud Run service pilot-acme-api and its revisions",
        "deleted Secret Manager secret pilot-acme-api-api-key",
        "deleted Secret Manager secret pilot-acme-api-db-url",
        "deleted Secret Manager secret pilot-acme-api-old-name",
    ]
    assert list(fake.secrets) == ["pilot-acme-web-db-url"]
    assert_value_only_in_secret_manager(fake, said, VALUE, NEW_VALUE)
    assert run.destroy(said.append) == []  # idempotent
    assert said[-1] == "no Cloud Run service pilot-acme-api: nothing to remove"


def test_an_error_while_storing_names_the_secret_never_the_value(run, fake):
    fake.fail[":addVersion"] = 403
    said: list[str] = []
    with pytest.raises(TargetError) as caught:
        run.deploy("img@sha256:1", {"DB_URL": VALUE}, "v1", said.append)
    message = str(caught.value)
    assert "secret DB_URL" in message and SECRET in message and "HTTP 403" in message
    assert "roles/secretmanager.admin" in message
    encoded = base64.b64encode(VALUE.encode()).decode()
    assert VALUE not in message and encoded not in message
    assert service_writes(fake) == []  # nothing deployed with a missing secret
    assert not any(VALUE in line for line in said)


def test_secrets_that_map_to_one_id_are_refused(fake):
    store = cs.CloudRunSecrets(fake, "acme-prod", "acme", "api", ("DB_URL", "db_url"))
    with pytest.raises(TargetError, match="distinct Secret Manager ids") as caught:
        store.store({"DB_URL": VALUE, "db_url": NEW_VALUE}, lambda _: None)
    assert VALUE not in str(caught.value) and fake.calls == []


def test_a_secret_setup_made_is_used_without_the_create_permission(run, fake):
    """The deployer may create no secret (setup makes each one pilot.toml names and grants
    it on that secret): a deploy reads the secret first and creates only a missing one."""
    fake.secrets[SECRET] = {
        "labels": {"pilot-project": "acme", "pilot-app": "api"},
        "versions": [],
        "disabled": False,
        "policy": {"etag": "e0"},
    }
    fake.fail["/secrets"] = 403  # create (and list) on the project: not the deployer's
    run.deploy("img@sha256:1", {"DB_URL": VALUE}, "v1", lambda _: None)
    assert fake.secrets[SECRET]["versions"] == [VALUE]
    with pytest.raises(TargetError) as caught:  # API_KEY: added after setup
        run.deploy("img@sha256:2", {"DB_URL": VALUE, "API_KEY": NEW_VALUE}, "v2", lambda _: None)
    message = str(caught.value)
    assert "secret API_KEY" in message and "pilot-tui deployer create --cloud gcp" in message
    assert NEW_VALUE not in message
