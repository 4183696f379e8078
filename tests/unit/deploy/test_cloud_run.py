"""Cloud Run (Admin API v2), Cloud Logging and Artifact Registry as requests as data.

No emulator exists for any of them here (only GCS has one), so: the request builders are
checked as data, and CloudRunService is driven through FakeCloudRun, a recording fake
transport that keeps a service's state the way the API reports it. It is a fake, not an
emulator: it checks what Pilot asks for, not what Google would answer to it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pilot_tui import redact
from pilot_tui.cloud import gcp_resources
from pilot_tui.cloud.gcp_api import (
    ApiError,
    ApiRequest,
    authorized_transport,
    parse_response,
    session_transport,
    wait_operation,
)
from pilot_tui.deploy import artifact_registry as ar
from pilot_tui.deploy.targets.cloud_run import service as cr
from pilot_tui.deploy.targets.managed import TargetError

SERVICE = (
    "https://run.googleapis.com/v2/projects/acme-prod/locations/europe-west1/"
    "services/pilot-acme-api"
)
SETTINGS = SimpleNamespace(
    memory="512Mi", cpu=1, port=8080, min_instances=0, max_instances=10, watch=60
)
TOKEN = "ya29.a0AfB_byCsecretTOKENvalue1234567890"


def not_found(request: ApiRequest) -> ApiError:
    return ApiError(404, "not found", request)


class FakeCloudRun:
    """A recording fake transport for Cloud Run v2 and Cloud Logging (no emulator exists):
    one service, its revisions, its IAM policy; operations finish on their first poll."""

    def __init__(self) -> None:
        self.calls: list[ApiRequest] = []
        self.service: dict | None = None
        self.revisions: set[str] = set()
        self.policy: dict = {"etag": "BwX"}
        self.entries: list[dict] = []
        self.failing_image = "bad"

    def methods(self) -> list[str]:
        return [f"{c.method} {c.url.removeprefix(SERVICE) or '/'}" for c in self.calls]

    def _operation(self, error: str | None = None) -> dict:
        op = {"name": "projects/acme-prod/locations/europe-west1/operations/op-1", "done": False}
        self.pending = {
            "name": op["name"],
            "done": True,
            **({"error": {"code": 9, "message": error}} if error else {"response": self.service}),
        }
        return op

    def _apply(self, body: dict) -> dict:
        template = body["template"]
        revision = template["revision"]
        self.revisions.add(revision)
        if template["containers"][0]["image"] == self.failing_image:
            assert self.service is not None
            self.service["terminalCondition"] = {
                "state": "CONDITION_FAILED",
                "message": f"Revision '{revision}' is not ready",
            }
            return self._operation(
                f"Revision '{revision}' is not ready and cannot serve "
                "traffic. The container failed to start."
            )
        self.service = {
            **(self.service or {}),
            **body,
            "uri": "https://pilot-acme-api-x.a.run.app",
            "latestReadyRevision": f"projects/acme-prod/.../revisions/{revision}",
            "terminalCondition": {"type": "Ready", "state": cr.SUCCEEDED},
            "trafficStatuses": [{"type": cr.LATEST, "percent": 100}],
        }
        return self._operation()

    def __call__(self, request: ApiRequest) -> dict:
        self.calls.append(request)
        url, method = request.url, request.method
        if url.startswith("https://logging.googleapis.com/"):
            return {"entries": self.entries}
        if "/operations/" in url:
            return self.pending
        if url == SERVICE.rpartition("/")[0] and method == "POST":
            assert request.params == {"serviceId": "pilot-acme-api"}
            self.service = {}
            return self._apply(request.body)
        if self.service is None:
            raise not_found(request)
        if url == SERVICE and method == "GET":
            return self.service
        if url == SERVICE and method == "PATCH":
            if request.params == {"updateMask": "traffic"}:
                target = request.body["traffic"][0]
                self.service["trafficStatuses"] = [{**target}]
                return self._operation()
            return self._apply(request.body)
        if url == SERVICE and method == "DELETE":
            self.service, self.revisions = None, set()
            return self._operation()
        if "/revisions/" in url:
            if url.rsplit("/", 1)[1] not in self.revisions:
                raise not_found(request)
            return {"name": url}
        if url.endswith(":getIamPolicy"):
            return self.policy
        if url.endswith(":setIamPolicy"):
            self.policy = request.body["policy"]
            return self.policy
        raise AssertionError(f"unexpected {method} {url}")


@pytest.fixture
def fake() -> FakeCloudRun:
    return FakeCloudRun()


@pytest.fixture
def run(fake) -> cr.CloudRunService:
    return cr.CloudRunService(
        fake, "acme-prod", "europe-west1", "acme", "api", SETTINGS, interval=0
    )


# -- requests as data ------------------------------------------------------------------
def test_service_body_pins_the_revision_and_sends_all_traffic_to_it():
    body = cr.service_body(
        "europe-west1-docker.pkg.dev/acme-prod/pilot-acme/api@sha256:ab",
        {"B": "2", "A": "1", "PORT": "9"},
        "pilot-acme-api-v3",
        SETTINGS,
        {"pilot-project": "acme"},
    )
    template = body["template"]
    container = template["containers"][0]
    assert template["revision"] == "pilot-acme-api-v3"
    assert container["image"].endswith("/pilot-acme/api@sha256:ab")
    # Sorted, and PORT left to Cloud Run (it refuses a service that sets it).
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["ports"] == [{"containerPort": 8080}]
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}}
    assert template["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 10}
    assert body["traffic"] == [{"type": cr.LATEST, "percent": 100}]


def test_requests_for_create_patch_rollback_and_delete():
    url = cr.service_url("acme-prod", "europe-west1", "pilot-acme-api")
    assert url == SERVICE
    assert cr.revision_name("pilot-acme-api", "v3") == "pilot-acme-api-v3"
    create = cr.create_service_request(url, {"x": 1})
    assert (create.method, create.url, create.params) == (
        "POST",
        SERVICE.rpartition("/")[0],
        {"serviceId": "pilot-acme-api"},
    )
    assert cr.patch_service_request(url, {"x": 1}) == ApiRequest("PATCH", SERVICE, {"x": 1})
    rollback = cr.traffic_request(url, "pilot-acme-api-v2")
    assert rollback == ApiRequest(
        "PATCH",
        SERVICE,
        params={"updateMask": "traffic"},
        body={"traffic": [{"type": cr.PINNED, "revision": "pilot-acme-api-v2", "percent": 100}]},
    )
    assert cr.delete_service_request(url) == ApiRequest("DELETE", SERVICE)


def test_public_invoker_policy_keeps_other_bindings():
    request = cr.set_iam_policy_request(SERVICE, {"bindings": []})
    assert (request.method, request.url) == ("POST", SERVICE + ":setIamPolicy")
    policy = {
        "etag": "e1",
        "bindings": [{"role": "roles/run.developer", "members": ["user:a@acme.example"]}],
    }
    wanted = cr.with_public_invoker(policy)
    assert wanted == {
        "etag": "e1",
        "bindings": [
            {"role": "roles/run.developer", "members": ["user:a@acme.example"]},
            {"role": "roles/run.invoker", "members": ["allUsers"]},
        ],
    }
    assert cr.with_public_invoker(wanted) is None  # already public: nothing to send
    merged = cr.with_public_invoker(
        {"bindings": [{"role": "roles/run.invoker", "members": ["user:b@acme.example"]}]}
    )
    assert merged["bindings"][0]["members"] == ["user:b@acme.example", "allUsers"]


def test_log_request_filters_on_the_service():
    recent = cr.log_request("acme-prod", "pilot-acme-api", None, 50)
    assert (recent.method, recent.url) == ("POST", "https://logging.googleapis.com/v2/entries:list")
    assert recent.body == {
        "resourceNames": ["projects/acme-prod"],
        "filter": 'resource.type="cloud_run_revision" AND '
        'resource.labels.service_name="pilot-acme-api"',
        "orderBy": "timestamp desc",
        "pageSize": 50,
    }  # the newest 50, reversed by logs()
    follow = cr.log_request("acme-prod", "pilot-acme-api", 1714564800.5, 5000)
    assert follow.body["filter"].endswith(' AND timestamp>="2024-05-01T12:00:00.500000Z"')
    assert follow.body["orderBy"] == "timestamp asc" and follow.body["pageSize"] == 1000


def test_artifact_registry_requests():
    assert (
        ar.image_path("europe-west1", "acme-prod", "acme", "api")
        == "europe-west1-docker.pkg.dev/acme-prod/pilot-acme/api"
    )
    create = gcp_resources.create_repository_request("acme-prod", "europe-west1", "acme")
    assert create == ApiRequest(
        "POST",
        "https://artifactregistry.googleapis.com/v1/projects/acme-prod/locations/"
        "europe-west1/repositories",
        body={
            "format": "DOCKER",
            "description": "Pilot images of acme",
            "labels": {"pilot-project": "acme"},
        },
        params={"repositoryId": "pilot-acme"},
    )
    assert ar.delete_package_request("acme-prod", "europe-west1", "acme", "api").url.endswith(
        "/repositories/pilot-acme/packages/api"
    )


def test_ensure_repository_creates_once_and_accepts_a_concurrent_create():
    # A recording fake transport: Artifact Registry has no emulator here.
    calls: list[ApiRequest] = []
    state = {"exists": False, "conflict": False}

    def transport(request: ApiRequest) -> dict:
        calls.append(request)
        if request.method == "GET" and "/operations/" in request.url:
            return {"name": "op", "done": True, "response": {}}
        if request.method == "GET":
            if not state["exists"]:
                raise ApiError(404, "Requested entity was not found.", request)
            return {"name": "repo"}
        if state["conflict"]:
            raise ApiError(409, "the repository already exists", request)
        state["exists"] = True
        return {
            "name": "projects/acme-prod/locations/europe-west1/operations/op",
            "done": True,
            "response": {},
        }

    assert gcp_resources.ensure_repository(transport, "acme-prod", "europe-west1", "acme") is True
    assert [c.method for c in calls] == ["GET", "POST"]
    assert gcp_resources.ensure_repository(transport, "acme-prod", "europe-west1", "acme") is False
    assert [c.method for c in calls] == ["GET", "POST", "GET"]  # read first: no create
    state.update(exists=False, conflict=True)  # a teammate created it in between
    assert gcp_resources.ensure_repository(transport, "acme-prod", "europe-west1", "acme") is False


def test_registry_token_is_masked_in_logs():
    class Credentials:  # stands in for google-auth credentials: refresh() sets a token
        token = None

        def refresh(self, request) -> None:
            self.token = TOKEN

    assert ar.access_token(Credentials()) == TOKEN
    assert TOKEN not in redact.text(f"docker login -p {TOKEN} europe-west1-docker.pkg.dev")


# -- the target through the fake -------------------------------------------------------
def test_first_deploy_creates_then_patches_with_the_next_revision(run, fake):
    said: list[str] = []
    first = run.deploy("img@sha256:1", {"A": "1"}, "v1", said.append)
    assert first.ref == "pilot-acme-api-v1"
    assert first.url == "https://pilot-acme-api-x.a.run.app"
    assert fake.methods()[:3] == [
        "GET /",
        "POST https://run.googleapis.com/v2/projects/acme-prod/locations/europe-west1/services",
        "GET https://run.googleapis.com/v2/projects/acme-prod/"
        "locations/europe-west1/operations/op-1",
    ]
    assert fake.policy["bindings"] == [{"role": "roles/run.invoker", "members": ["allUsers"]}]
    assert any("allUsers" in line for line in said)

    fake.calls.clear()
    second = run.deploy("img@sha256:2", {"A": "2"}, "v2", said.append)
    assert second.ref == "pilot-acme-api-v2"
    patch = next(c for c in fake.calls if c.method == "PATCH")
    assert patch.params is None  # the whole service: template and traffic
    assert patch.body["template"]["revision"] == "pilot-acme-api-v2"
    assert patch.body["template"]["containers"][0]["image"] == "img@sha256:2"
    assert not any(c.url.endswith(":setIamPolicy") for c in fake.calls)  # public already


def test_services_run_as_pilots_own_runtime_account(run, fake):
    """Not the default compute account (an editor of the whole project): setup makes
    pilot-PROJECT-run, which may only read the app's secrets."""
    run.deploy("img@sha256:1", {}, "v1", lambda _: None)
    create = next(c for c in fake.calls if c.method == "POST" and c.body)
    assert (
        create.body["template"]["serviceAccount"]
        == "pilot-acme-run@acme-prod.iam.gserviceaccount.com"
    )


