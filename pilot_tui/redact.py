"""Remove secrets from text before it reaches a log file or a screen."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS = (
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
               re.S),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    re.compile(r"(?i)((?:password|passwd|secret|token|private_key)\"?\s*[:=]\s*\"?)[^\"\s,}]+"),
)
MASK = "••••••"
# Values known to be secret (an app's secrets, read at deploy time): masked wherever they
# appear, longest first so a value containing another is masked whole.
_KNOWN: set[str] = set()
MIN_KNOWN = 4  # shorter values would mask ordinary words
_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")


def _mask_if_random(match: re.Match[str]) -> str:
    word = match.group(0)
    classes = sum(any(test(c) for c in word) for test in (str.islower, str.isupper, str.isdigit))
    return MASK if classes == 3 or "/" in word or "+" in word else word


def register(values: Iterable[str]) -> None:
    """Mask these exact values from now on, in this process."""
    _KNOWN.update(v for v in values if len(v) >= MIN_KNOWN)


def text(value: str) -> str:
    """``value`` with anything that looks like a secret replaced by a mask."""
    for known in sorted(_KNOWN, key=len, reverse=True):
        if known in value:
            value = value.replace(known, MASK)
    for pattern in _PATTERNS:
        if pattern.groups and pattern.pattern.startswith("(?i)"):
            value = pattern.sub(lambda m: m.group(1) + MASK, value)
        else:
            value = pattern.sub(MASK, value)
    return _SECRET_KEY.sub(_mask_if_random, value)
