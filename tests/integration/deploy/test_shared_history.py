"""Two teammates (two checkouts of one project, each with its own .pilot/) deploy the same
app on one Docker host, or the same static site on S3 + CloudFront, with `state.backend =
"s3"`: the release history travels through the bucket (the local AWS API, moto, reached by
boto3 through AWS_ENDPOINT_URL), so each sees the other's releases and numbering
continues."""

from __future__ import annotations

import json
import shutil

from pilot_tui.cloud.sandbox import free_port
from pilot_tui.config.document import ProjectFile
from tests.conftest import run_pilot
from tests.support.deploy_fixtures import HELLO, get


def checkout(base, name, engine_url, port):
    root = base / name
    root.mkdir()
    assert run_pilot("init", "--name", "team", cwd=root).returncode == 0
    shutil.copytree(HELLO, root / "hello")
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.text
    for key, value in (
        ("server.host", engine_url),
        ("server.home", "host"),
        ("server.http_port", port),
        ("state.backend", "s3"),
        ("server.tls", "off"),
    ):
        text = ProjectFile(pf.path, text).with_value(key, value)
    text += (
        '\n[[apps]]\nname = "hello"\npath = "hello"\n[apps.build]\nkind = "dockerfile"\n'
        '[apps.target]\nkind = "server"\nhealth_path = "/index.html"\n'
        "watch = 0\n"  # not the watch's test: deploys return once live
    )
    pf.save(text)
    return root


def test_teammates_share_one_release_history(
    tmp_path, moto, docker_engine, python_base, edge_image, monkeypatch
):
    monkeypatch.setenv("PILOT_PROXY_IMAGE", edge_image)
    monkeypatch.setenv("API_TOKEN", "unused")
    port = free_port()
    alice = checkout(tmp_path, "alice", docker_engine.url, port)
    bob = checkout(tmp_path, "bob", docker_engine.url, port)
    try:
        first = run_pilot("deploy", "hello", cwd=alice)
        assert first.returncode == 0, first.stderr
        (bob / "hello" / "www" / "index.html").write_text("hello from bob\n")
        second = run_pilot("deploy", "hello", cwd=bob)
        assert second.returncode == 0, second.stderr
        assert "hello\tv2\t" in second.stdout  # numbering continues from alice's v1
        assert get(port) == "hello from bob"
        listed = run_pilot("releases", "hello", "--json", cwd=alice)
        records = json.loads(listed.stdout)
        assert [(r["id"], r["status"]) for r in records] == [("v1", "superseded"), ("v2", "live")]
        back = run_pilot("rollback", "hello", cwd=alice)  # alice rolls back bob's release
        assert back.returncode == 0, back.stderr
        assert get(port) == "hello v1"
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        body = s3.get_object(Bucket="pilot-state-team", Key="pilot/releases/hello.json")
        shared = json.loads(body["Body"].read())
        assert [r["id"] for r in shared] == ["v1", "v2", "v3"]
        assert shared[-1]["note"] == "rollback to v1"
    finally:
        run_pilot("app", "destroy", "hello", "--yes", cwd=alice)
        import docker

        client = docker.DockerClient(base_url=docker_engine.url)
        for container in client.containers.list(all=True, filters={"label": "pilot.project"}):
            container.remove(force=True)
        for container in client.containers.list(all=True, filters={"name": "pilot-proxy"}):
            container.remove(force=True)
        client.close()


def test_teammates_share_one_site_history(tmp_path, moto):
    """A site's deploy read no shared history: bob's release was v1 again, and his history
    replaced alice's in the bucket."""
    sites = []
    for name in ("alice", "bob"):
        root = tmp_path / name
        root.mkdir()
        assert run_pilot("init", "--name", "team", cwd=root).returncode == 0
        (root / "site").mkdir()
        (root / "site" / "index.html").write_text(f"<h1>{name}</h1>\n")
        pf = ProjectFile.load(root / "pilot.toml")
        text = ProjectFile(pf.path, pf.with_value("server.home", "aws")).with_value(
            "state.backend", "s3"
        )
        text += (
            '\n[[apps]]\nname = "docs"\npath = "site"\n'
            '[apps.build]\nkind = "static"\noutput = "."\n'
            '[apps.target]\nkind = "s3-cloudfront"\n'
        )
        pf.save(text)
        sites.append(root)
    alice, bob = sites
    first = run_pilot("deploy", "docs", cwd=alice)
    assert first.returncode == 0, first.stderr
    second = run_pilot("deploy", "docs", cwd=bob)
    assert second.returncode == 0, second.stderr
    assert "docs\tv2\t" in second.stdout  # numbering continues from alice's v1
    listed = run_pilot("releases", "docs", "--json", cwd=alice)
    records = json.loads(listed.stdout)
    assert [(r["id"], r["status"]) for r in records] == [("v1", "superseded"), ("v2", "live")]


