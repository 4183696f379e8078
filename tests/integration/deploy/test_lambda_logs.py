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
