"""Cloud Run previews past their TTL, removed by the agent on the Pilot Server with no
laptop (data/agent/cloud_run.py), and what lets it do that and no more: each preview
deploy's grant on that preview's own service, the agent's settings, and the server
template's role that lists services.

No Cloud Run or metadata service exists here. The agent's module runs for real, in a
process of its own as the server's container runs it, against two local stand-ins on
127.0.0.1:
- FakeRunServices (the recording fake of Cloud Run v2 the previews' tests use), served
  over HTTP;
- a metadata server handing out a token, reached through google-auth's
  GCE_METADATA_HOST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest

from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.data import scheduling
from pilot_tui.data.agent import cloud_run as agent_cloud_run
from pilot_tui.data.agent import run as agent_run
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.targets.cloud_run import service as cr
from pilot_tui.errors import PilotError
from tests.support.local_http import QuietHandler, serving
from tests.support.paths import REPO
from tests.unit.deploy.test_cloud_run_previews import (
    ENGINE_TOML,
    NOW,
    REGION,
    TTL,
    FakeRunServices,
    make_engine,
    own,
    preview_labels,
)

TOKEN = "ya29.stand-in-token"
SERVER = "pilot-acme-srv@acme-prod.iam.gserviceaccount.com"
PRUNER = "projects/acme-prod/roles/pilot_acme_preview_pruner"  # terraform/gcp's
SERVER_GRANT = {"role": PRUNER, "members": [f"serviceAccount:{SERVER}"]}
DAY = 86_400.0


class Stand:
    """What the stand-ins saw: the Cloud Run calls (with their bearer tokens) and the
    metadata server's token requests."""

    def __init__(self, fake: FakeRunServices) -> None:
        self.fake = fake
        self.bearers: list[str] = []
        self.token_asks = 0