def test_a_failed_revision_is_a_target_error_and_its_name_is_not_reused(run, fake):
    run.deploy("img@sha256:1", {}, "v1", lambda _: None)
    with pytest.raises(TargetError, match="container failed to start"):
        run.deploy("bad", {}, "v2", lambda _: None)
    assert run.status().health.startswith("unhealthy (Revision 'pilot-acme-api-v2'")
    # The retry of v2 (same release id) needs a new name: Cloud Run keeps failed revisions.
    again = run.deploy("img@sha256:2", {}, "v2", lambda _: None)
    assert again.ref == "pilot-acme-api-v2-2"


def test_activate_moves_traffic_to_the_named_revision(run, fake):
    run.deploy("img@sha256:1", {}, "v1", lambda _: None)
    run.deploy("img@sha256:2", {}, "v2", lambda _: None)
    said: list[str] = []
    back = run.activate("pilot-acme-api-v1", said.append)
    assert back.ref == "pilot-acme-api-v1" and back.url.startswith("https://")
    patch = [c for c in fake.calls if c.method == "PATCH"][-1]
    assert patch == cr.traffic_request(SERVICE, "pilot-acme-api-v1")
    assert run.status().detail == "revision pilot-acme-api-v1 serving 100%"
    with pytest.raises(TargetError, match="no revision pilot-acme-api-v9"):
        run.activate("pilot-acme-api-v9", lambda _: None)


