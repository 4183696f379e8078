"""The deploy requests' records in a real S3 API (moto on 127.0.0.1): one worker takes a
request, a run withdraws one nobody took, a late request is never released, events reach
the waiting run in order, a worker gone mid-release is said at once, old records go; and
what of a run's pilot.toml the worker takes."""

from __future__ import annotations

import json

import boto3
import pytest

from pilot_tui.apps import add_app
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import server_queue, server_wait
from pilot_tui.deploy.events import Output, Released, StageStarted
from pilot_tui.deploy.server_queue import Outcome, Queue, QueueError, Request
from pilot_tui.deploy.server_worker import Worker
from pilot_tui.deploy.shared_history import SharedHistory

BUCKET = "pilot-state-acme"
WEB = {
    "name": "web",
    "path": "web",
    "build": {"kind": "dockerfile"},
    "target": {"kind": "server"},
    "secrets": ["API_TOKEN"],
}


@pytest.fixture
def queue(moto):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return Queue(SharedHistory("s3", BUCKET, s3))


def _request(app: str = "web", pilot_toml: str = "") -> Request:
    return Request(
        server_queue.new_id(), app, "r/x@sha256:00", "pilot/acme-web:1", None, "ci", pilot_toml
    )


def test_one_worker_takes_a_request_and_a_run_withdraws_only_what_none_took(queue):
    taken, untaken = _request(), _request()
    queue.submit(taken)
    queue.submit(untaken)
    assert [r.id for r in queue.pending()] == sorted([taken.id, untaken.id])
    age = queue.claim(taken.id, "a@host")
    assert age is not None and 0 <= age < 60
    assert queue.claim(taken.id, "b@host") is None  # the second worker finds it taken
    assert not queue.withdraw(taken.id, "too late")  # the run cannot take it back now
    assert queue.result(taken.id) is None and queue.claimer(taken.id) == "a@host"
    assert queue.withdraw(untaken.id, "no worker took it")
    assert queue.claim(untaken.id, "a@host") is None  # withdrawn: never released later
    found = queue.result(untaken.id)
    assert found == Outcome(False, stage="deploy", message="no worker took it")
    assert queue.pending() == []


def test_a_retried_write_finds_its_own_bytes_and_is_not_taken_for_another_writers(queue):
    """Review: a PUT whose answer was lost is retried by boto3, and the retry's 412 read as
    someone else's claim: no one would release the request, the run waiting an hour."""
    key = f"{server_queue.PREFIX}/x.claim.json"
    assert queue._create(key, b'{"worker": "a"}')
    assert queue._create(key, b'{"worker": "a"}')  # the retry: its own bytes, written
    assert not queue._create(key, b'{"worker": "b"}')  # another's: refused
    request = _request()
    queue.submit(request)
    queue.submit(request)  # a submit retried is no error either
    with pytest.raises(QueueError, match="is there already"):
        queue.submit(Request(request.id, "web", "other@sha256:1", "t:1", None, "x", ""))


def test_a_run_sees_the_events_in_order_and_gives_up_on_a_request_none_takes(queue):
    request = _request()
    queue.submit(request)
    assert queue.claim(request.id, "w") is not None
    made = [
        StageStarted("web", "deploy", "v2"),
        Output("web", "deploy", "healthy"),
        Released("web", "v2", "http://web.localhost/"),
    ]
    queue.write_events(request.id, made)
    queue.finish(request.id, Outcome(True, release={"id": "v2", "app": "web"}))
    shown: list[object] = []
    ended = server_wait.wait(queue, request.id, shown.append, lambda: False, poll=0.01)
    assert shown == made and ended.ok

    lonely = _request()
    queue.submit(lonely)
    with pytest.raises(QueueError, match="no worker took it within 0 s"):
        server_wait.wait(queue, lonely.id, shown.append, lambda: False, poll=0.01, claim_wait=0)
    assert queue.result(lonely.id) is not None  # withdrawn: a worker starting now skips it
    assert queue.pending() == []