def release(id_: str, by: str):
    """A live release of "hello" recorded by ``by``."""
    from pilot_tui.deploy import history

    return history.Release(id_, "hello", "img", "sha256:1", "2026-12-05T12:00:00Z", "live", by=by)


def test_a_record_is_never_written_over_one_made_since_it_was_read(tmp_path, moto):
    """Two writers the deploy lock does not hold apart (a laptop's lock is on the Pilot
    Server, a CI run's on its runner): each pulls the history, both record, and the second
    push is refused (S3's If-Match on the version its pull read) instead of writing over
    the first's record. Against the local AWS API (moto honours S3's conditional writes)."""
    import boto3
    import pytest

    from pilot_tui.deploy import history
    from pilot_tui.deploy.shared_history import (
        SharedHistory,
        SharedHistoryConflict,
        SharedHistoryError,
    )

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="pilot-state-team")

    laptop, runner = tmp_path / "laptop", tmp_path / "runner"
    made: list[str] = []  # a conflict is no missing bucket: nothing is made (review)
    writers = {
        where: SharedHistory("s3", "pilot-state-team", s3, lambda: made.append("bucket"))
        for where in (laptop, runner)
    }
    # none there yet: both read nothing, the first to write wins
    for where, shared in writers.items():
        assert shared.pull(where, "hello") is False
    history.save(laptop, "hello", [release("v1", "laptop")])
    writers[laptop].push(laptop, "hello")
    history.save(runner, "hello", [release("v1", "ci")])
    with pytest.raises(SharedHistoryError, match="changed since this deploy read it") as first:
        writers[runner].push(runner, "hello")
    # both read v1; the laptop records v2 (twice: its own later pushes build on its own)
    for where, shared in writers.items():
        assert shared.pull(where, "hello") is True
    history.save(laptop, "hello", [release("v1", "laptop"), release("v2", "laptop")])
    writers[laptop].push(laptop, "hello")
    writers[laptop].push(laptop, "hello")
    history.save(runner, "hello", [release("v1", "laptop"), release("v2", "ci")])
    with pytest.raises(SharedHistoryConflict, match="`pilot-tui status hello` shows") as caught:
        writers[runner].push(runner, "hello")
    # the refused record is kept beside the local history, which the next pull replaces
    # (one per refusal, each named by its error: the first refusal kept its own)
    kept_files = sorted((runner / "releases").glob("hello.conflict-*.json"))
    assert len(kept_files) == 2
    [kept_file] = [f for f in kept_files if str(f) in str(caught.value)]
    [first_kept] = [f for f in kept_files if str(f) in str(first.value)]
    assert [r["by"] for r in json.loads(first_kept.read_text())] == ["ci"]
    assert [r["by"] for r in json.loads(kept_file.read_text())] == ["laptop", "ci"]
    assert made == []
    kept = json.loads(
        s3.get_object(Bucket="pilot-state-team", Key="pilot/releases/hello.json")["Body"].read()
    )
    assert [(r["id"], r["by"]) for r in kept] == [("v1", "laptop"), ("v2", "laptop")]
    # a retry of one's own write whose answer was lost finds its bytes there: no conflict
    assert writers[runner].pull(runner, "hello") is True
    history.save(
        runner, "hello", [release("v1", "laptop"), release("v2", "laptop"), release("v3", "ci")]
    )
    data = history.history_file(runner, "hello").read_bytes()
    s3.put_object(Bucket="pilot-state-team", Key="pilot/releases/hello.json", Body=data)
    writers[runner].push(runner, "hello")
    # removed since it was read (S3 answers NoSuchKey to If-Match): a conflict too
    s3.delete_object(Bucket="pilot-state-team", Key="pilot/releases/hello.json")
    with pytest.raises(SharedHistoryConflict):
        writers[runner].push(runner, "hello")
    # a history never pulled here (`ci github` sharing this machine's) is written as it is
    SharedHistory("s3", "pilot-state-team", s3).push(runner, "hello")
    assert made == []


