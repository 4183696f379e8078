"""Cloud Run previews: each a service of its own, pilot-PROJECT-APP--NAME, labelled whose
preview it is and when it expires; listed by those labels, removed with its app.

No Cloud Run emulator exists here, so the services live in FakeRunServices, a recording
fake transport keeping several services (with their labels, revisions and IAM policies)
the way Cloud Run v2 reports them; listing answers one service per page, so paging is
exercised. It is a fake, not an emulator: it checks what Pilot asks for."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest

from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.config.schema import AppSettings, CloudRunTarget, PreviewSettings
from pilot_tui.deploy import history, previews
from pilot_tui.deploy.context import ProjectContext
from pilot_tui.deploy.previews import Preview, PreviewError
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.cloud_run import service as cr
from pilot_tui.deploy.targets.cloud_run.target import CloudRun, CloudRunPreview
from pilot_tui.deploy.targets.managed import TargetError
from tests.support.gcp_project import GCP_PROJECT

REGION = "europe-west1"
SERVICES = f"https://run.googleapis.com/v2/projects/acme-prod/locations/{REGION}/services"
SETTINGS = SimpleNamespace(
    memory="512Mi", cpu=1, port=8080, min_instances=0, max_instances=10, watch=60
)
NOW = 1_800_000_000.0
TTL = 72 * 3600.0


def stamp(seconds: float) -> str:
    return cr.rfc3339(seconds)


class FakeRunServices:
    """Cloud Run v2 services of one region as a recording fake transport."""

    def __init__(self) -> None:
        self.calls: list[ApiRequest] = []
        self.services: dict[str, dict] = {}  # name -> the service as Cloud Run reports it
        self.clock = NOW
        self.base: str | None = None  # where the services answer (a local stand-in)
        self.entries: list[dict] = []  # Cloud Logging's answer

    def put(
        self, name: str, labels: dict[str, str], updated: float = NOW, created: float = 0.0
    ) -> None:
        """A service made elsewhere (by hand, another project, an earlier deploy)."""
        self.services[name] = {
            "createTime": stamp(created or updated),
            "name": f"projects/acme-prod/locations/{REGION}/services/{name}",
            "labels": labels,
            "uri": f"{self.base}/svc/{name}"
            if self.base
            else f"https://{name}-123456789012.{REGION}.run.app",
            "updateTime": stamp(updated),
            "etag": f'"{name}/{updated}"',
            "terminalCondition": {"state": cr.SUCCEEDED},
            "trafficStatuses": [{"type": cr.LATEST, "percent": 100}],
            "revisions": set(),
        }

    def touched(self) -> set[str]:
        """The services any call named (list calls name none)."""
        return {
            c.url.removeprefix(f"{SERVICES}/").split("/")[0].split(":")[0]
            for c in self.calls
            if c.url.startswith(f"{SERVICES}/")
        } | {c.params["serviceId"] for c in self.calls if c.params and "serviceId" in c.params}

    def __call__(self, request: ApiRequest) -> dict:
        self.calls.append(request)
        url, method = request.url, request.method
        if "/operations/" in url:
            return {"name": url, "done": True, "response": {}}
        if url.startswith("https://logging.googleapis.com/"):
            return {"entries": self.entries}
        if url.startswith("https://secretmanager.googleapis.com/") and method == "GET":
            return {}  # the app's secrets: none made here (secrets.py is tested on its own)
        if url == SERVICES and method == "GET":
            names = sorted(self.services)
            start = int(request.params.get("pageToken") or 0)
            page = [self.answer(n) for n in names[start : start + 1]]
            more = {"nextPageToken": str(start + 1)} if start + 1 < len(names) else {}
            return {"services": page, **more}
        if url == SERVICES and method == "POST":
            name = request.params["serviceId"]
            if name in self.services:
                raise ApiError(409, "already exists", request)
            self.put(name, {}, self.clock)
            return self.apply(name, request.body)
        name, _, rest = url.removeprefix(f"{SERVICES}/").partition("/")
        name, _, verb = name.partition(":")
        if name not in self.services:
            raise ApiError(404, f"Resource '{name}' was not found", request)
        service = self.services[name]
        if verb == "getIamPolicy":
            return service.get("policy", {"etag": "e"})
        if verb == "setIamPolicy":
            service["policy"] = request.body["policy"]
            return service["policy"]
        if rest.startswith("revisions/"):
            if rest.removeprefix("revisions/") not in service["revisions"]:
                raise ApiError(404, "no revision", request)
            return {"name": rest}
        if method == "GET":
            return self.answer(name)
        tagged = [t for t in (request.body or {}).get("traffic", []) if t.get("tag")]
        if any(len(t["tag"]) + len(name) > cr.TAGGED_MAX for t in tagged):
            raise ApiError(400, "tag and service name are longer than 46 characters", request)
        if method == "PATCH" and request.params == {"updateMask": "traffic"}:
            service["traffic"] = copy.deepcopy(request.body["traffic"])
            self.route(name)
            return {"name": f"projects/acme-prod/locations/{REGION}/operations/op-t"}
        if method == "PATCH":
            return self.apply(name, request.body)
        if method == "DELETE":
            etag = (request.params or {}).get("etag")
            if etag is not None and etag != service["etag"]:
                raise ApiError(409, "etag mismatch: the service changed", request)
            del self.services[name]
            return {"name": f"{name}/operations/op-d", "done": True}
        raise AssertionError(f"unexpected {method} {url}")

    def apply(self, name: str, body: dict) -> dict:
        service = self.services[name]
        service.update(copy.deepcopy(body))
        revision = body["template"]["revision"]
        service["revisions"].add(revision)
        service["latestReadyRevision"] = f"projects/acme-prod/.../revisions/{revision}"
        service["updateTime"] = stamp(self.clock)
        service["etag"] = f'"{name}/{self.clock}/{revision}"'
        self.route(name)
        return {"name": f"projects/acme-prod/locations/{REGION}/operations/op-{name}"}

    def route(self, name: str) -> None:
        """trafficStatuses from the service's traffic, as Cloud Run reports them: a tagged
        revision gets a URL of its own."""
        service = self.services[name]
        statuses = []
        for entry in service.get("traffic", []):
            status = dict(entry)
            if entry.get("tag"):
                status["uri"] = (
                    f"{self.base}/tag/{name}/{entry['tag']}"
                    if self.base
                    else f"https://{entry['tag']}---{name}-x.{REGION}.run.app"
                )
            statuses.append(status)
        service["trafficStatuses"] = statuses

    def revision_at(self, path: str) -> str | None:
        """The revision a request to ``path`` under ``base`` reaches."""
        parts = path.strip("/").split("/")
        service = self.services.get(parts[1]) if len(parts) > 1 else None
        if service is None:
            return None
        if parts[0] == "svc":
            return cr.live_revision(self.answer(parts[1]))
        tagged = [s for s in service["trafficStatuses"] if s.get("tag") == parts[2]]
        return tagged[0]["revision"] if tagged else None

    def answer(self, name: str) -> dict:
        return {k: v for k, v in copy.deepcopy(self.services[name]).items() if k != "revisions"}


def own(project: str = "acme", app: str = "api") -> dict[str, str]:
    return {"pilot-project": project, "pilot-app": app}


def preview_labels(app: str, name: str, expires: float, project: str = "acme") -> dict[str, str]:
    return {
        **own(project, f"{app}--{name}"),
        **Preview(app, name, expires).labels(previews.GCP_LABEL_KEYS),
    }


@pytest.fixture
def fake() -> FakeRunServices:
    return FakeRunServices()


def service(fake, app: str = "api", preview: Preview | None = None) -> cr.CloudRunService:
    return cr.CloudRunService(
        fake, "acme-prod", REGION, "acme", app, SETTINGS, interval=0, preview=preview
    )


def test_a_preview_is_a_service_of_its_own_and_the_apps_is_never_touched(fake):
    fake.put("pilot-acme-api", own())
    made = Preview("api", "pr-7", NOW + TTL)
    release = service(fake, "api--pr-7", made).deploy("img@sha256:ab", {"A": "1"}, "v1", print)
    assert release.url == f"https://pilot-acme-api--pr-7-123456789012.{REGION}.run.app"
    assert fake.touched() == {"pilot-acme-api--pr-7"}
    labels = fake.services["pilot-acme-api--pr-7"]["labels"]
    assert labels == {
        "pilot-project": "acme",
        "pilot-app": "api--pr-7",
        "pilot-preview-of": "api",
        "pilot-preview": "pr-7",
        "pilot-preview-expires": str(int(NOW + TTL)),
    }
    # label keys and values as Google Cloud takes them: lowercase, digits, - and _
    assert all(k.replace("-", "").isalnum() and k.islower() for k in labels)
    assert fake.services["pilot-acme-api--pr-7"]["template"]["labels"] == labels


def test_previews_are_found_by_their_labels_and_name_across_pages(fake):
    fake.put("pilot-acme-api", own())
    fake.put("pilot-acme-api--pr-7", preview_labels("api", "pr-7", NOW + 60))
    fake.put("pilot-acme-api--pr-8", preview_labels("api", "pr-8", NOW + 120))
    fake.put("pilot-acme-web--pr-7", preview_labels("web", "pr-7", NOW))  # another app's
    # a neighbour project's service, its labels its own
    fake.put("pilot-acme-x-api--pr-1", preview_labels("api", "pr-1", NOW, project="acme-x"))
    # labelled as a preview of api, but not named as Pilot names it: not one Pilot made
    fake.put("hand-made", preview_labels("api", "pr-9", NOW))
    found = service(fake).previews(ttl=TTL)
    assert [(p.name, p.expires, p.state) for p in found] == [
        ("pr-7", NOW + 60, "ready"),
        ("pr-8", NOW + 120, "ready"),
    ]
    assert found[0].url == f"https://pilot-acme-api--pr-7-123456789012.{REGION}.run.app"
    assert len([c for c in fake.calls if c.url == SERVICES]) == 6  # one per page


def test_an_expiry_label_far_past_the_ttl_is_not_believed(fake):
    """Whoever may deploy a preview may write its labels: an expiry more than a day past
    the TTL after its last change is held to that change plus the TTL."""
    changed = NOW - 3600
    fake.put("pilot-acme-api--pr-7", preview_labels("api", "pr-7", 4_102_444_800), changed)
    fake.put("pilot-acme-api--pr-8", preview_labels("api", "pr-8", changed + TTL + 3600), changed)
    found = {p.name: p.expires for p in service(fake).previews(ttl=TTL)}
    assert found == {"pr-7": changed + TTL, "pr-8": changed + TTL + 3600}


def test_no_deploy_changes_another_projects_service_or_another_apps_preview(fake):
    fake.put("pilot-acme-api--pr-7", preview_labels("web", "pr-7", NOW))
    with pytest.raises(TargetError, match="is a preview of 'web', not of 'api'"):
        service(fake, "api--pr-7", Preview("api", "pr-7", NOW)).deploy("i", {}, "v1", print)
    fake.put("pilot-acme-api", own(project="acme-old"))
    neighbour = r"belongs to project 'acme-old' \(its pilot-project label\), not 'acme'"
    with pytest.raises(TargetError, match=neighbour):
        service(fake).deploy("i", {}, "v1", print)
    assert not [c for c in fake.calls if c.method in ("POST", "PATCH", "DELETE")]


# -- the target, as the engine and the CLI use it ------------------------------------------
APP = AppSettings(
    name="api",
    path="api",
    secrets=["TOKEN"],
    env={"MODE": "live"},
    previews=PreviewSettings(env={"MODE": "preview"}),
    target=CloudRunTarget(),
)


@pytest.fixture
def ctx(tmp_path, fake, monkeypatch) -> ProjectContext:
    from pilot_tui.cloud import clients

    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: fake)
    monkeypatch.setattr(cr, "CloudRunService", _quick(cr.CloudRunService))
    config = SimpleNamespace(
        server=SimpleNamespace(home="gcp"),
        project=SimpleNamespace(name="acme"),
        gcp=SimpleNamespace(project="acme-prod", region=REGION, credentials=None),
        apps=[APP],
    )
    return ProjectContext(config, tmp_path / ".pilot", tmp_path)  # type: ignore[arg-type]


def _quick(cls):
    """The service class, its operations polled without a pause."""

    def make(*args, **kwargs):
        return cls(*args, **{**kwargs, "interval": 0})

    return make


def test_the_target_lists_runs_and_removes_previews_and_the_apps_destroy_takes_them(
    fake, ctx, monkeypatch
):
    kind = target_for(APP)
    assert isinstance(kind, CloudRun) and kind.previews_refused is None
    fake.put("pilot-acme-api", own())
    fake.put("pilot-acme-api--pr-7", preview_labels("api", "pr-7", NOW))
    fake.put("pilot-acme-api--pr-8", preview_labels("api", "pr-8", NOW))
    assert [p.name for p in kind.previews(ctx)] == ["pr-7", "pr-8"]
    seven = kind.preview(Preview("api", "pr-7", NOW))
    assert isinstance(seven, CloudRunPreview) and seven.app.name == "api--pr-7"
    assert seven.app.env == {"MODE": "preview"}  # previews.env over the app's
    assert seven.runs_now(ctx)
    assert seven.destroy(ctx, print) == [
        "deleted Cloud Run service pilot-acme-api--pr-7 and its revisions"
    ]
    assert not seven.runs_now(ctx) and "pilot-acme-api" in fake.services
    # the app's own destroy: its previews' services first, then its own, no image left
    monkeypatch.setattr(CloudRun, "delete_images", lambda self, ctx: None)
    assert kind.destroy(ctx, print) == [
        "deleted Cloud Run service pilot-acme-api--pr-8 and its revisions",
        "deleted Cloud Run service pilot-acme-api and its revisions",
    ]
    assert fake.services == {}


def test_a_previews_secrets_come_from_the_previews_file_only(fake, ctx):
    """A preview's env: the previews' env over the app's, and its secrets from the
    previews' own file only (never the app's); one missing is left unset, and said."""
    from pilot_tui.deploy import secrets

    said: list[str] = []
    log = SimpleNamespace(line=lambda stage, app: said.append)
    own_file = secrets.secrets_file(ctx.state_dir, "api")
    own_file.parent.mkdir(parents=True)
    own_file.write_text("TOKEN=production-value\n")
    own_file.chmod(0o600)
    preview = target_for(APP).preview(Preview("api", "pr-7", NOW))
    env = preview.environment(ctx, log)  # type: ignore[arg-type]
    assert env == {"MODE": "preview"} and "TOKEN left unset" in said[0]
    path = secrets.secrets_file(ctx.state_dir, "api", preview=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("TOKEN=s3cret\n")
    path.chmod(0o600)
    assert preview.environment(ctx, log) == {"MODE": "preview", "TOKEN": "s3cret"}  # type: ignore[arg-type]
    assert preview.open(ctx).secrets.secret_for("TOKEN") == "pilot-acme-api-preview_token"


class RunAndSecrets(FakeRunServices):
    """FakeRunServices with Secret Manager: the secrets' calls go to FakeSecretManager
    (the Cloud Run secrets' recording fake), the rest to the services."""

    def __init__(self) -> None:
        from tests.unit.deploy.test_cloud_run_secrets import FakeSecretManager

        super().__init__()
        self.manager = FakeSecretManager()

    def __call__(self, request: ApiRequest) -> dict:
        if request.url.startswith("https://secretmanager.googleapis.com/"):
            self.calls.append(request)
            return self.manager(request)
        return super().__call__(request)


def test_a_previews_secrets_go_to_its_apps_previews_secrets_never_its_env(tmp_path):
    """A preview's secret value goes into the app's previews' Secret Manager secret, which
    setup made and only the previews' account may read; the service's env names a pinned
    version of it. The app's own secret is never read or written. The app's previews share
    it (the same value adds no version), a preview's removal leaves it, the app's takes it."""
    from tests.unit.deploy.test_cloud_run_secrets import assert_value_only_in_secret_manager

    fake = RunAndSecrets()
    shared, own = "pilot-acme-api-preview_token", "pilot-acme-api-token"
    labels = {"pilot-project": "acme", "pilot-app": "api"}
    reader = {"role": "roles/secretmanager.secretAccessor"}
    fake.manager.secrets[shared] = {  # as setup makes it
        "labels": labels,
        "versions": [],
        "disabled": False,
        "policy": {"bindings": [{**reader, "members": [f"serviceAccount:{PREVIEWS_ACCOUNT}"]}]},
    }
    fake.manager.secrets[own] = {
        "labels": labels,
        "versions": ["production-value"],
        "disabled": False,
        "policy": {"bindings": []},
    }

    def preview_of(name: str) -> cr.CloudRunService:
        return cr.CloudRunService(
            fake,
            "acme-prod",
            REGION,
            "acme",
            f"api--{name}",
            SETTINGS,
            interval=0,
            secret_names=("TOKEN",),
            preview=Preview("api", name, NOW + TTL),
        )

    said: list[str] = []
    for name in ("pr-7", "pr-8"):
        env = {"MODE": "p", "TOKEN": "s3cret"}
        preview_of(name).deploy("img@sha256:ab", env, "v1", said.append)
        template = fake.services[f"pilot-acme-api--{name}"]["template"]
        assert template["serviceAccount"] == PREVIEWS_ACCOUNT
        assert template["containers"][0]["env"] == [
            {"name": "MODE", "value": "p"},
            {"name": "TOKEN", "valueSource": {"secretKeyRef": {"secret": shared, "version": "1"}}},
        ]
    assert fake.manager.secrets[shared]["versions"] == ["s3cret"]  # one version, shared
    assert not any(own in c.url for c in fake.calls)  # the app's own: never touched
    assert not any(c.url.endswith(f"{shared}:setIamPolicy") for c in fake.calls)  # readable
    assert_value_only_in_secret_manager(fake, said, "s3cret")  # type: ignore[arg-type]

    preview_of("pr-7").destroy(said.append)
    assert shared in fake.manager.secrets  # pr-8 runs with it
    app = cr.CloudRunService(
        fake, "acme-prod", REGION, "acme", "api", SETTINGS, interval=0, secret_names=("TOKEN",)
    )
    app.destroy(said.append)
    assert shared not in fake.manager.secrets and own not in fake.manager.secrets


def test_a_preview_name_leaves_the_service_name_within_cloud_runs_limit():
    project = "acme-shop"
    app = AppSettings(name="checkout-service", target=CloudRunTarget())
    own = target_for(app).preview_name_limits  # the Cloud Run target's own names
    room = previews.name_room(project, app, [], own(project))
    assert len(f"pilot-{project}-{app.name}--{'x' * room}") == 49  # Cloud Run's limit
    server = AppSettings(name="checkout-service")
    server_room = previews.name_room(
        project, server, [], target_for(server).preview_name_limits(project)
    )
    assert server_room > room  # the Docker host's names may be longer
    # the one answer a deploy and the Apps screen's question both use (review: the screen
    # asked without the Cloud Run service's limit)
    from pilot_tui.config.schema import PilotConfig, ProjectSettings
    from pilot_tui.deploy.engine import preview_room

    config = PilotConfig(project=ProjectSettings(name=project), apps=[app])
    assert preview_room(config, app) == room
    with pytest.raises(PreviewError) as caught:
        previews.name_room("a-long-project-name", app, [], own("a-long-project-name"))
    assert str(caught.value).startswith(
        "no room for a preview name: the Cloud Run service name "
        "pilot-a-long-project-name-checkout-service--NAME must stay within 49 characters"
    )


def test_in_the_sandbox_there_are_none(tmp_path):
    config = SimpleNamespace(server=SimpleNamespace(home="sandbox"))
    ctx = ProjectContext(config, tmp_path, Path(tmp_path))  # type: ignore[arg-type]
    assert target_for(APP).previews(ctx) == []


# -- the commands ------------------------------------------------------------------------
PILOT_TOML = (
    GCP_PROJECT
    + """
[[apps]]
name = "api"
path = "api"

  [apps.target]
  kind = "cloud-run"
"""
)


def test_preview_list_destroy_and_prune_on_cloud_run(tmp_path, cli, fake, monkeypatch):
    """The commands a person and the hourly prune use, on a project on Google Cloud: the
    previews listed with their addresses, one removed by name, the expired one pruned,
    the app's own service never touched."""
    import json
    import time

    from pilot_tui.cloud import clients

    (tmp_path / "pilot.toml").write_text(PILOT_TOML)
    (tmp_path / "api").mkdir()
    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: fake)
    monkeypatch.setattr(cr, "CloudRunService", _quick(cr.CloudRunService))
    now = time.time()
    fake.put("pilot-acme-api", own())
    fake.put("pilot-acme-api--pr-7", preview_labels("api", "pr-7", now + 3600), now)
    fake.put("pilot-acme-api--pr-8", preview_labels("api", "pr-8", now - 60), now - TTL)
    fake.put("pilot-acme-api--old", preview_labels("api", "old", now + 3600), now)

    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    assert [(p["full_name"], p["url"], p["state"]) for p in json.loads(listed.out)] == [
        (f"api--{n}", f"https://pilot-acme-api--{n}-123456789012.{REGION}.run.app", "ready")
        for n in ("old", "pr-7", "pr-8")
    ]
    # a preview's logs are its own; one never made is said to be none, not "no lines yet"
    fake.entries = [
        {
            "timestamp": "2026-12-05T10:00:00Z",
            "textPayload": "GET /login 200",
            "resource": {"labels": {"revision_name": "pilot-acme-api--pr-7-v1"}},
        }
    ]
    logs = cli("logs", "api--pr-7")
    assert logs.code == 0 and "GET /login 200" in logs.out, logs.err
    asked = [c.body["filter"] for c in fake.calls if "logging" in c.url]
    assert 'resource.labels.service_name="pilot-acme-api--pr-7"' in asked[-1]
    never = cli("logs", "api--nope")
    assert never.code == 2 and "api has no preview 'nope'" in never.err
    gone = cli("preview", "destroy", "api", "old", "--yes")
    assert gone.code == 0, gone.err
    assert "deleted Cloud Run service pilot-acme-api--old" in gone.out + gone.err
    # then its images, in the app's package (the push is stubbed here: none to delete;
    # tests/integration/deploy/test_preview_images.py deletes some)
    looked = [c for c in fake.calls if c.url.endswith("/repositories/pilot-acme/packages/api/tags")]
    assert looked and looked[-1].method == "GET"
    missing = cli("preview", "destroy", "api", "old", "--yes")
    assert missing.code != 0 and "api has no preview 'old'" in missing.err
    pruned = cli("preview", "prune")
    assert pruned.code == 0, pruned.err
    assert sorted(fake.services) == ["pilot-acme-api", "pilot-acme-api--pr-7"]
    assert "pilot-acme-api" not in {
        c.url.rpartition("/")[2] for c in fake.calls if c.method in ("PATCH", "DELETE", "POST")
    }


