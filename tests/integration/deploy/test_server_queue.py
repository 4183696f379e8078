"""The deploy requests' records in a real S3 API (moto on 127.0.0.1): one worker takes a
request, a run withdraws one nobody took, a late request is never released, events reach
the waiting run in order, old records go."""

from __future__ import annotations

import boto3
import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import server_queue
from pilot_tui.deploy.events import Output, Released, StageStarted
from pilot_tui.deploy.server_queue import Outcome, Queue, QueueError, Request
from pilot_tui.deploy.server_worker import Worker
from pilot_tui.deploy.shared_history import SharedHistory

BUCKET = "pilot-state-acme"


@pytest.fixture
def queue(moto):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return Queue(SharedHistory("s3", BUCKET, s3))


def _request(app: str = "web") -> Request:
    return Request(server_queue.new_id(), app, "r/x@sha256:00", "pilot/acme-web:1", None, "ci", "")


def test_one_worker_takes_a_request_and_a_run_withdraws_only_what_none_took(queue):
    taken, untaken = _request(), _request()
    queue.submit(taken)
    queue.submit(untaken)
    assert [r.id for r, _ in queue.pending()] == sorted([taken.id, untaken.id])
    assert queue.claim(taken.id, "a@host")
    assert not queue.claim(taken.id, "b@host")  # the second worker finds it taken
    assert not queue.withdraw(taken.id, "too late")  # the run cannot take it back now
    assert queue.result(taken.id) is None
    assert queue.withdraw(untaken.id, "no worker took it")
    assert not queue.claim(untaken.id, "a@host")  # withdrawn: never released later
    assert queue.result(untaken.id) == Outcome(False, stage="deploy", message="no worker took it")
    assert queue.pending() == []


def test_a_run_sees_the_events_in_order_and_gives_up_on_a_request_none_takes(queue):
    request = _request()
    queue.submit(request)
    assert queue.claim(request.id, "w")
    made = [
        StageStarted("web", "deploy", "v2"),
        Output("web", "deploy", "healthy"),
        Released("web", "v2", "http://web.localhost/"),
    ]
    queue.write_events(request.id, made)
    queue.finish(request.id, Outcome(True, release={"id": "v2", "app": "web"}))
    shown: list[object] = []
    ended = server_queue.wait(queue, request.id, shown.append, lambda: False, poll=0.01)
    assert shown == made and ended.ok

    lonely = _request()
    queue.submit(lonely)
    with pytest.raises(QueueError, match="no worker took it within 0 s"):
        server_queue.wait(queue, lonely.id, shown.append, lambda: False, poll=0.01, claim_wait=0)
    assert queue.result(lonely.id) is not None  # withdrawn: a worker starting now skips it
    assert queue.pending() == []


def test_a_stopped_run_withdraws_its_request(queue):
    request = _request()
    queue.submit(request)
    with pytest.raises(QueueError, match="withdrawn before a worker took it"):
        server_queue.wait(queue, request.id, lambda e: None, lambda: True, poll=0.01)
    assert not queue.claim(request.id, "w")


def test_a_request_that_waited_too_long_is_refused_not_released(queue, cli, tmp_path):
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    said: list[str] = []
    worker = Worker(pf.path, pf.check().config, queue, lambda e: None, said.append, name="w")
    request = _request()
    queue.submit(request)
    outcome = worker.take(request, server_queue.EXPIRED + 1)
    assert outcome is not None and not outcome.ok and outcome.exit_code == 2
    assert "the request waited 10 min" in outcome.message
    assert queue.result(request.id) == outcome
    assert worker.take(request, 0) is None  # taken already


def test_a_request_for_an_app_or_project_the_worker_does_not_release_is_refused(
    queue, cli, tmp_path
):
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    worker = Worker(pf.path, pf.check().config, queue, lambda e: None, lambda s: None)
    other = pf.with_value("project.name", "other")
    for text, why in (
        ("[project\n", "the pilot.toml of the run's commit is not valid"),
        (other, "the run's pilot.toml is of project 'other'; this worker releases 'acme'"),
        (pf.text, "the run's pilot.toml has no app 'web'"),
    ):
        request = Request(server_queue.new_id(), "web", "r@sha256:0", "t:1", None, "ci", text)
        refused = worker.config_for(request)
        assert isinstance(refused, Outcome) and refused.exit_code == 2
        assert why in refused.message, refused.message


def test_old_records_are_tidied_and_the_heartbeat_kept(queue):
    request = _request()
    queue.submit(request)
    queue.claim(request.id, "w")
    queue.finish(request.id, Outcome(True))
    queue.beat("w")
    assert queue.tidy() == 0  # a week is kept
    assert queue.tidy(older_than=0) == 1
    keys = queue.store.keys(f"{server_queue.PREFIX}/")
    assert keys == [server_queue.WORKER_KEY]
    seen = queue.worker_seen()
    assert seen is not None and (seen.worker, seen.stopped) == ("w", False)
    assert queue.worker_taking() == "w"
    queue.beat("w", stopped=True)
    with pytest.raises(QueueError, match=r"the worker \(w\) was stopped"):
        queue.worker_taking()
