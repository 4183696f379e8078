"""Following an app's log lines by asking its target's `logs` again and again: how the kinds
whose platform keeps the lines (CloudWatch for Lambda and ECS, Cloud Logging for Cloud Run)
implement `Target.stream`, and what the app's log pane polls (deploy.app_logs.Follower).
Every line is redacted before it is returned."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar, Protocol

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy.context import Context, Say
from pilot_tui.deploy.targets.base import LogLine, NoLogs
from pilot_tui.errors import PilotError, framed
from pilot_tui.wording import counted

POLL_SECONDS = 2.0


class Logged(Protocol):
    """What following needs of a Target: its kind, its app and its `logs`."""

    kind: ClassVar[str]
    app: AppSettings

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]: ...


def tail_note(tail: int) -> str:
    """Said when `logs` printed as many lines as --tail allows: there may be older ones."""
    return f"(the last {counted(tail, 'line')} shown; older ones with --tail N)"


class LogPoller:
    """Polls one target's logs; each call returns only the lines not returned before (each
    poll starts at the newest line seen, so the windows overlap by design), redacted."""

    def __init__(self, target: Logged, ctx: Context, *, limit: int = 200) -> None:
        self.target, self.ctx, self.limit = target, ctx, limit
        self.since: float | None = None
        self.seen: set[tuple[float, str, str]] = set()

    def poll(self) -> list[LogLine]:
        lines = [
            LogLine(line.timestamp, redact.text(line.text), line.source)
            for line in self.target.logs(self.ctx, since=self.since, limit=self.limit)
        ]
        fresh = [
            line for line in lines if (line.timestamp, line.source, line.text) not in self.seen
        ]
        self.seen.update((line.timestamp, line.source, line.text) for line in fresh)
        if lines:
            self.since = max(line.timestamp for line in lines)
        return fresh


def polled_stream(
    target: Logged,
    ctx: Context,
    say: Say,
    *,
    tail: int,
    follow: bool,
    wait: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """`Target.stream` for a kind whose platform keeps the lines: the last ``tail`` of them
    as "TIMESTAMP text", then with ``follow`` a poll every POLL_SECONDS; a refusal of the
    platform names the app."""
    name = target.app.name
    logs = LogPoller(target, ctx, limit=tail)
    first = True
    while True:
        lines = _poll(logs, name)
        for line in lines:
            yield f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(line.timestamp))} {line.text}"
        if first and not lines:
            say(f"{name}: no log lines yet on {target.kind}")
        if first and len(lines) >= tail > 0:
            say(tail_note(tail))
        first = False
        if not follow:
            return
        wait(POLL_SECONDS)


def _poll(logs: LogPoller, name: str) -> list[LogLine]:
    """The next lines; a refusal of the platform names the app (NoLogs names it already)."""
    try:
        return logs.poll()
    except NoLogs:
        raise
    except PilotError:
        with framed(f"{name}: "):
            raise
