"""One deploy of an app at a time wherever it runs (deploy/shared_lease.py): the lease in
the state bucket, against the local AWS API's S3 (moto honours S3's conditional writes,
which the lease is made of) and the sandbox's GCS emulator (which honours generation
preconditions as GCS does once the sandbox starts it: cloud/sandbox_gcs.py)."""

from __future__ import annotations

import json

import boto3
import pytest

from pilot_tui.deploy import shared_lease
from pilot_tui.deploy.shared_history import Changed, SharedHistory
from pilot_tui.deploy.shared_lease import LeaseHeld

BUCKET = "pilot-state-acme"


class Clock:
    """A clock the test moves; sleeping moves it too."""

    def __init__(self, at: float = 1_796_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def store(moto) -> SharedHistory:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    return SharedHistory("s3", BUCKET, s3)


def _held(store: SharedHistory, app: str = "web") -> dict:
    found = store.read_stored(shared_lease.key(app))
    assert found is not None
    return json.loads(found.data)


def test_a_second_deployer_waits_then_is_refused_naming_the_first(store):
    clock = Clock()
    said: list[str] = []
    laptop = shared_lease.take(
        store, "web", "ann (Ann <ann@example.com>)", "deploy", clock=clock, renew_every=3600
    )
    assert _held(store)["holder"] == "ann (Ann <ann@example.com>)"
    with pytest.raises(LeaseHeld) as refused:
        shared_lease.take(
            store,
            "web",
            "GitHub Actions acme/web, workflow 'pilot' run 7",
            "deploy",
            wait=10,
            say=said.append,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(refused.value)
    assert "web is being deployed by ann (Ann <ann@example.com>) (a deploy since" in message
    assert f"s3://{BUCKET}/pilot/locks/web.json" in message and "--break-lock" in message
    assert said == ["waiting for ann (Ann <ann@example.com>)'s deploy of web to finish"]
    # another app, or a preview, is not held by it
    other = shared_lease.take(store, "web--pr-1", "ci", "preview", clock=clock, renew_every=3600)
    other.release()
    laptop.release()
    assert _held(store)["released"] is True
    ci = shared_lease.take(store, "web", "ci", "deploy", clock=clock, renew_every=3600)
    assert _held(store)["holder"] == "ci"
    ci.release()


def test_a_waiting_deployer_takes_it_once_it_is_given_back(store):
    clock = Clock()
    first = shared_lease.take(store, "web", "ann", "deploy", clock=clock, renew_every=3600)

    def sleep(seconds: float) -> None:  # the first deploy finishes while the second waits
        clock.sleep(seconds)
        first.release()

    second = shared_lease.take(
        store, "web", "bob", "rollback", wait=30, clock=clock, sleep=sleep, renew_every=3600
    )
    assert _held(store)["holder"] == "bob" and _held(store)["what"] == "rollback"
    second.release()


def test_a_killed_deploys_lease_lapses_by_the_buckets_clock_and_is_taken_over(store, monkeypatch):
    """Lapsed by the bucket's clock (how long ago S3 says it was written), whatever the
    deployers' own clocks say: ann's runs a day ahead and bob's a day behind. LEASE is cut
    to 2 s here so the test need not wait 5 minutes (S3 says times to the second: a lease
    read just after it was written can be a second old)."""
    import time

    monkeypatch.setattr(shared_lease, "LEASE", 2.0)
    ahead, behind = Clock(time.time() + 86_400), Clock(time.time() - 86_400)
    killed = shared_lease.take(store, "web", "ann", "deploy", clock=ahead, renew_every=3600)
    killed._stop.set()  # its process is gone: it renews no more, gives nothing back
    with pytest.raises(LeaseHeld, match=r"lapses in \d+ s unless it is renewed"):
        shared_lease.take(store, "web", "bob", "deploy", clock=behind)
    time.sleep(3.2)
    said: list[str] = []
    bob = shared_lease.take(store, "web", "bob", "deploy", clock=behind, say=said.append)
    assert said[0].startswith("took over the deploy lock of web: ann's was last renewed ")
    bob.release()


def test_renewals_keep_a_long_deploy_held_and_a_broken_lease_is_said(store):
    clock = Clock()
    said: list[str] = []
    long = shared_lease.take(
        store, "web", "ann", "deploy", clock=clock, say=said.append, renew_every=3600
    )
    for _ in range(10):  # 10 minutes of deploying, renewed each minute
        clock.at += 60
        assert long.renew()
    with pytest.raises(LeaseHeld):
        shared_lease.take(store, "web", "bob", "deploy", clock=clock)
    # `deploy --break-lock` elsewhere: the holder finds out at its next renewal
    assert shared_lease.break_lease(store, "web") is True
    assert shared_lease.break_lease(store, "web") is False  # nothing held any more
    bob = shared_lease.take(store, "web", "bob", "deploy", clock=clock, renew_every=3600)
    assert long.renew() is False
    assert any("was broken or taken over meanwhile" in line for line in said)
    long.release()  # not ours any more: bob's stays
    assert _held(store)["holder"] == "bob" and _held(store)["released"] is False
    bob.release()


def test_the_lease_is_renewed_in_the_background(store):
    lease = shared_lease.take(store, "web", "ann", "deploy", renew_every=0.05)
    first = _held(store)["renewed"]
    import time

    deadline = time.monotonic() + 10
    while _held(store)["renewed"] == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _held(store)["renewed"] > first
    lease.release()
    assert _held(store)["released"] is True


class LostAnswers(SharedHistory):
    """The state bucket whose next ``lose`` writes are made but their answers lost, so the
    SDK's retry of each finds its own write there and is refused (412): a network fault put
    in front of the real store."""

    lose: int = 0

    def put_if(self, key: str, data: bytes, expected: str | None) -> str:
        version = super().put_if(key, data, expected)
        if self.lose:
            self.lose -= 1
            raise Changed(key)
        return version


def test_a_retried_write_that_was_made_is_ours(store):
    """Regression (review): a write made whose answer was lost, retried and refused, was
    taken for another's: the taker refused itself ("web is being deployed by ann", ann
    asking), a renewal dropped the lease and the release left it held."""
    flaky = LostAnswers("s3", BUCKET, store.client)
    flaky.lose = 1
    clock = Clock()
    lease = shared_lease.take(flaky, "web", "ann", "deploy", clock=clock, renew_every=3600)
    clock.at += 60
    flaky.lose = 1
    assert lease.renew() is True and not lease.lost
    flaky.lose = 1
    lease.release()
    assert _held(store)["released"] is True


def test_a_garbled_lease_guards_nothing(store):
    store.put_if(shared_lease.key("web"), b"not json", None)
    lease = shared_lease.take(store, "web", "ann", "deploy", renew_every=3600)
    assert _held(store)["holder"] == "ann"
    lease.release()


def test_a_deploy_from_here_waits_for_a_ci_runs_lease_or_breaks_it(fn_project, cli):
    """A zip Lambda's deploy opens no Docker host, so no lock held it apart from a CI run's
    before: now the state bucket's lease does (the sandbox's local S3 as the state
    bucket; the deploy and the function are real)."""
    import time

    from pilot_tui.cloud.clients import emulator_aws
    from pilot_tui.cloud.sandbox import Sandbox

    assert cli("config", "set", "state.backend", "s3").code == 0
    Sandbox(fn_project / ".pilot").ensure()  # as `server up` leaves them: running
    first = cli("deploy", "fn")
    assert first.code == 0, first.err
    url = Sandbox(fn_project / ".pilot").running()["aws"].url
    s3 = emulator_aws("us-east-1").session.client("s3", endpoint_url=url)
    store = SharedHistory("s3", BUCKET, s3)
    assert _held(store, "fn")["released"] is True  # taken by that deploy, and given back
    assert _held(store, "fn")["what"] == "deploy"

    run = "GitHub Actions acme/fn, workflow 'pilot' run 42 at 0123456789ab"
    ci = shared_lease.take(store, "fn", run, "deploy", renew_every=3600)
    refused = cli("deploy", "fn")
    assert refused.code == 1
    assert f"fn is being deployed by {run} (a deploy since" in refused.err
    assert "--break-lock" in refused.err
    rolled = cli("rollback", "fn")
    assert rolled.code == 1 and f"fn is being deployed by {run}" in rolled.err
    assert [r["id"] for r in json.loads(cli("releases", "fn", "--json").out)] == ["v1"]

    # it finishes while this one waits (--wait): then this one deploys
    def finish_soon() -> None:
        time.sleep(1.5)
        ci.release()

    import threading

    finisher = threading.Thread(target=finish_soon)
    finisher.start()
    waited = cli("deploy", "fn", "--wait", "30", "--force", "--no-watch")
    finisher.join()
    assert waited.code == 0, waited.err
    assert f"waiting for {run}'s deploy of fn to finish" in waited.err

    # a killed run's lease: broken from here, after asking (--yes)
    killed = shared_lease.take(store, "fn", run, "deploy", renew_every=3600)
    killed._stop.set()  # its job was cancelled: it renews no more
    broke = cli("deploy", "fn", "--break-lock", "--yes", "--force", "--no-watch")
    assert broke.code == 0, broke.err
    assert "broke the lock of fn" in broke.err
    assert _held(store, "fn")["released"] is True

    # a preview's deploy takes its own lease; its removal takes that with its history
    preview = cli("deploy", "fn", "--preview", "pr-1", "--no-watch")
    assert preview.code == 0, preview.err
    assert _held(store, "fn--pr-1")["what"] == "preview"
    assert cli("preview", "destroy", "fn", "pr-1", "--yes").code == 0
    assert store.read_stored(shared_lease.key("fn--pr-1")) is None


class InterruptedAfterWriting(SharedHistory):
    """The state bucket whose next write is made and then Ctrl+C arrives before its answer
    does: a KeyboardInterrupt in front of the real store."""

    interrupt: bool = False

    def put_if(self, key: str, data: bytes, expected: str | None) -> str:
        version = super().put_if(key, data, expected)
        if self.interrupt:
            self.interrupt = False
            raise KeyboardInterrupt
        return version


def test_a_take_interrupted_after_its_write_gives_the_lease_back(store):
    """Regression (review): Ctrl+C between the lease's write and its answer left the app
    held for 5 minutes (nothing of this process could give it back)."""
    interrupted = InterruptedAfterWriting("s3", BUCKET, store.client)
    interrupted.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        shared_lease.take(interrupted, "web", "ann", "deploy", renew_every=3600)
    assert _held(store)["released"] is True and _held(store)["holder"] == "ann"
    # and one another taking holds is never given back by it (another token)
    other = shared_lease.take(store, "web", "ann", "deploy", renew_every=3600)
    shared_lease._give_back_if_ours(
        store, "web", shared_lease.Holding("ann", "deploy", 0, 0, token="not-that-one")
    )
    assert _held(store)["released"] is False
    other.release()


def test_the_lease_on_gcs_is_made_held_given_back_and_its_bucket_made(gcs_client):
    """The GCS path against the sandbox's GCS emulator: a missing bucket is made by the
    first take (GCS reads a missing bucket as a missing object), the lease's age comes
    from the object's update time, a second taker is refused while it is held and takes it
    once given back. (Two takers racing: the test below.)"""
    from pilot_tui.provision import backends

    made: list[str] = []

    def make() -> None:
        made.append("bucket")
        backends.ensure_gcs(gcs_client, BUCKET, "US-CENTRAL1")

    store = SharedHistory("gcs", BUCKET, gcs_client, make)
    ann = shared_lease.take(store, "web", "ann", "deploy", renew_every=3600)
    assert made == ["bucket"] and _held(store)["holder"] == "ann"
    stored = store.read_stored(shared_lease.key("web"))
    assert stored is not None and 0 <= stored.age < 60 and stored.version.isdigit()
    with pytest.raises(LeaseHeld, match=r"gcs://"):
        shared_lease.take(store, "web", "bob", "deploy")
    assert ann.renew() is True
    ann.release()
    bob = shared_lease.take(store, "web", "bob", "deploy", renew_every=3600)
    assert _held(store)["holder"] == "bob"
    bob.release()
    assert _held(store)["released"] is True


def test_two_takers_racing_on_gcs_one_wins_and_the_other_is_refused(gcs_client, monkeypatch):
    """Two machines read the lease free at once; the first to write holds it, and the
    second's write, made over the generation it read (none), is refused by GCS (412): it
    looks again and is refused naming the first. Against the sandbox's GCS emulator, whose
    refusal is cloud/sandbox_gcs.py's (the emulator alone let the second write over the
    first: both deployed)."""
    from pilot_tui.provision import backends

    backends.ensure_gcs(gcs_client, BUCKET, "US-CENTRAL1")
    laptop = SharedHistory("gcs", BUCKET, gcs_client)
    runner = SharedHistory("gcs", BUCKET, gcs_client)
    taken: list[shared_lease.Lease] = []
    read = runner.read_stored

    def read_then_lose_the_race(key: str):
        found = read(key)  # free, as the runner sees it ...
        if not taken:  # ... and the laptop takes it before the runner writes
            taken.append(shared_lease.take(laptop, "web", "ann", "deploy", renew_every=3600))
        return found

    monkeypatch.setattr(runner, "read_stored", read_then_lose_the_race)
    with pytest.raises(LeaseHeld, match=r"web is being deployed by ann"):
        shared_lease.take(runner, "web", "ci run 7", "deploy", renew_every=3600)
    assert _held(laptop)["holder"] == "ann"
    assert taken[0].renew() is True  # still the laptop's: nothing wrote over it
    # and a write over a generation since replaced is refused too
    stored = laptop.read_stored(shared_lease.key("web"))
    assert stored is not None
    taken[0].renew()
    with pytest.raises(Changed):
        laptop.put_if(shared_lease.key("web"), b"{}", stored.version)
    taken[0].release()
