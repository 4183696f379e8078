"""The watch after a Cloud Run release: the service's URL asked for the health path; a
release that fails it target.watch_failures times in a row sends the traffic back to the
revision that served before, by itself.

Stand-ins, said plainly: Cloud Run is FakeRunServices (no emulator exists); the services'
answers come from a local HTTP server on 127.0.0.1 that routes each request to the
revision the fake says its URL reaches (the service's, or the `previous` tag's) and
answers 500 for the revisions a test marks bad, or hangs for the ones it marks hanging.
The engine is the real one (its build, push and lock stubbed: see make_engine)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pilot_tui.deploy import history
from pilot_tui.deploy.engine import DeployError
from pilot_tui.deploy.targets import managed_watch
from pilot_tui.deploy.targets.cloud_run import service as cr
from tests.support.gcp_project import GCP_PROJECT
from tests.support.local_http import QuietHandler, serving
from tests.unit.deploy.test_cloud_run_previews import FakeRunServices, make_engine

WATCHED_TOML = (
    GCP_PROJECT
    + """
[[apps]]
name = "web-api"
path = "api"

  [apps.target]
  kind = "cloud-run"
  health_path = "/healthz"
  watch = 3
  watch_failures = 2
"""
)
V1, V2, V3 = (f"pilot-acme-web-api-v{n}" for n in (1, 2, 3))


class Answers:
    """What each revision answers: 200, 500 when ``bad``, nothing when ``hanging``."""

    def __init__(self, fake: FakeRunServices) -> None:
        self.fake = fake
        self.bad: set[str] = set()
        self.hanging: set[str] = set()
        self.asked: list[tuple[str, str | None]] = []  # (path, the revision reached)


@pytest.fixture
def answers() -> Iterator[Answers]:
    fake = FakeRunServices()
    said = Answers(fake)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            base, _, path = self.path.partition("/healthz")
            revision = fake.revision_at(base)
            said.asked.append((self.path, revision))
            if revision in said.hanging:
                time.sleep(1.0)
            status = 404 if revision is None else 500 if revision in said.bad else 200
            self.send_response(status if path == "" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as url:
        fake.base = f"{url}"
        yield said


@pytest.fixture
def engine(tmp_path, answers, monkeypatch):
    monkeypatch.setattr(managed_watch, "INTERVAL", 0.05)
    return make_engine(tmp_path, answers.fake, monkeypatch, WATCHED_TOML)


def test_a_release_that_fails_its_health_path_is_reverted_by_itself(engine, answers):
    first = engine.deploy("web-api")
    assert (first.id, first.revision) == ("v1", V1)  # nothing before it: not watched
    answers.bad.add(V2)
    with pytest.raises(DeployError) as caught:
        engine.deploy("web-api")
    assert str(caught.value).endswith(
        "v2 was reverted: its health check failed 2 times in a row (last: HTTP 500); "
        "v1 serves again"
    )
    service = answers.fake.services["pilot-acme-web-api"]
    assert cr.live_revision(answers.fake.answer("pilot-acme-web-api")) == V1
    assert service["traffic"] == [{"type": cr.PINNED, "revision": V1, "percent": 100}]
    records = {r.id: r.status for r in history.load(engine.state_dir, "web-api")}
    assert records == {"v1": "live", "v2": "reverted"}
    # the previous revision was asked at its own address before v2 was judged
    assert (f"/tag/pilot-acme-web-api/{cr.PREVIOUS_TAG}/healthz", V1) in answers.asked
    assert ("/svc/pilot-acme-web-api/healthz", V2) in answers.asked


def test_a_healthy_release_stays_and_a_hanging_one_is_a_miss(engine, answers, monkeypatch):
    engine.deploy("web-api")
    started = time.monotonic()
    second = engine.deploy("web-api")
    assert second.status == "live" and time.monotonic() - started >= 3  # watched 3 s
    assert sum(1 for _, revision in answers.asked if revision == V2) > 10
    monkeypatch.setattr(managed_watch, "PROBE_TIMEOUT", 0.3)
    answers.hanging.add(V3)
    with pytest.raises(DeployError, match=r"v3 was reverted: .*\(last: no answer in 0\.3 s\)"):
        engine.deploy("web-api")
    assert cr.live_revision(answers.fake.answer("pilot-acme-web-api")) == V2


def test_a_previous_release_failing_the_same_look_is_not_watched(engine, answers):
    """A health path the app never answers 2xx says nothing of the new release: the
    deploy says so rather than revert every release."""
    engine.deploy("web-api")
    answers.bad.update({V1, V2})
    second = engine.deploy("web-api")
    assert second.status == "live"
    assert cr.live_revision(answers.fake.answer("pilot-acme-web-api")) == V2


def test_no_connection_is_no_verdict():
    """A laptop offline must not revert a good release: no connection, no verdict."""
    look = managed_watch.http_probe("http://127.0.0.1:9/healthz", timeout=1)
    assert look.healthy is None and "could not be reached" in look.detail


def test_the_previous_revisions_own_address_goes_once_the_watch_keeps_a_release(engine, answers):
    """(review) Public, the tagged previous revision kept serving an old release (a
    vulnerable one, perhaps) and an instance warm until the next deploy."""
    engine.deploy("web-api")
    engine.deploy("web-api")
    traffic = answers.fake.services["pilot-acme-web-api"]["traffic"]
    assert traffic == [{"type": cr.LATEST, "percent": 100}]
    assert any(path.startswith("/tag/") for path, _ in answers.asked)  # it was asked first


def test_no_tag_where_cloud_run_would_refuse_it_nor_on_a_preview(answers):
    """(review) Cloud Run refuses a tag whose length and the service name's pass 46: a
    long name's every redeploy failed; a preview, never watched, needs none."""
    from tests.unit.deploy.test_cloud_run_previews import SETTINGS

    fake = answers.fake
    long_app = "a" * (cr.TAGGED_MAX - len("pilot-acme-") - len(cr.PREVIOUS_TAG) + 1)
    service = cr.CloudRunService(fake, "acme-prod", "europe-west1", "acme", long_app, SETTINGS)
    service.interval = 0
    for release in ("v1", "v2"):
        service.deploy("img", {}, release, lambda line: None)
    assert not any(t.get("tag") for t in fake.services[service.name]["traffic"])
    fits = cr.CloudRunService(fake, "acme-prod", "europe-west1", "acme", "api", SETTINGS)
    fits.interval = 0
    for release in ("v1", "v2"):
        fits.deploy("img", {}, release, lambda line: None)
    assert [t.get("tag") for t in fake.services["pilot-acme-api"]["traffic"]] == [
        None,
        cr.PREVIOUS_TAG,
    ]


def test_an_answer_that_is_no_http_is_a_miss_not_a_crash():
    """(review) A garbage status line raised out of the watch, after the release was
    recorded live."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def garbage() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        conn.close()

    threading.Thread(target=garbage, daemon=True).start()
    look = managed_watch.http_probe(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=2)
    listener.close()
    assert look.healthy is False and "no HTTP answer" in look.detail


def test_an_ecs_apps_health_path_is_a_change_a_watched_settings_are_not():
    """(review) ECS makes its load balancer's health check from health_path: a change of
    it alone must deploy; the watch's own settings make no revision."""
    from pilot_tui.config.schema import CloudRunTarget, EcsTarget

    ecs = [managed_watch.without_watch(EcsTarget(health_path=p)) for p in ("/a", "/b")]
    assert ecs[0] != ecs[1]
    assert managed_watch.without_watch(EcsTarget(watch=5)) == EcsTarget()
    run = [managed_watch.without_watch(CloudRunTarget(health_path=p, watch=9)) for p in "/ab"]
    assert run[0] == run[1] == CloudRunTarget()
