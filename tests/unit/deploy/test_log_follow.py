"""Following a cloud kind's logs by polling its target (`logs` for Lambda, ECS, Cloud Run):
the notes said, the lines printed once, a refusal naming the app. The platform is a
recording stand-in here; tests/integration/deploy/test_managed_cli.py reads CloudWatch in
moto through the real Lambda target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.context import Context, ProjectContext
from pilot_tui.deploy.targets.base import LogLine
from pilot_tui.deploy.targets.log_follow import POLL_SECONDS, polled_stream, tail_note
from pilot_tui.errors import PilotError


@dataclass
class Recorded:
    """A target whose platform answers each poll with the next batch (the lines since the
    newest one seen, overlapping by one as CloudWatch's `since` does)."""

    batches: list[list[LogLine] | PilotError]
    kind: ClassVar[str] = "lambda"
    app: AppSettings = field(default_factory=lambda: AppSettings(name="fn"))
    asked: list[tuple[float | None, int]] = field(default_factory=list)

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]:
        self.asked.append((since, limit))
        batch = self.batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return batch


CTX = ProjectContext(PilotConfig(), Path("/nonexistent"), Path("/nonexistent"))


def follow(target: Recorded, *, tail: int, polls: int) -> tuple[list[str], list[str]]:
    said: list[str] = []
    waits: list[float] = []
    lines = polled_stream(target, CTX, said.append, tail=tail, follow=True, wait=waits.append)
    printed = [next(lines) for _ in range(polls)]
    assert all(w == POLL_SECONDS for w in waits)
    return printed, said


def test_new_lines_once_each_and_the_tail_note_after_the_first_batch():
    one, two, three = (LogLine(t, f"line {t}") for t in (1.0, 2.0, 3.0))
    target = Recorded([[one, two], [two, three]])
    printed, said = follow(target, tail=2, polls=3)
    assert printed == [
        "1970-01-01T00:00:01Z line 1.0",
        "1970-01-01T00:00:02Z line 2.0",
        "1970-01-01T00:00:03Z line 3.0",
    ]
    assert said == [tail_note(2)]  # as many as --tail: older ones may exist
    assert target.asked == [(None, 2), (2.0, 2)]  # the second poll starts at the newest seen


def test_no_lines_yet_is_said_once_and_lines_are_masked():
    redact.register(["s3cret-value"])
    target = Recorded([[], [], [LogLine(5.0, "token=s3cret-value")]])
    printed, said = follow(target, tail=100, polls=1)
    assert said == ["fn: no log lines yet on lambda"]
    assert printed == ["1970-01-01T00:00:05Z token=••••••"]


def test_without_follow_one_poll_and_a_refusal_names_the_app():
    target = Recorded([[LogLine(1.0, "only")]])
    lines = polled_stream(target, CTX, print, tail=10, follow=False)
    assert list(lines) == ["1970-01-01T00:00:01Z only"]
    refusing = Recorded([PilotError("the sandbox's emulators are stopped")])
    with pytest.raises(PilotError, match=r"^fn: the sandbox's emulators are stopped$"):
        list(polled_stream(refusing, CTX, print, tail=10, follow=False))
