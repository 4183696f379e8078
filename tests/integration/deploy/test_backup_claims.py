"""Backup IDs claimed in the store, on every store a backup is written to: the CLI's
(local folder, S3 on moto, GCS on the sandbox's GCS emulator, which honours generation
preconditions as GCS does) and the backup agent's own standard-library clients of S3 and
GCS. Two takers starting in one second (the agent's schedule and ``db backup
--on-server``, two teammates) get IDs of their own, never one dump written over the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import boto3
import pytest

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.data import backups
from pilot_tui.data.agent.gcs import AgentGcsStore
from pilot_tui.data.agent.s3 import AgentS3Store
from pilot_tui.data.stores import BackupStore, GcsStore, LocalStore, S3Store

BUCKET = "pilot-claims-test"
NOW = 1_796_000_000.0  # one second for every taker
FIRST = backups.new_id(NOW)


@pytest.fixture(params=["local", "s3", "agent-s3", "gcs", "agent-gcs"])
def store(request, tmp_path) -> Iterator[BackupStore]:
    kind = request.param
    if kind == "local":
        yield LocalStore(tmp_path / "backups")
    elif kind in ("s3", "agent-s3"):
        url = request.getfixturevalue("moto")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        environment = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        yield (
            S3Store(s3, BUCKET)
            if kind == "s3"
            else AgentS3Store(BUCKET, "us-east-1", url, environment)
        )
    else:
        gcs = request.getfixturevalue("gcs_client")
        gcs.create_bucket(BUCKET)
        url = Sandbox(tmp_path / "gcs-state").running()["gcs"].url  # gcs_client's
        yield GcsStore(gcs, BUCKET) if kind == "gcs" else AgentGcsStore(BUCKET, url)


def test_create_makes_a_key_only_where_there_is_none(store):
    assert store.create("main/a.taking", b"first") is True
    assert store.create("main/a.taking", b"second") is False
    assert store.read("main/a.taking") == b"first"  # the loser wrote nothing
    store.delete("main/a.taking")
    assert store.create("main/a.taking", b"third") is True  # let go: free again
    assert store.read("main/a.taking") == b"third"


def test_takers_in_one_second_get_ids_of_their_own_and_let_them_go(store):
    held = backups.claim_id(store, "main", NOW)
    assert held == FIRST
    # Another taker of the same second while the first is under way (nothing but its
    # claim written yet): the next suffix, not the same ID.
    assert backups.claim_id(store, "main", NOW) == f"{FIRST}-2"
    # A finished backup's ID is not given again once its claim is let go.
    store.write(f"main/{FIRST}.json", b"{}")
    store.delete(f"main/{FIRST}.taking")
    assert backups.claim_id(store, "main", NOW) == f"{FIRST}-3"


def test_a_finished_backup_between_listing_and_claim_is_not_taken_over(store, monkeypatch):
    """A taker that listed the store, then stalled while another took, finished and let go
    of this second's ID: its claim succeeds, but the record it reads again says taken."""
    listed = store.keys

    def listed_then_another_finished(folder: str) -> list[str]:
        found = listed(folder)
        store.write(f"{folder}/{FIRST}.dump", b"dump")
        store.write(f"{folder}/{FIRST}.json", b"{}")
        return found

    monkeypatch.setattr(store, "keys", listed_then_another_finished)
    assert backups.claim_id(store, "main", NOW) == f"{FIRST}-2"
    assert store.read(f"main/{FIRST}.taking") is None  # its claim, let go again


def test_many_takers_racing_in_one_second_each_get_their_own(store):
    takers = 6
    start = threading.Barrier(takers)
    got: list[str] = []
    errors: list[BaseException] = []

    def take(claim: Callable[[], str] = lambda: backups.claim_id(store, "main", NOW)) -> None:
        start.wait()
        try:
            got.append(claim())
        except BaseException as exc:  # said below, with the others' IDs
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(got) == sorted([FIRST] + [f"{FIRST}-{n}" for n in range(2, takers + 1)])