def test_a_run_is_told_at_once_when_its_worker_stops_during_the_release(queue):
    """Review: a run whose worker died after taking its request waited out the hour."""
    request = _request()
    queue.submit(request)
    queue.beat("w1")
    queue.claim(request.id, "w1")
    queue.beat("w1", stopped=True)  # it stopped (or was killed: its beats stop) meanwhile
    queue.beat("w2")  # another worker beating changes nothing for this request
    with pytest.raises(QueueError, match=r"the deploy worker w1, stopped .* during this release"):
        server_wait.wait(queue, request.id, lambda e: None, lambda: False, poll=0.01, look_every=0)


def test_a_stopped_run_withdraws_its_request(queue):
    request = _request()
    queue.submit(request)
    with pytest.raises(QueueError, match="withdrawn before a worker took it"):
        server_wait.wait(queue, request.id, lambda e: None, lambda: True, poll=0.01)
    assert queue.claim(request.id, "w") is None


def test_a_request_that_waited_too_long_is_refused_not_released(queue, cli, tmp_path):
    assert cli("init", "--name", "acme").code == 0
    said: list[str] = []
    worker = Worker(tmp_path / "pilot.toml", queue, lambda e: None, said.append, name="w")
    request = _request()
    queue.submit(request)
    queue.claim = lambda request_id, name: server_queue.EXPIRED + 1  # claimed that late
    outcome = worker.take(request)
    assert outcome is not None and not outcome.ok and outcome.exit_code == 2
    assert f"the request waited {server_queue.EXPIRED + 1:.0f} s" in outcome.message
    # (walk: 10 minutes, though its run withdraws it or is gone after CLAIM_WAIT)
    assert server_queue.EXPIRED < server_queue.CLAIM_WAIT + 60
    assert queue.result(request.id) == outcome
    assert (outcome.request, outcome.app) == (request.id, "web")  # which one (walk)


def test_what_of_the_runs_pilot_toml_the_worker_takes(queue, cli, tmp_path):
    """The app's table of the run's commit, in this machine's pilot.toml, checked whole; no
    app, project or secret name the worker's own pilot.toml does not have (review: a
    commit listing AWS_SECRET_ACCESS_KEY as a secret got the worker's own key)."""
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    worker = Worker(pf.path, queue, lambda e: None, lambda s: None)
    theirs = add_app(pf.text, {**WEB, "env": {"GREETING": "from-ci"}})
    alone = worker.config_for(_request(pilot_toml=theirs))
    assert isinstance(alone, Outcome) and "has no app 'web'" in alone.message  # not here yet
    pf.save(add_app(pf.text, {**WEB, "env": {"GREETING": "hi"}}))
    taken = worker.config_for(_request(pilot_toml=theirs))
    assert not isinstance(taken, Outcome), taken
    web = taken.app("web")
    assert web is not None and web.env == {"GREETING": "from-ci"}

    keys = add_app(pf.text.split("[[apps]]")[0], {**WEB, "secrets": ["AWS_SECRET_ACCESS_KEY"]})
    named = add_app(
        pf.text.split("[[apps]]")[0], {**WEB, "target": {"kind": "server", "domain": "api.x.io"}}
    )
    other = ProjectFile(pf.path, pf.text).with_value("project.name", "other")
    for text, why in (
        ("[project\n", "the pilot.toml of the run's commit is not valid"),
        (other, "the run's pilot.toml is of project 'other'; this worker releases 'acme'"),
        (pf.text.split("[[apps]]")[0], "the run's pilot.toml has no app 'web'"),
        (keys, "gives web the secret AWS_SECRET_ACCESS_KEY, which this worker's"),
        # review: another app's domain (and its certificate) taken over by a commit
        (named, "gives web the domain api.x.io, and this worker's pilot.toml none"),
    ):
        refused = worker.config_for(_request(pilot_toml=text))
        assert isinstance(refused, Outcome) and refused.exit_code == 2, text
        assert why in refused.message, refused.message
    # review: a request whose pilot.toml is not text stopped the worker with a traceback
    garbled = worker.take(_request(pilot_toml=None))  # type: ignore[arg-type]
    assert garbled is not None and garbled.exit_code == 2
    assert "the pilot.toml of the run's commit is not valid" in garbled.message