def test_two_refusals_in_one_second_keep_both_records(tmp_path, moto):
    """Regression (the stop CI of 3b92244): the kept copy was named by the second alone, so
    a second refused record in the same second replaced the first's on disk. The clock is
    held still so the two refusals share a second. Against the local AWS API."""
    import boto3
    import pytest

    from pilot_tui.deploy import history
    from pilot_tui.deploy.shared_history import SharedHistory, SharedHistoryConflict

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="pilot-state-team")

    laptop, runner = tmp_path / "laptop", tmp_path / "runner"

    def still() -> float:  # the clock held still: the two refusals share a second
        return 1_796_000_000.0

    ours, theirs = (SharedHistory("s3", "pilot-state-team", s3, clock=still) for _ in range(2))
    assert ours.pull(runner, "hello") is False
    assert theirs.pull(laptop, "hello") is False
    history.save(laptop, "hello", [release("v1", "laptop")])
    theirs.push(laptop, "hello")
    refusals = []
    for attempt in ("ci-1", "ci-2"):
        history.save(runner, "hello", [release("v1", attempt)])
        with pytest.raises(SharedHistoryConflict) as caught:
            ours.push(runner, "hello")
        refusals.append(str(caught.value))
    kept = sorted((runner / "releases").glob("hello.conflict-*.json"))
    by_error = {
        attempt: [f for f in kept if str(f) in why]
        for attempt, why in zip(("ci-1", "ci-2"), refusals, strict=True)
    }
    assert len(kept) == 2
    for attempt, [file] in by_error.items():
        assert [r["by"] for r in json.loads(file.read_text())] == [attempt]


def test_a_ci_runs_revert_whose_record_cannot_be_shared_still_says_it_reverted(
    tmp_path, moto, monkeypatch
):
    """Regression (issue 15, left open): in a CI run a watch's revert whose record could not
    reach the state bucket failed as that write alone: the good release's record was never
    written, the notification said "failed", not "reverted", and the message did not say
    which release serves. The real engine, its state bucket the local AWS API's S3 with no
    such bucket (and none to be made, as a run's role may not)."""
    import boto3
    import pytest

    from pilot_tui.config.validate import check_text
    from pilot_tui.deploy import history
    from pilot_tui.deploy.context import DeployError
    from pilot_tui.deploy.engine import Deployer, _RunLog
    from pilot_tui.deploy.shared_history import SharedHistory
    from pilot_tui.deploy.targets.base import reverted

    config = check_text(
        '[project]\nname = "acme"\n\n[[apps]]\nname = "web"\npath = "web"\n\n'
        '  [apps.target]\n  kind = "lambda"\n'
    ).config
    assert config is not None
    state_dir = tmp_path / ".pilot"
    good = history.Release("v1", "web", "img", "sha256:1", "2026-12-05T12:00:00Z", "live")
    bad = history.Release("v2", "web", "img", "sha256:2", "2026-12-05T12:05:00Z", "live")
    history.save(state_dir, "web", [good, bad])
    s3 = boto3.client("s3", region_name="us-east-1")
    engine = Deployer(
        None,
        None,
        config,
        state_dir,
        tmp_path,
        lambda event: None,
        shared=SharedHistory("s3", "pilot-state-gone", s3),
        shared_required=True,
    )
    with _RunLog(engine, "web", "deploy") as log, pytest.raises(DeployError) as caught:
        reverted(engine, log, "web", (bad, good), "health failed 3 times in a row")
    assert caught.value.stage == "watch"  # engine.deploy notifies that stage as "reverted"
    message = str(caught.value)
    assert message.startswith("v2 was reverted: health failed 3 times in a row; v1 serves again")
    assert "not shared" in message and "pilot-state-gone" in message
    records = {r.id: r.status for r in history.load(state_dir, "web")}
    assert records == {"v1": "live", "v2": "reverted"}


def test_a_gcs_history_pulled_is_pushed_over_the_generation_read(gcs_client, tmp_path):
    """Regression: on GCS the generation a pull read was taken from the download's answer
    headers, which the sandbox's GCS emulator does not send: the pull kept "None", and the
    push after it failed (`int("None")`), so a GCS state bucket's history was never
    written again after a first pull. Against the sandbox's GCS emulator."""
    from pilot_tui.deploy import history
    from pilot_tui.deploy.shared_history import SharedHistory

    gcs_client.create_bucket("pilot-state-team")
    laptop = tmp_path / "laptop"
    shared = SharedHistory("gcs", "pilot-state-team", gcs_client)
    assert shared.pull(laptop, "hello") is False
    history.save(laptop, "hello", [release("v1", "laptop")])
    shared.push(laptop, "hello")
    assert shared.pull(laptop, "hello") is True
    history.save(laptop, "hello", [release("v1", "laptop"), release("v2", "laptop")])
    shared.push(laptop, "hello")
    kept = gcs_client.bucket("pilot-state-team").blob("pilot/releases/hello.json")
    assert [r["id"] for r in json.loads(kept.download_as_bytes())] == ["v1", "v2"]