def test_status_not_deployed_healthy_and_unhealthy(run, fake):
    assert run.status() == cr.TargetStatus("not deployed", "-")
    run.deploy("img@sha256:1", {}, "v1", lambda _: None)
    status = run.status()
    assert status.health == "healthy" and status.ok
    assert status.url == "https://pilot-acme-api-x.a.run.app"
    assert status.detail == "revision pilot-acme-api-v1 serving 100%"
    fake.service["trafficStatuses"] = []
    assert run.status().health == "unhealthy (no revision serves traffic)"
    fake.service["terminalCondition"] = {"state": "CONDITION_RECONCILING"}
    assert run.status().health == "unhealthy (CONDITION_RECONCILING)"


def test_logs_are_parsed_oldest_first(run, fake):
    labels = {"labels": {"revision_name": "pilot-acme-api-v1"}}
    fake.entries = [  # asked newest first
        {
            "timestamp": "2024-05-01T12:00:02.250000000Z",
            "resource": labels,
            "httpRequest": {"requestMethod": "GET", "requestUrl": "https://x/hi", "status": 200},
        },
        {
            "timestamp": "2024-05-01T12:00:01Z",
            "resource": labels,
            "jsonPayload": {"message": "listening", "severity": "INFO"},
        },
        {"timestamp": "2024-05-01T12:00:00.5Z", "resource": labels, "textPayload": "boot\n"},
    ]
    lines = list(run.logs(limit=10))
    assert [line.text for line in lines] == ["boot", "listening", "GET https://x/hi 200"]
    assert lines[0].timestamp == 1714564800.5 and lines[-1].timestamp == 1714564802.25
    assert lines[0].source == "pilot-acme-api-v1"
    assert fake.calls[-1].body["filter"].endswith('service_name="pilot-acme-api"')


