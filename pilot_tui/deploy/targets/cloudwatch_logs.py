"""An app's log lines read back from its CloudWatch log group (ECS's and Lambda's): the
newest ``limit`` of them, whatever order the API pages them in."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pilot_tui.cloud.aws_errors import aws_call, code
from pilot_tui.deploy.targets.managed import LogLine

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient


def read_logs(
    client: CloudWatchLogsClient, group: str, since: float | None, limit: int
) -> list[LogLine]:
    """The last ``limit`` lines, oldest first. Without ``since``: the last five minutes,
    else hour, else day, else all that is kept, until enough (each window is read whole,
    page after page: a busy function's tail is in the first, a quiet one's in a later)."""
    now = time.time()
    lines: list[LogLine] | None = []
    windows = [now - 300, now - 3600, now - 86400, None]
    for start in [since] if since is not None else windows:
        lines = _read(client, group, start)
        if lines is None or len(lines) >= limit:  # None: no log group (yet, or any more)
            break
    return lines[-limit:] if lines and limit > 0 else []


def _read(client: CloudWatchLogsClient, group: str, start: float | None) -> list[LogLine] | None:
    from botocore.exceptions import ClientError

    args: dict[str, Any] = {"logGroupName": group}
    if start is not None:
        args["startTime"] = int(start * 1000)
    lines = []
    with aws_call(f"log group {group}"):
        try:
            for page in client.get_paginator("filter_log_events").paginate(**args):
                lines += [
                    LogLine(
                        e["timestamp"] / 1000,
                        str(e["message"]).rstrip("\n"),
                        str(e.get("logStreamName", "")),
                    )
                    for e in page["events"]
                ]
        except ClientError as exc:
            if code(exc) == "ResourceNotFoundException":
                return None
            raise
    return sorted(lines, key=lambda line: line.timestamp)  # stable: stream order kept
