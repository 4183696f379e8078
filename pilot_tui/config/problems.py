"""Problems found in a project file, and how they are printed."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from pilot_tui.config.locate import Path

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in pilot.toml, pointing at a key path.

    ``at`` says whether the key itself (unknown key) or its value (wrong value) is at fault;
    ``line``/``col`` are filled in from the file text once all problems are known.
    """

    path: Path
    message: str
    severity: Severity = "error"
    at: Literal["key", "value"] = "value"
    line: int = 0
    col: int = 0
    key: str = ""  # the dotted key as shown to people, e.g. apps.api.target.kind

    def __post_init__(self) -> None:
        # Messages quote values from the file: a CR, LF or NUL in one must not break the
        # one-problem-per-line output (or a terminal), so control characters are escaped.
        object.__setattr__(self, "message", printable(self.message))
        object.__setattr__(self, "key", printable(self.key))

    def placed(self, line: int, col: int, key: str) -> Problem:
        return replace(self, line=line, col=col, key=key)


@dataclass
class Report:
    """All problems of one project file, in file order."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """``FILE:LINE:COL: dotted.key: message`` for each problem."""
        out = []
        for p in self.problems:
            prefix = "warning: " if p.severity == "warning" else ""
            out.append(f"{self.file}:{p.line}:{p.col}: {p.key}: {prefix}{p.message}")
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "file": self.file,
                "valid": self.ok,
                "problems": [
                    {
                        "line": p.line,
                        "column": p.col,
                        "key": p.key,
                        "severity": p.severity,
                        "message": p.message,
                    }
                    for p in self.problems
                ],
            },
            indent=2,
        )


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (\\r, \\n, \\x00)."""
    return CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest candidate, or an empty string."""
    pool = list(candidates)
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f' (did you mean "{matches[0]}"?)' if matches else ""


def quote_list(items: Iterable[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)