def test_destroy_is_idempotent(run, fake):
    run.deploy("img@sha256:1", {}, "v1", lambda _: None)
    said: list[str] = []
    assert run.destroy(said.append) == [
        "deleted Cloud Run service pilot-acme-api and its revisions"
    ]
    assert run.destroy(said.append) == []
    assert said[-1] == "no Cloud Run service pilot-acme-api: nothing to remove"
    assert run.status().health == "not deployed"


# -- the transport ---------------------------------------------------------------------
class FakeSession:
    """Stands in for google-auth's AuthorizedSession (no network here): answers one
    status and body, and holds a token as the real one does."""

    def __init__(self, status: int, body: dict | str) -> None:
        self.status, self.body = status, body
        self.credentials = SimpleNamespace(token=TOKEN)
        self.sent: list[tuple] = []

    def request(self, method, url, **options):
        self.sent.append((method, url, options["json"], options["params"]))
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return SimpleNamespace(status_code=self.status, text=text)


def test_an_api_error_names_status_and_message_never_the_token(fake):
    denied = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Permission 'run.services.get' denied on resource (or it may not "
            f"exist). Request had token {TOKEN}",
        }
    }
    transport = session_transport(FakeSession(403, denied), "acme-prod")
    service = cr.CloudRunService(transport, "acme-prod", "europe-west1", "acme", "api", SETTINGS)
    with pytest.raises(TargetError) as caught:
        service.status()
    message = str(caught.value)
    assert "HTTP 403" in message and "Permission 'run.services.get' denied" in message
    assert SERVICE in message and TOKEN not in message


