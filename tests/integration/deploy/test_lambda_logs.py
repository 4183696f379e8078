"""A Lambda's log lines read back from CloudWatch (the local AWS API; nothing is invoked,
so no Docker is needed: the lines Lambda would write are put by hand)."""

from __future__ import annotations

import time

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from tests.integration.deploy.test_lambda_target import function


@pytest.fixture
def aws_url(tmp_path):
    sandbox = Sandbox(tmp_path)
    running, _ = sandbox.ensure()
    yield running["aws"].url
    sandbox.stop()


def test_the_tail_is_the_newest_lines_not_the_first_page(aws_url):
    """Found walking: `pilot-tui logs fn --tail 3` showed the three lines of the first
    deploy. One page of filter_log_events, asked for `limit` events, holds the oldest."""
    fn = function(aws_url)
    assert list(fn.logs(limit=3)) == []  # never invoked: no log group, no error
    fn.logs_client.create_log_group(logGroupName=fn.log_group)
    now = int(time.time() * 1000)
    for stream, first in (("2026/12/06/[$LATEST]a", 0), ("2026/12/06/[7]b", 1)):
        fn.logs_client.create_log_stream(logGroupName=fn.log_group, logStreamName=stream)
        fn.logs_client.put_log_events(
            logGroupName=fn.log_group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now - 20_000 + 1000 * n, "message": f"line {n}\n"}
                for n in range(first, 20, 2)
            ],
        )
    tail = list(fn.logs(limit=3))
    assert [line.text for line in tail] == ["line 17", "line 18", "line 19"]
    assert [line.source for line in tail] == [
        "2026/12/06/[7]b",
        "2026/12/06/[$LATEST]a",
        "2026/12/06/[7]b",
    ]
    since = (now - 20_000 + 15_500) / 1000
    assert [line.text for line in fn.logs(since=since, limit=200)] == [
        f"line {n}" for n in range(16, 20)
    ]


def test_a_sandbox_without_docker_does_not_wait_out_a_watch_it_cannot_make(
    cli, tmp_path, monkeypatch
):
    """Found walking: with no Docker, the sandbox's functions cannot run, so each of a
    watch's 30 looks failed to be made and every deploy waited its whole 60 s (filling the
    function's logs with moto's errors). The look at the release kept is made first: none
    can be made here, so the new one is not watched."""
    import shutil

    from pilot_tui.apps import add_app
    from pilot_tui.config.document import ProjectFile
    from tests.support.deploy_fixtures import FN, LAMBDA_FIXTURES

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    monkeypatch.setenv("API_TOKEN", "not-a-real-token")
    assert cli("init", "--name", "acme").code == 0
    shutil.copytree(LAMBDA_FIXTURES / "hello_fn", tmp_path / "fn")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, FN))
    try:
        first = cli("deploy", "fn")
        assert first.code == 0, first.err
        pf = ProjectFile.load(tmp_path / "pilot.toml")
        pf.save(pf.with_value("apps.fn.env.GREETING", "hey"))
        second = cli("deploy", "fn")
        assert second.code == 0, second.err
        assert "not watched: no look can be made here (the sandbox runs functions in Docker" in (
            second.err
        )
        assert "watching the new release" not in second.err

    finally:
        for emulator in Sandbox(tmp_path / ".pilot").load().values():
            from pilot_tui.runner import pid_alive, stop_pid

            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)


def test_preview_prune_of_every_app_removes_the_others_when_the_host_does_not_answer(
    cli, tmp_path, monkeypatch
):
    """Found walking: `preview prune` (every app) failed outright when one app ran on the
    Docker host and that did not answer; `preview prune fn` worked. Now fn's expired
    previews are still looked for, and the warning names api's, exit 1."""
    import shutil

    from pilot_tui.apps import add_app
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.runner import pid_alive, stop_pid
    from tests.support.deploy_fixtures import FN, LAMBDA_FIXTURES

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    assert cli("init", "--name", "acme").code == 0
    shutil.copytree(LAMBDA_FIXTURES / "hello_fn", tmp_path / "fn")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, FN))
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    made = cli("app", "new", "--path", "api", "--name", "api", "--target", "server", "--yes")
    assert made.code == 0, made.err
    try:
        pruned = cli("preview", "prune")
        assert pruned.code == 1, pruned.err
        assert "warning: the previews of api are not pruned: the sandbox deploys" in pruned.err
        assert "no preview has expired of the others" in pruned.err
        alone = cli("preview", "prune", "api")
        assert alone.code == 1 and "the previews of api could not be pruned" in alone.err
    finally:
        for emulator in Sandbox(tmp_path / ".pilot").load().values():
            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)