ENGINE_TOML = (
    GCP_PROJECT
    + """
[[apps]]
name = "web-api"
path = "api"
secrets = ["TOKEN"]

  [apps.target]
  kind = "cloud-run"
  min_instances = 2
"""
)
PREVIEWS_ACCOUNT = "pilot-acme-preview@acme-prod.iam.gserviceaccount.com"


@pytest.fixture
def engine(tmp_path, fake, monkeypatch):
    return make_engine(tmp_path, fake, monkeypatch, ENGINE_TOML)


def make_engine(tmp_path, fake, monkeypatch, pilot_toml: str):
    """The real engine on a project on Google Cloud, Cloud Run being FakeRunServices.
    Stubbed, said plainly: the Docker build (each a new image), the push to Artifact
    Registry (no emulator here) and the deploy lock (held on the Docker host). They are
    the container kinds' shared steps, run for real by tests/integration/deploy (Lambda,
    ECS)."""
    import itertools
    import time

    from pilot_tui.cloud import clients
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.deploy import lock
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.targets import managed_flow

    (tmp_path / "pilot.toml").write_text(pilot_toml)
    (tmp_path / "api").mkdir(exist_ok=True)
    fake.clock = time.time()
    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: fake)
    monkeypatch.setattr(cr, "CloudRunService", _quick(cr.CloudRunService))
    monkeypatch.setattr(managed_flow, "_lock", lambda ctx, name, image_id: None)
    monkeypatch.setattr(lock, "release", lambda client, held: None)
    pushed: list[tuple[str, str]] = []
    builds = itertools.count(1)

    def push(kind, ctx, log, image_id, tag):
        pushed.append((kind.app.name, kind.registry.__qualname__))
        owner = getattr(kind, "owner", kind.app).name
        return f"europe-west1-docker.pkg.dev/acme-prod/pilot-acme/{owner}@sha256:{image_id}"

    def build(self, log, app):
        n = next(builds)
        return f"{n:064x}", f"acme-{app.name}:h{n}"

    monkeypatch.setattr(managed_flow, "_push", push)
    monkeypatch.setattr(Deployer, "build", build)
    config = ProjectFile.load(tmp_path / "pilot.toml").check().config
    assert config is not None
    made = Deployer(object(), None, config, tmp_path / ".pilot", tmp_path, lambda event: None)
    made.pushed = pushed  # type: ignore[attr-defined]
    return made