def test_parse_response():
    request = ApiRequest("GET", SERVICE)
    assert parse_response(request, 200, '{"uri": "u"}') == {"uri": "u"}
    assert parse_response(request, 204, "") == {}
    with pytest.raises(ApiError) as caught:
        parse_response(request, 502, "<html>Bad Gateway</html>")
    assert caught.value.status == 502 and "Bad Gateway" in str(caught.value)
    sent = FakeSession(200, {"ok": True})
    assert session_transport(sent, "p")(ApiRequest("POST", SERVICE, {"a": 1}, {"b": 2})) == {
        "ok": True
    }
    assert sent.sent == [("POST", SERVICE, {"a": 1}, {"b": 2})]


def test_authorized_transport_with_an_unreadable_key(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(TargetError, match=r"nope\.json"):
        authorized_transport(str(missing), "acme-prod")
    (tmp_path / "bad.json").write_text(json.dumps({"type": "service_account"}))
    with pytest.raises(TargetError, match=r"bad\.json"):
        authorized_transport(str(tmp_path / "bad.json"), "acme-prod")


def test_wait_operation_polls_until_done_and_times_out():
    polls: list[str] = []
    answers = iter(
        [
            {"name": "projects/p/operations/o", "done": False},
            {"name": "projects/p/operations/o", "done": True, "response": {"uri": "u"}},
        ]
    )

    def transport(request: ApiRequest) -> dict:
        polls.append(request.url)
        return next(answers)

    result = wait_operation(transport, {"name": "projects/p/operations/o"}, sleep=lambda _: None)
    assert result == {"uri": "u"}
    assert polls == ["https://run.googleapis.com/v2/projects/p/operations/o"] * 2
    clock = iter([0.0, 5.0, 11.0])
    with pytest.raises(TargetError, match="still running after 10s"):
        wait_operation(
            lambda r: {"name": "o"},
            {"name": "o"},
            timeout=10,
            sleep=lambda _: None,
            clock=lambda: next(clock),
        )
    compute = {
        "kind": "compute#operation",
        "name": "op",
        "status": "DONE",
        "selfLink": "https://www.googleapis.com/compute/v1/x/op",
        "error": {"errors": [{"code": "QUOTA", "message": "quota exceeded"}]},
    }
    with pytest.raises(TargetError, match="quota exceeded"):
        wait_operation(lambda r: compute, compute)


def test_open_cloud_run_refuses_the_sandbox_and_a_missing_project(tmp_path):
    app = SimpleNamespace(name="api", target=SETTINGS)
    config = SimpleNamespace(
        server=SimpleNamespace(home="sandbox"),
        gcp=SimpleNamespace(project="acme-prod", credentials=None, region="europe-west1"),
        project=SimpleNamespace(name="acme"),
    )
    with pytest.raises(TargetError, match="no emulator"):
        cr.open_cloud_run(config, tmp_path, tmp_path, app)
    config.server.home, config.gcp.project = "gcp", None
    with pytest.raises(TargetError, match=r"gcp\.project"):
        cr.open_cloud_run(config, tmp_path, tmp_path, app)
