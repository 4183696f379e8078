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
from tests.support.local_http import QuietHandler, serving
from tests.unit.deploy.test_cloud_run_previews import FakeRunServices, make_engine

WATCHED_TOML = """\
[project]
name = "acme"

[gcp]
project = "acme-prod"
region = "europe-west1"

[server]
home = "gcp"

[[apps]]
name = "web-api"
path = "api"

  [apps.target]
  kind = "cloud-run"
  health_path = "/healthz"
  watch = 3
  watch_failures = 2
"""
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