def test_old_records_are_tidied_and_each_workers_heartbeat_said(queue):
    request = _request()
    queue.submit(request)
    queue.claim(request.id, "w")
    queue.finish(request.id, Outcome(True))
    queue.beat("w")
    queue.beat("other@host", stopped=True)  # a second worker stopping stops no other
    assert queue.tidy() == 0  # a week is kept
    assert queue.worker_taking().worker == "w"
    assert queue.tidy(older_than=0) == 1
    assert queue.store.keys(f"{server_queue.PREFIX}/") == []  # old heartbeats too
    queue.beat("w", stopped=True)
    with pytest.raises(QueueError, match=r"the deploy worker w, stopped \d+ s ago: start it"):
        queue.worker_taking()


def test_events_before_a_quiet_while_reach_the_run_during_it(queue):
    """Review: an event coming less than a FLUSH after the last write waited for the next
    one, which a watched release may not say for a minute."""
    import time

    from pilot_tui.deploy.server_queue import EventsWriter

    request = _request()
    writer = EventsWriter(queue, request.id)
    try:
        writer.emit(StageStarted("web", "deploy", "v2"))  # written at once
        writer.emit(Released("web", "v2", "http://web.localhost/"))  # within the FLUSH
        deadline = time.monotonic() + 10  # the release says nothing for a while
        while len(queue.events(request.id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [type(e).__name__ for e in queue.events(request.id)] == [
            "StageStarted",
            "Released",
        ]
        assert writer.written == 2  # written by the flusher, before any close
    finally:
        writer.close()


def test_a_worker_stops_when_the_bucket_is_gone(queue, cli, tmp_path):
    """`server destroy` takes the state bucket: the worker says so and stops, instead of
    warning every poll forever."""
    import threading
    import time

    from pilot_tui.deploy.shared_history import NoBucket

    assert cli("init", "--name", "acme").code == 0
    said: list[str] = []
    worker = Worker(tmp_path / "pilot.toml", queue, lambda e: None, said.append, name="w")
    ended: list[BaseException] = []

    def serve() -> None:
        try:
            worker.serve(once=False, poll=0.1, stopped=lambda: False)
        except BaseException as exc:
            ended.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not queue.workers_seen():  # its first beat (the next is BEAT seconds later)
        assert thread.is_alive() and time.monotonic() < deadline, ended
        time.sleep(0.05)
    s3 = queue.store.client
    for key in queue.store.keys(""):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert len(ended) == 1 and isinstance(ended[0], NoBucket), ended


def test_a_run_stopped_by_sigterm_withdraws_its_request(queue):
    """Found walking: a run stopped by SIGTERM (`timeout`, a runner ending the job) left
    its request, and a worker started minutes later released it. SIGTERM now ends the
    wait as Ctrl+C does."""
    import os
    import signal

    request = _request()
    queue.submit(request)

    def terminated(_seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        server_wait.wait(queue, request.id, lambda e: None, lambda: False, sleep=terminated)
    assert queue.claimer(request.id) == ""  # withdrawn: no worker takes it now
    assert signal.getsignal(signal.SIGTERM) is before  # given back


def test_a_stopped_run_withdraws_its_request_on_ctrl_c_too(queue):
    """Review: a CI run cancelled (GitHub sends SIGINT: KeyboardInterrupt) left its request,
    and the worker released the cancelled commit later."""

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    request = _request()
    queue.submit(request)
    with pytest.raises(KeyboardInterrupt):
        server_wait.wait(queue, request.id, lambda e: None, lambda: False, sleep=interrupted)
    assert queue.claimer(request.id) == ""  # withdrawn: no worker takes it now
    assert queue.pending() == []


def test_each_worker_process_has_a_name_of_its_own():
    from pilot_tui.deploy.server_worker import worker_name

    first, second = worker_name(), worker_name()
    assert first != second and first.split("#")[0] == second.split("#")[0]


def test_a_claim_whose_answer_was_lost_is_ended_not_left_for_the_run_to_wait_out(
    queue, cli, tmp_path
):
    """Found on a last read: a claim written whose answer was lost left the request taken
    by no one (no other worker takes a claimed request), and its run waited an hour."""
    from pilot_tui.deploy.shared_history import SharedHistoryError

    assert cli("init", "--name", "acme").code == 0
    worker = Worker(tmp_path / "pilot.toml", queue, lambda e: None, lambda s: None, name="w")
    request = _request()
    queue.submit(request)
    claim = queue.claim

    def written_but_lost(request_id: str, name: str) -> float | None:
        claim(request_id, name)
        raise SharedHistoryError("the answer was lost")

    worker.queue.claim = written_but_lost  # type: ignore[method-assign]
    assert worker.take(request) is None and request.id in worker.unsure
    worker._end_unsure()
    ended = queue.result(request.id)
    assert ended is not None and not ended.ok and "run the deploy again" in ended.message
    assert worker.unsure == set()


def test_whose_request_it_is_is_decided_by_its_key_not_its_words(queue):
    """Review: the previews' role may write a pull request's request keys; one whose JSON
    named a branch's ID (and no preview) was taken as the app's own release. The ID and
    whose it is now come from the key: refused. A branch-style key whose ID says pull
    request is nobody's (its claim would be looked for elsewhere): not listed."""
    from dataclasses import asdict

    from pilot_tui.deploy.server_worker import _not_a_pull_requests

    branch = _request()
    forged = Request(**{**asdict(branch), "pull_request": False})
    key = f"{server_queue.PREFIX}/{server_queue.PREVIEW_ID}x1.{server_queue.PULL_REQUEST_PART}.json"
    queue.store.put_if(key, forged.to_bytes(), "")
    odd = f"{server_queue.PREFIX}/{server_queue.PREVIEW_ID}x2.request.json"
    queue.store.put_if(odd, _request().to_bytes(), "")
    [found] = queue.pending()
    assert found.id == f"{server_queue.PREVIEW_ID}x1" and found.pull_request
    refused = _not_a_pull_requests(found)
    assert refused is not None and "web itself" in refused.message
    # a pull request's request key is none a worker older than previews lists as one
    assert not key.endswith(".request.json")
    assert queue.key(found.id, "request") == key
    made = Request(**{**asdict(branch), "id": server_queue.new_id(preview=True)})
    queue.submit(made)
    assert queue.store.read_stored(queue.key(made.id, "request")) is not None
    assert queue.key(made.id, "request").endswith(f".{server_queue.PULL_REQUEST_PART}.json")


def test_a_pull_requests_preview_keeps_the_workers_own_limits_and_removal_needs_no_commit(
    queue, cli, tmp_path
):
    """Review: a pull request's commit gave its app previews.max = 20 and a TTL of years
    (the worker took its whole app table); the previews' limits are now the worker's.
    A removal (the pull request closed) is decided with the worker's own pilot.toml: a
    commit that changed the domain or a secret since still has its preview removed."""
    import dataclasses

    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, {**WEB, "previews": {"max": 2, "ttl": "24h"}}))
    worker = Worker(pf.path, queue, lambda e: None, lambda s: None)
    greedy = add_app(
        pf.text.split("[[apps]]")[0], {**WEB, "previews": {"max": 20, "ttl": "99999d"}}
    )
    asked = dataclasses.replace(_request(pilot_toml=greedy), preview="pr-7")
    taken = worker.config_for(asked)
    assert not isinstance(taken, Outcome), taken
    web = taken.app("web")
    assert web is not None and (web.previews.max, web.previews.ttl) == (2, "24h")
    renamed = add_app(
        pf.text.split("[[apps]]")[0], {**WEB, "target": {"kind": "server", "domain": "x.io"}}
    )
    removal = dataclasses.replace(_request(pilot_toml=renamed), preview="pr-7", remove=True)
    own = worker.config_for(removal)
    assert not isinstance(own, Outcome), own
    assert worker.config_for(dataclasses.replace(removal, remove=False)).exit_code == 2


def test_another_runs_claim_is_said_at_once_and_a_pull_requests_withdrawal_writes_no_result(
    queue,
):
    """Review: the previews' role could write the claim and result of another pull
    request's request, and block or fake its outcome. It now writes no result (a
    withdrawal leaves the claim alone) and may only create (tests/unit/test_preview_
    policy.py); a claim that no worker wrote, or a withdrawal this run did not make, is
    said at once instead of waited out for an hour."""
    from dataclasses import replace

    def asked() -> Request:
        made = replace(_request(), id=server_queue.new_id(preview=True), preview="pr-7")
        queue.submit(made)
        return made

    soon = {"poll": 0.01, "look_every": 0, "result_wait": 3}  # (the old code waited)
    queue.beat("w1")
    forged = asked()
    assert queue.claim(forged.id, "w1#beef") is not None  # a name no heartbeat has
    with pytest.raises(QueueError, match=r"claimed by 'w1#beef', which is no worker"):
        server_wait.wait(queue, forged.id, lambda e: None, lambda: False, **soon)

    blocked = asked()
    assert queue.withdraw(blocked.id, "another run's")
    assert queue.result(blocked.id) is None  # a pull request's withdrawal: its claim alone
    with pytest.raises(QueueError, match=r"withdrawn, not by this run \(another run's\)"):
        server_wait.wait(queue, blocked.id, lambda e: None, lambda: False, **soon)

    mine = asked()  # the run's own withdrawal is said as before
    with pytest.raises(QueueError, match="no worker took it within 0 s"):
        server_wait.wait(queue, mine.id, lambda e: None, lambda: False, poll=0.01, claim_wait=0)
    assert queue.pending() == []

    # Review: a claim in the name of the live worker (the role reads its heartbeat) left
    # the run waiting its hour; the worker's own claim comes with its events file, which
    # that role may not write.
    named = asked()
    queue.claim(named.id, "w1")
    with pytest.raises(QueueError, match=r"claimed in the name of the worker w1, which wrote"):
        server_wait.wait(queue, named.id, lambda e: None, lambda: False, proof_wait=0, **soon)
    real = asked()
    queue.claim(real.id, "w1")
    queue.write_events(real.id, [])  # (Worker.take: as it claims)
    with pytest.raises(QueueError, match="did not end it in"):  # waited for, not refused
        server_wait.wait(queue, real.id, lambda e: None, lambda: False, proof_wait=0, **soon)

    taken = asked()  # a worker's claim, with its heartbeat: waited for, as before
    queue.claim(taken.id, "w1")
    queue.finish(taken.id, Outcome(True, release={"id": "v3", "app": "web--pr-7"}))
    ended = server_wait.wait(queue, taken.id, lambda e: None, lambda: False, look_every=0)
    assert ended.ok


def test_a_rollback_is_the_branchs_alone_and_asked_only_of_a_worker_that_takes_one(
    queue, cli, tmp_path
):
    """A CI run's rollback of a server app (server_requests.request_rollback): taken with
    the worker's own pilot.toml (a rollback runs with its release's recorded settings, as
    from a machine); refused from a pull request's keys, or of a preview; and asked only
    of a worker that says it takes rollbacks (an older one would take the request for a
    release of no image)."""
    import dataclasses

    from pilot_tui.deploy.server_worker import _not_a_pull_requests

    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, WEB))
    worker = Worker(pf.path, queue, lambda e: None, lambda s: None)
    rollback = dataclasses.replace(_request(pilot_toml="not toml ["), rollback=True)
    own = worker.config_for(rollback)
    assert not isinstance(own, Outcome), own  # the commit's pilot.toml is not read
    assert _not_a_pull_requests(rollback) is None
    for forged in (
        dataclasses.replace(rollback, pull_request=True, preview="pr-7"),
        dataclasses.replace(rollback, preview="pr-7"),
    ):
        refused = _not_a_pull_requests(forged)
        assert refused is not None and "may not roll back" in refused.message, forged

    # A rollback's key is one a worker older than rollbacks never lists (review: it took
    # one for a release of no image); whether a request is a rollback is its key's say.
    made = dataclasses.replace(rollback, id=server_queue.new_id(rollback=True))
    queue.submit(made)
    key = queue.key(made.id, "request")
    assert key.endswith(f".{server_queue.ROLLBACK_PART}.json")
    assert not key.endswith(".request.json")
    plain = dataclasses.replace(rollback, id=server_queue.new_id())  # says rollback, is not
    queue.submit(plain)
    found = {r.id: r for r in queue.pending()}
    assert found[made.id].rollback and not found[plain.id].rollback

    queue.beat("new")
    [seen] = queue.workers_seen()
    assert "rollback" in seen.takes
    older = {"worker": "old", "stopped": False, "arch": ""}  # a heartbeat before rollbacks
    queue.store.put_if(f"{server_queue.WORKERS}/new.json", json.dumps(older).encode(), None)
    [seen] = queue.workers_seen()
    assert seen.takes == ()


