"""`pilot-tui server worker`'s refusals before it looks at any bucket (found walking)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("poll", ["nan", "inf", "0", "-1"])
def test_a_poll_that_is_no_number_of_seconds_is_refused(cli, poll):
    assert cli("init").code == 0
    refused = cli("server", "worker", "--poll", poll)
    assert refused.code == 2, refused.err
    assert "the seconds between looks must be a number more than 0" in refused.err


def test_json_is_for_once_and_local_state_has_no_requests(cli):
    assert cli("init").code == 0
    alone = cli("server", "worker", "--json")
    assert alone.code == 2 and "use it with --once" in alone.err
    local = cli("server", "worker", "--once")
    assert local.code == 2 and 'state.backend is "local"' in local.err


def test_a_stopped_sandbox_is_said_not_started_again(cli, tmp_path):
    """Found walking: the worker started the stopped emulators, then failed on their empty
    bucket (NoSuchBucket), and its message named a `sandbox start` that does not exist."""
    assert cli("init").code == 0
    assert cli("config", "set", "state.backend", "s3").code == 0
    stopped = cli("server", "worker", "--once")
    assert stopped.code == 1, stopped.err
    said = "the sandbox is stopped, and its state bucket with it: pilot-tui server up"
    assert said in stopped.err
    assert not (tmp_path / ".pilot" / "sandbox.json").exists()  # nothing was started


def test_on_the_server_it_needs_aws_s3_and_the_servers_address(cli, tmp_path):
    """`--on-server` (the worker's container): refused off AWS or S3 state, and with no
    server record (found reviewing: with none, its apps would be served on 127.0.0.1
    alone, the edge remade there)."""
    assert cli("init").code == 0
    sandbox = cli("server", "worker", "--on-server", "--once")
    assert sandbox.code == 2 and 'it needs server.home = "aws"' in sandbox.err
    for key, value in (("server.home", "aws"), ("state.backend", "s3")):
        assert cli("config", "set", key, value).code == 0
    unrecorded = cli("server", "worker", "--on-server", "--once")
    assert unrecorded.code == 2, unrecorded.err
    assert "records no server (its address names the apps)" in unrecorded.err


def test_no_aws_credentials_is_said_with_where_they_come_from(cli, monkeypatch):
    """Found walking: with no credentials it said "cannot be read: cannot write …", and
    nothing of where credentials come from."""
    import os

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert cli("init").code == 0
    for key, value in (("server.home", "aws"), ("state.backend", "s3")):
        assert cli("config", "set", key, value).code == 0
    ran = cli("server", "worker", "--once")
    assert ran.code == 1, ran.err
    assert "the worker cannot use the state bucket:" in ran.err
    assert "hint: the worker acts with this machine's AWS credentials" in ran.err