def test_a_preview_deploys_through_the_engine_as_an_account_with_no_role(engine, fake):
    release = engine.deploy_preview("web-api", "feature/x")
    assert (release.app, release.status) == ("web-api--feature-x", "live")
    service = fake.services["pilot-acme-web-api--feature-x"]
    template = service["template"]
    # not the apps' runtime account, which reads their secrets: one with no role
    assert template["serviceAccount"] == PREVIEWS_ACCOUNT
    assert template["containers"][0]["env"] == []  # TOKEN unset: never the app's value
    # scales to zero: an expired one costs nothing until the server's agent removes it
    assert template["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 2}
    assert engine.pushed == [("web-api--feature-x", "CloudRunPreview.registry")]
    assert [p.full for p in engine.list_previews()] == ["web-api--feature-x"]
    assert fake.touched() == {"pilot-acme-web-api--feature-x"}


def test_a_neighbour_projects_service_of_the_same_name_is_never_removed(engine, fake):
    """Regression (review): project acme's app web-api and project acme-web's app api
    share the name pilot-acme-web-api--z. The deploy was refused, but the failed release
    it recorded made `preview destroy`, the prune and `app destroy` take the neighbour's
    service as this project's and delete it (and the prune stopped at it)."""
    from pilot_tui.deploy.engine import DeployError

    neighbours = preview_labels("api", "z", fake.clock + 3600, project="acme-web")
    fake.put("pilot-acme-web-api--z", neighbours)
    with pytest.raises(DeployError, match="belongs to project 'acme-web'"):
        engine.deploy_preview("web-api", "z")
    said: list[str] = []
    # what is this project's (the failed release's history) goes; the service stays
    removed = engine.destroy_preview("web-api", "z", said.append)
    assert removed == ["removed the release history of web-api--z"]
    assert any("not removed: Cloud Run service pilot-acme-web-api--z belongs to" in s for s in said)
    engine.prune_previews(said.append)
    engine.destroy_previews(engine.config.app("web-api"), said.append)
    assert fake.services["pilot-acme-web-api--z"]["labels"] == neighbours


def test_a_service_being_deployed_or_never_updated_is_listed_as_it_is(fake):
    """Regression (review): a service with no updateTime had its expiry bounded from 1970
    (taken for expired, removed by the next preview deploy); one Cloud Run was still
    rolling out was never "deploying", which previews.max counts apart."""
    fake.put("pilot-acme-api--pr-7", preview_labels("api", "pr-7", NOW + 60))
    del fake.services["pilot-acme-api--pr-7"]["updateTime"]
    fake.put("pilot-acme-api--pr-8", preview_labels("api", "pr-8", NOW + 60))
    fake.services["pilot-acme-api--pr-8"]["reconciling"] = True
    found = {p.name: (p.expires, p.state) for p in service(fake).previews(ttl=TTL)}
    assert found == {"pr-7": (NOW + 60, "ready"), "pr-8": (NOW + 60, "deploying")}


def test_a_project_set_up_before_previews_is_told_to_run_setup_again(engine, fake, monkeypatch):
    """Setup made no previews' account before Cloud Run previews: Cloud Run refuses a
    service that runs as an account that does not exist, and the deploy says what to do."""
    from pilot_tui.deploy.engine import DeployError

    refuse = fake.__call__

    def no_such_account(request: ApiRequest) -> dict:
        if request.method == "POST" and request.url == SERVICES:
            raise ApiError(400, f"Service account {PREVIEWS_ACCOUNT} does not exist.", request)
        return refuse(request)

    from pilot_tui.cloud import clients

    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: no_such_account)
    with pytest.raises(DeployError, match="deployer create --cloud gcp"):
        engine.deploy_preview("web-api", "feature/x")