def test_requests_are_taken_in_the_order_asked_and_a_rollback_never_undoes_a_later_release(
    queue, cli, tmp_path
):
    """Review: requests were listed by key, so every rollback came after every deploy; a
    rollback asked before a fix was released after it, and its "release before the live
    one" was then the bad one. They are taken in the order asked, and a rollback names the
    live release it was chosen against: a worker that finds another live refuses it."""
    import dataclasses
    import time

    from pilot_tui.deploy import history
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.server_worker import _live_moved

    now = time.time()
    rollback = dataclasses.replace(
        _request(), id=server_queue.new_id(now, rollback=True), rollback=True
    )
    fix = dataclasses.replace(_request(), id=server_queue.new_id(now + 10))
    preview = dataclasses.replace(_request(), id=server_queue.new_id(now + 5, preview=True))
    for made in (fix, preview, rollback):
        queue.submit(made)
    assert [r.id for r in queue.pending()] == [rollback.id, preview.id, fix.id]

    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, WEB))
    config = pf.check().config
    assert config is not None
    state = tmp_path / ".pilot"
    for n, status in ((6, history.SUPERSEDED), (7, history.LIVE)):
        history.record(
            state,
            "web",
            history.Release(f"v{n}", "web", "i", "sha256:0", "2026-12-06T00:00:00Z", status),
        )
    engine = Deployer(None, None, config, state, tmp_path, lambda event: None)
    asked = dataclasses.replace(rollback, rollback_to="v6", live_seen="v7")
    assert _live_moved(engine, asked) is None  # v7 still live: rolled back
    moved = _live_moved(engine, dataclasses.replace(asked, live_seen="v5"))
    assert moved is not None and moved.exit_code == 2
    assert "web's live release is v7 now, not v5 as when the run chose v6" in moved.message


def test_a_run_stopped_while_it_reads_the_bucket_withdraws_its_request_too(queue):
    """Review: the request was withdrawn only for an interrupt during the pause between
    looks; one during a read of the bucket (a good share of the time) left it."""
    request = _request()
    queue.submit(request)
    reads = queue.events

    def interrupted(request_id: str):
        raise KeyboardInterrupt

    queue.events = interrupted
    with pytest.raises(KeyboardInterrupt):
        server_wait.wait(queue, request.id, lambda e: None, lambda: False, poll=0.01)
    queue.events = reads
    assert queue.claimer(request.id) == ""  # withdrawn: no worker takes it now
