"""Terraform's machine-readable UI (`-json`) as typed events.

Each line of `terraform plan|apply|destroy -json` is one JSON object with a ``type``; the
parser turns the ones Pilot shows into small dataclasses and keeps anything else as
:class:`LogLine`, so a newer Terraform with new message types never breaks a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_loads: Callable[[str], Any]
try:  # a dependency; the standard library's decoder if it cannot be installed somewhere
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is installed wherever the tests run
    from json import loads as _loads


@dataclass(frozen=True, slots=True)
class Version:
    terraform: str
    ui: str


@dataclass(frozen=True, slots=True)
class PlannedChange:
    address: str
    action: str  # create | update | delete | replace | read | noop | move
    resource_type: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    add: int
    change: int
    remove: int
    operation: str  # plan | apply | destroy


@dataclass(frozen=True, slots=True)
class ApplyStart:
    address: str
    action: str


@dataclass(frozen=True, slots=True)
class ApplyProgress:
    address: str
    action: str
    elapsed: int


@dataclass(frozen=True, slots=True)
class ApplyComplete:
    address: str
    action: str
    elapsed: int
    id_value: str = ""


@dataclass(frozen=True, slots=True)
class ApplyErrored:
    address: str
    action: str
    elapsed: int


@dataclass(frozen=True, slots=True)
class RefreshStart:
    address: str


@dataclass(frozen=True, slots=True)
class RefreshComplete:
    address: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str  # error | warning
    summary: str
    detail: str = ""
    address: str = ""
    filename: str = ""
    line: int = 0
    column: int = 0
    snippet: str = ""

    def location(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}" if self.filename else ""


@dataclass(frozen=True, slots=True)
class Outputs:
    """The root module's outputs: an apply's values, or a plan's action for each."""

    values: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)  # a plan's: create|update|noop|...

    def changing(self) -> list[str]:
        """The outputs a plan changes (an apply is needed to record them)."""
        return sorted(name for name, action in self.actions.items() if action != "noop")


@dataclass(frozen=True, slots=True)
class LogLine:
    level: str
    message: str


Event = (
    Version
    | PlannedChange
    | ChangeSummary
    | ApplyStart
    | ApplyProgress
    | ApplyComplete
    | ApplyErrored
    | RefreshStart
    | RefreshComplete
    | Diagnostic
    | Outputs
    | LogLine
)


def _hook(msg: dict[str, Any]) -> dict[str, Any]:
    return msg.get("hook") or {}


def _resource(hook: dict[str, Any]) -> dict[str, Any]:
    return hook.get("resource") or {}


def _version(m: dict[str, Any]) -> Event:
    return Version(m.get("terraform", m.get("tofu", "")), m.get("ui", ""))


def _planned(m: dict[str, Any]) -> Event:
    change = m.get("change") or {}
    res = change.get("resource") or {}
    return PlannedChange(
        res.get("addr", ""),
        change.get("action", ""),
        res.get("resource_type", ""),
        change.get("reason", ""),
    )


def _summary(m: dict[str, Any]) -> Event:
    c = m.get("changes") or {}
    return ChangeSummary(
        c.get("add", 0), c.get("change", 0), c.get("remove", 0), c.get("operation", "")
    )


def _apply_start(m: dict[str, Any]) -> Event:
    h = _hook(m)
    return ApplyStart(_resource(h).get("addr", ""), h.get("action", ""))


def _apply_progress(m: dict[str, Any]) -> Event:
    h = _hook(m)
    return ApplyProgress(
        _resource(h).get("addr", ""), h.get("action", ""), int(h.get("elapsed_seconds", 0))
    )


def _apply_complete(m: dict[str, Any]) -> Event:
    h = _hook(m)
    return ApplyComplete(
        _resource(h).get("addr", ""),
        h.get("action", ""),
        int(h.get("elapsed_seconds", 0)),
        str(h.get("id_value", "") or ""),
    )


def _apply_errored(m: dict[str, Any]) -> Event:
    h = _hook(m)
    return ApplyErrored(
        _resource(h).get("addr", ""), h.get("action", ""), int(h.get("elapsed_seconds", 0))
    )


def _refresh_start(m: dict[str, Any]) -> Event:
    return RefreshStart(_resource(_hook(m)).get("addr", ""))


def _refresh_complete(m: dict[str, Any]) -> Event:
    return RefreshComplete(_resource(_hook(m)).get("addr", ""))


def _diagnostic(m: dict[str, Any]) -> Event:
    d = m.get("diagnostic") or {}
    rng = d.get("range") or {}
    start = rng.get("start") or {}
    snippet = (d.get("snippet") or {}).get("code", "")
    return Diagnostic(
        d.get("severity", m.get("@level", "error")),
        d.get("summary", ""),
        d.get("detail", ""),
        d.get("address", ""),
        rng.get("filename", ""),
        int(start.get("line", 0)),
        int(start.get("column", 0)),
        snippet,
    )


def _drift(m: dict[str, Any]) -> Event:
    # Terraform's own words ("Drift detected (update)") sat next to "No changes" and read
    # like a problem: say what it means. The plan that follows says whether anything is to do.
    change = m.get("change") or {}
    addr = (change.get("resource") or {}).get("addr", "")
    return LogLine(
        "info",
        f"{addr}: reads back differently from Terraform's state (changed "
        "outside Terraform, or by the cloud itself); state refreshed — the "
        "plan below says whether anything needs changing",
    )


def _outputs(m: dict[str, Any]) -> Event:
    raw = m.get("outputs") or {}
    return Outputs(
        {k: (v or {}).get("value") for k, v in raw.items()},
        {k: str(v["action"]) for k, v in raw.items() if isinstance(v, dict) and "action" in v},
    )


_PARSERS = {
    "version": _version,
    "planned_change": _planned,
    "change_summary": _summary,
    "apply_start": _apply_start,
    "apply_progress": _apply_progress,
    "apply_complete": _apply_complete,
    "apply_errored": _apply_errored,
    "refresh_start": _refresh_start,
    "refresh_complete": _refresh_complete,
    "diagnostic": _diagnostic,
    "outputs": _outputs,
    "resource_drift": _drift,
}


def parse_line(line: str) -> Event | None:
    """One `-json` line as an event; plain text (not JSON) becomes a LogLine; blank: None."""
    if line[:1] == "{":  # what Terraform writes: no strip (the decoder skips the newline)
        try:
            msg = _loads(line)
        except ValueError:  # orjson's JSONDecodeError is one too
            return LogLine("info", line.strip())
    else:
        text = line.strip()
        if not text:
            return None
        if text[0] != "{":
            return LogLine("info", text)
        return parse_line(text)
    parser = _PARSERS.get(msg.get("type", ""))
    if parser is not None:
        return parser(msg)
    return LogLine(msg.get("@level", "info"), msg.get("@message", ""))