RACE_TOML = ENGINE_TOML.replace("  min_instances = 2\n", "\n  [apps.previews]\n  max = 2\n")


@pytest.mark.parametrize("first", [True, False])
def test_a_preview_deploy_that_raced_another_to_the_last_place(tmp_path, fake, monkeypatch, first):
    """Two preview deploys each found room for one more (no lock holds a cloud's
    previews): the one whose service was made later removes its own again, the other
    stays. Here the other's service appears while this deploy runs, made a second before
    this one's (``first``) or after."""
    import time

    from pilot_tui.deploy.engine import DeployError

    engine = make_engine(tmp_path, fake, monkeypatch, RACE_TOML)
    now = time.time()
    fake.put("pilot-acme-web-api--old", preview_labels("web-api", "old", now + TTL), now)
    racer_made = fake.clock + (-1 if first else 60)
    real = fake.__call__

    def meanwhile(request: ApiRequest) -> dict:
        made = (request.params or {}).get("serviceId", "")
        if request.method == "POST" and made.endswith("--b"):
            labels = preview_labels("web-api", "a", now + TTL)
            fake.put("pilot-acme-web-api--a", labels, racer_made, racer_made)
        return real(request)

    from pilot_tui.cloud import clients

    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: meanwhile)
    if first:
        with pytest.raises(DeployError) as caught:
            engine.deploy_preview("web-api", "b", now=now)
        assert str(caught.value).startswith(
            "web-api has 2 previews already: a was made at the same time and first, so b "
            "was removed again (previews.max = 2)"
        )
        assert "pilot-acme-web-api--b" not in fake.services
        assert not history.history_file(engine.state_dir, "web-api--b").exists()
    else:
        assert engine.deploy_preview("web-api", "b", now=now).status == "live"
        assert "pilot-acme-web-api--b" in fake.services
    assert "pilot-acme-web-api--a" in fake.services  # never another deploy's


def test_a_listing_that_fails_after_a_preview_deploy_keeps_it(tmp_path, fake, monkeypatch):
    """(review) The check again of previews.max after a deploy could not list the
    previews: the deployed, recorded preview was reported as a failed deploy."""
    import time

    from pilot_tui.cloud import clients

    engine = make_engine(tmp_path, fake, monkeypatch, RACE_TOML)
    real = fake.__call__

    def no_listing_once_made(request: ApiRequest) -> dict:
        if request.url == SERVICES and request.method == "GET" and fake.services:
            raise ApiError(503, "The service is currently unavailable.", request)
        return real(request)

    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: no_listing_once_made)
    release = engine.deploy_preview("web-api", "b", now=time.time())
    assert release.status == "live" and "pilot-acme-web-api--b" in fake.services
    assert history.live_release(engine.state_dir, "web-api--b") is not None