def cloud_run_handler(stand: Stand) -> type[QuietHandler]:
    """FakeRunServices over HTTP: each request made the ApiRequest Pilot's own transport
    would send to run.googleapis.com, its answer (or ApiError's status) sent back."""

    class Handler(QuietHandler):
        def _answer(self) -> None:
            stand.bearers.append(self.headers.get("Authorization", ""))
            parts = urlsplit(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size)) if size else None
            request = ApiRequest(
                self.command,
                f"https://run.googleapis.com{parts.path}",
                body,
                dict(parse_qsl(parts.query)) or None,
            )
            try:
                status, answer = 200, stand.fake(request)
            except ApiError as exc:
                status, answer = exc.status, {"error": {"message": exc.api_message}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_DELETE = do_POST = do_PATCH = _answer

    return Handler


def metadata_handler(stand: Stand) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            asked = self.path == "/computeMetadata/v1/instance/service-accounts/default/token"
            if not asked or self.headers.get("Metadata-Flavor") != "Google":
                self.send_response(403)
                self.end_headers()
                return
            stand.token_asks += 1
            data = json.dumps({"access_token": TOKEN, "expires_in": 3599}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def settings_file(
    tmp_path, api: str, ttls: dict[str, float] | None = None, **state: str
) -> os.PathLike[str]:
    """The agent's settings as `server up` + a preview deploy write them, the Cloud Run
    API's root pointed at the stand-in (``state``: the state bucket and GCS's root)."""
    where = agent_cloud_run.CloudRunPreviews(
        "acme-prod", REGION, ttls or {"api": TTL}, api, **state
    )
    path = tmp_path / "agent.json"
    path.write_text(
        json.dumps(
            {"project": "acme", "store": None, "databases": [], "cloud_run": where.to_json()}
        )
    )
    return path


def run_agent(settings, metadata: str, at: float) -> subprocess.CompletedProcess[str]:
    """One look for expired previews, as `python -m pilot_tui.data.agent --prune-previews`
    runs in the agent's container."""
    env = {
        **os.environ,
        "PILOT_AGENT_SETTINGS": str(settings),
        "GCE_METADATA_HOST": metadata.removeprefix("http://"),
        "PYTHONPATH": str(REPO),
    }
    argv = [sys.executable, "-m", "pilot_tui.data.agent", "--prune-previews", "--at", str(at)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def fake() -> FakeRunServices:
    return FakeRunServices()


def test_the_agent_removes_this_projects_expired_previews_and_nothing_else(tmp_path, fake):
    fake.put("pilot-acme-api", own())  # the app's own service
    fake.put("pilot-acme-api--old", preview_labels("api", "old", NOW - 60))
    fake.put("pilot-acme-api--new", preview_labels("api", "new", NOW + 3600))
    # a label's expiry ten years away, on a service last changed five days ago: not believed
    forged = preview_labels("api", "forged", NOW + 3650 * DAY)
    fake.put("pilot-acme-api--forged", forged, updated=NOW - 5 * DAY)
    # a neighbour project's (acme-web's app api: the same service name's start)
    fake.put("pilot-acme-web-api--z", preview_labels("api", "z", NOW - 60, project="acme-web"))
    # an app the agent was not given (taken out of pilot.toml: `app destroy`'s)
    fake.put("pilot-acme-worker--x", preview_labels("worker", "x", NOW - 60))
    # labels claiming a preview, on a service not named as Pilot names that preview
    fake.put("pilot-acme-api-by-hand", preview_labels("api", "other", NOW - 60))
    etags = {name: service["etag"] for name, service in fake.services.items()}
    stand = Stand(fake)
    with serving(cloud_run_handler(stand)) as api, serving(metadata_handler(stand)) as meta:
        done = run_agent(settings_file(tmp_path, f"{api}/v2/"), meta, NOW)

    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(fake.services) == [
        "pilot-acme-api",
        "pilot-acme-api--new",
        "pilot-acme-api-by-hand",
        "pilot-acme-web-api--z",
        "pilot-acme-worker--x",
    ]
    deletes = [c for c in fake.calls if c.method == "DELETE"]
    # each delete names the etag its listing saw: a preview deployed again meanwhile stays
    assert sorted((c.url.rpartition("/")[2], c.params) for c in deletes) == [
        ("pilot-acme-api--forged", {"etag": etags["pilot-acme-api--forged"]}),
        ("pilot-acme-api--old", {"etag": etags["pilot-acme-api--old"]}),
    ]
    assert "removed the Cloud Run preview api--old: its TTL ran out" in done.stdout
    # every call as the server's account, its token asked once of the metadata service
    assert stand.bearers and set(stand.bearers) == {f"Bearer {TOKEN}"}
    assert stand.token_asks == 1
    assert TOKEN not in done.stdout + done.stderr


def test_a_listing_the_server_may_not_make_fails_the_look_and_says_why(tmp_path, fake):
    def refuse(request: ApiRequest) -> dict:
        raise ApiError(403, "Permission 'run.services.list' denied on resource", request)

    stand = Stand(fake)
    stand.fake = refuse  # type: ignore[assignment]
    with serving(cloud_run_handler(stand)) as api, serving(metadata_handler(stand)) as meta:
        done = run_agent(settings_file(tmp_path, f"{api}/v2/"), meta, NOW)
    assert done.returncode == 1
    assert "Cloud Run previews: GET" in done.stdout
    assert "HTTP 403: Permission 'run.services.list' denied" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_no_metadata_service_is_said_as_no_credentials(tmp_path, fake):
    stand = Stand(fake)
    with serving(cloud_run_handler(stand)) as api:
        done = run_agent(settings_file(tmp_path, f"{api}/v2/"), "http://127.0.0.1:9", NOW)
    assert done.returncode == 1
    assert "Cloud Run previews: no Google credentials" in done.stdout
    assert stand.bearers == []  # nothing was asked without a token


def test_a_preview_changed_since_the_listing_or_not_the_servers_to_remove_is_kept(fake):
    """Between the listing and the delete a laptop deploys one preview again (a new etag:
    Cloud Run refuses the delete), another was made before previews granted the server
    anything (403), a third Cloud Run fails to remove (500): each is kept and said, the
    rest are removed, and the look fails naming the one that failed (regression, review:
    one failing preview stopped every one listed after it, minute after minute)."""
    for name in ("again", "broken", "older", "gone"):
        fake.put(f"pilot-acme-api--{name}", preview_labels("api", name, NOW - 60))

    def send(request: ApiRequest) -> dict:
        name = request.url.rpartition("/")[2]
        if request.method == "DELETE" and name == "pilot-acme-api--again":
            fake.services[name]["etag"] = '"deployed-again"'
        if request.method == "DELETE" and name == "pilot-acme-api--older":
            raise ApiError(403, "Permission 'run.services.delete' denied", request)
        if request.method == "DELETE" and name == "pilot-acme-api--broken":
            raise ApiError(500, "Internal error", request)
        return fake(request)

    said: list[str] = []
    where = agent_cloud_run.CloudRunPreviews("acme-prod", REGION, {"api": TTL})
    with pytest.raises(PilotError, match=r"could not remove api--broken: HTTP 500"):
        agent_cloud_run.prune(where, "acme", NOW, said.append, send)
    assert "removed the Cloud Run preview api--gone: its TTL ran out" in said
    assert sorted(fake.services) == [
        "pilot-acme-api--again",
        "pilot-acme-api--broken",
        "pilot-acme-api--older",
    ]
    assert "kept the preview api--again: deployed again since it was listed" in said
    assert any(
        line.startswith("may not remove the preview api--older")
        and "`pilot-tui preview prune`" in line
        for line in said
    )


def test_a_preview_whose_deploy_lease_holds_is_kept_until_it_lapses(tmp_path, fake, gcs_client):
    """A preview past its TTL whose deploy is under way (its lease in the state bucket
    holds: a laptop's or a CI run's deploy, its image still building, its service not yet
    changed) is kept and said; one whose lease was given back, or cannot be read, goes;
    once the lease lapses unrenewed (a deploy killed outright) the next look removes it.
    The state bucket is the sandbox's GCS emulator (real), read by the agent's process
    with the server's token, its update times the emulator's clock (this machine's)."""
    import dataclasses
    import time

    from pilot_tui.cloud.sandbox import Sandbox
    from pilot_tui.deploy import lease_rules
    from pilot_tui.deploy.shared_lease import Holding

    now = time.time()
    for name in ("building", "done", "garbled", "none"):
        labels = preview_labels("api", name, now - 60)
        fake.put(f"pilot-acme-api--{name}", labels, updated=now - 3600)
    bucket = gcs_client.create_bucket("pilot-state-acme")
    holding = Holding("ana (ana@example.com)", "preview", now, now, token="t1")
    bucket.blob(lease_rules.key("api--building")).upload_from_string(holding.to_bytes())
    given_back = dataclasses.replace(holding, released=True).to_bytes()
    bucket.blob(lease_rules.key("api--done")).upload_from_string(given_back)
    bucket.blob(lease_rules.key("api--garbled")).upload_from_string(b"{not json")
    storage = Sandbox(tmp_path / "gcs-state").running()["gcs"].url
    stand = Stand(fake)
    with serving(cloud_run_handler(stand)) as api, serving(metadata_handler(stand)) as meta:
        settings = settings_file(
            tmp_path, f"{api}/v2/", state_bucket="pilot-state-acme", storage=storage
        )
        done = run_agent(settings, meta, now + 5)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(fake.services) == ["pilot-acme-api--building"]
        assert "kept the preview api--building: it is being deployed" in done.stdout
        lapsed = run_agent(settings, meta, now + lease_rules.LEASE + 5)
    assert lapsed.returncode == 0, lapsed.stdout + lapsed.stderr
    assert fake.services == {}
    assert "removed the Cloud Run preview api--building: its TTL ran out" in lapsed.stdout


def write_outputs(state_dir, **outputs) -> None:
    """The server's outputs as `server up` records them (its template's, terraform/gcp)."""
    (state_dir / "outputs").mkdir(parents=True, exist_ok=True)
    granted = {"cloud_run_pruner_role": PRUNER} if outputs.get("cloud_run_previews") else {}
    record = {"home": "gcp", "outputs": {"service_account": SERVER, **granted, **outputs}}
    (state_dir / "outputs" / "server.json").write_text(json.dumps(record))


def test_a_preview_deploy_lets_the_server_remove_that_preview_only(tmp_path, fake, monkeypatch):
    engine = make_engine(tmp_path, fake, monkeypatch, ENGINE_TOML)
    write_outputs(engine.state_dir, cloud_run_previews=True)
    engine.deploy_preview("web-api", "feature/x")
    policy = fake.services["pilot-acme-web-api--feature-x"]["policy"]
    assert sorted(policy["bindings"], key=lambda b: b["role"]) == [
        SERVER_GRANT,
        {"role": "roles/run.invoker", "members": ["allUsers"]},
    ]
    # the app's own service: never the server's to remove
    app = engine.config.app("web-api")
    assert cr.open_cloud_run(engine.config, engine.state_dir, tmp_path, app).pruner is None
    # deployed again: the policy is left as it is (nothing to add)
    calls = len(fake.calls)
    engine.deploy_preview("web-api", "feature/x")
    assert not any(c.url.endswith(":setIamPolicy") for c in fake.calls[calls:])


def test_without_the_servers_listing_role_no_preview_names_the_server(tmp_path, fake, monkeypatch):
    """A server made before its template granted the listing (no ``cloud_run_previews``
    output): its agent would never look, so no preview grants it anything."""
    engine = make_engine(tmp_path, fake, monkeypatch, ENGINE_TOML)
    write_outputs(engine.state_dir)
    engine.deploy_preview("web-api", "feature/x")
    policy = fake.services["pilot-acme-web-api--feature-x"]["policy"]
    assert policy["bindings"] == [{"role": "roles/run.invoker", "members": ["allUsers"]}]


def test_the_agents_cloud_run_look_as_data(tmp_path):
    from pilot_tui.config.validate import check_text

    ssh = DockerTarget("ssh", "ssh://ubuntu@host", host="host", remote_socket="/run/docker.sock")
    state_dir = tmp_path / ".pilot"
    config = check_text(ENGINE_TOML).config
    assert config is not None
    # the server not (yet) granted the listing: no look, and no agent for it alone
    write_outputs(state_dir)
    assert scheduling.agent_plan(config, ssh, state_dir) is None
    write_outputs(state_dir, cloud_run_previews=True)
    plan = scheduling.agent_plan(config, ssh, state_dir)
    assert plan is not None and plan.settings["store"] is None
    assert plan.settings["cloud_run"] == {
        "gcp_project": "acme-prod",
        "region": REGION,
        "ttls": {"web-api": TTL},
        "api": "https://run.googleapis.com/v2/",
        "state_bucket": None,  # no GCS state: no lease to read
        "storage": "https://storage.googleapis.com",
    }
    assert scheduling.pruned(plan) == ["Cloud Run previews of web-api"]  # `db schedule`
    written = tmp_path / "agent.json"
    written.write_text(json.dumps(plan.settings))
    loaded = agent_run.load(written)
    assert loaded.cloud_run == agent_cloud_run.CloudRunPreviews(
        "acme-prod", REGION, {"web-api": TTL}
    )
    assert loaded.prunes and loaded.edge is None
    shared = check_text(ENGINE_TOML.replace("[project]", '[state]\nbackend = "gcs"\n\n[project]'))
    assert shared.config is not None, shared
    with_leases = scheduling.agent_plan(shared.config, ssh, state_dir)
    assert with_leases is not None
    assert with_leases.settings["cloud_run"]["state_bucket"] == "pilot-state-acme"
    no_previews = check_text(ENGINE_TOML + "\n  [apps.previews]\n  max = 0\n").config
    assert no_previews is not None
    assert scheduling.agent_plan(no_previews, ssh, state_dir) is None


def test_the_server_template_lists_services_only_when_an_app_runs_cloud_run_previews(tmp_path):
    from pilot_tui.config.validate import check_text
    from pilot_tui.provision.tf.variables import variables

    def granted(text: str) -> object:
        config = check_text(text).config
        assert config is not None
        return variables(config, "gcp", tmp_path, "k", ["127.0.0.1/32"])["cloud_run_previews"]

    assert granted(ENGINE_TOML) is True
    assert granted(ENGINE_TOML + "\n  [apps.previews]\n  max = 0\n") is False
    site = ENGINE_TOML.replace('kind = "cloud-run"\n  min_instances = 2', 'kind = "gcs-cdn"')
    assert granted(site) is False


def test_a_preview_made_by_hand_outside_the_naming_is_no_preview():
    """preview_of, shared by the laptop's listing and the agent's: labels alone never make
    a service a preview; its name must be the one Pilot gives it."""
    from pilot_tui.deploy.targets.cloud_run.listing import preview_of

    fake = FakeRunServices()
    fake.put("pilot-acme-api--pr-1", preview_labels("api", "pr-1", NOW))
    fake.put("pilot-acme-api-x", preview_labels("api", "pr-1", NOW))
    found = preview_of(fake.answer("pilot-acme-api--pr-1"), "acme")
    assert found is not None and (found.app, found.name, found.state) == ("api", "pr-1", "ready")
    assert preview_of(fake.answer("pilot-acme-api-x"), "acme") is None
    assert preview_of(fake.answer("pilot-acme-api--pr-1"), "acme-web") is None
    assert Preview("api", "pr-1", NOW).expired(NOW)


def test_the_agent_says_a_repeated_line_once_an_hour():
    said: list[str] = []
    now = [1000.0]
    hushed = agent_run.Hushed(said.append, clock=lambda: now[0])
    for minute in range(61):
        now[0] = 1000.0 + 60 * minute
        hushed("may not remove the preview api--old")
        hushed(f"removed the Cloud Run preview api--{minute}: its TTL ran out")
    assert said.count("may not remove the preview api--old") == 2  # at 0 and at 60 minutes
    assert len([line for line in said if line.startswith("removed")]) == 61
