"""What a deploy reports while it runs: typed stage events and streamed output lines.

Waypoint's lifecycle: build -> push -> deploy -> release. The CLI prints these, the TUI's
deploy viewer renders them, and the run log under .pilot/logs/ keeps them as JSON lines.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STAGES = ("build", "push", "deploy", "release")


@dataclass(frozen=True)
class StageStarted:
    app: str
    stage: str
    detail: str = ""


@dataclass(frozen=True)
class StageFinished:
    app: str
    stage: str
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class StageFailed:
    app: str
    stage: str
    message: str
    logs: tuple[str, ...] = ()  # the new container's last lines, when it is to blame


@dataclass(frozen=True)
class Output:
    """One line from the build or a container, already redacted; a ``warning`` is Pilot's
    own note that something was left out (the CLI shows it even without --verbose)."""

    app: str
    stage: str
    text: str
    warning: bool = False


@dataclass(frozen=True)
class Released:
    app: str
    release: str
    url: str  # what answers; "" when nothing does (a Lambda in the sandbox)
    seconds: float = 0.0
    simulated: str = ""  # the sandbox's made-up address (addresses.py)
    note: str = ""  # a rollback's "rollback to v2" (release_note): what it put back


Event = StageStarted | StageFinished | StageFailed | Output | Released
Emit = Callable[[Event], None]


@dataclass
class Timer:
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 2)


def redacted(event: Event) -> Event:
    """The event with its text masked (a failure's message may quote what the app printed)."""
    from pilot_tui import redact

    changes: dict[str, Any] = {}
    for each in dataclasses.fields(event):
        value = getattr(event, each.name)
        if isinstance(value, str):
            changes[each.name] = redact.text(value)
        elif isinstance(value, tuple):
            changes[each.name] = tuple(redact.text(str(item)) for item in value)
    return dataclasses.replace(event, **changes)


def to_json(event: Event) -> str:
    """One JSON line for the run log: the event's fields plus its type and a timestamp."""
    data = dataclasses.asdict(event)
    data["type"] = type(event).__name__
    data["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps(data)


def describe(event: Event) -> str:
    """How a person reads an event in a terminal or a log pane."""
    if isinstance(event, StageStarted):
        return f"==> {event.app}: {event.stage}{' · ' + event.detail if event.detail else ''}"
    if isinstance(event, StageFinished):
        detail = f": {event.detail}" if event.detail else ""
        return f"    {event.stage} done in {event.seconds:.1f}s{detail}"
    if isinstance(event, StageFailed):
        return f"error: {event.app}: {event.stage} failed: {event.message}"
    if isinstance(event, Released):
        from pilot_tui.deploy.addresses import Address

        where = Address(event.url, event.simulated).at()
        note = f" ({event.note})" if event.note else ""
        return f"==> {event.app}: release {event.release}{note} is live{where}"
    return f"    {event.text}"


def release_note(note: str) -> str:
    """What a Released event says of a release's note: a rollback's (which release it put
    back); a site's "3 files changed; ..." and the like stay in `releases`."""
    return note if note.startswith("rollback to ") else ""
