"""The one redactor: secrets are removed from text before it reaches a log file, a screen or
a terminal.

By value: every secret value the project holds is masked wherever it appears. They are
loaded once when the project is loaded (deploy.secrets.register_project: every app's
.pilot/secrets/APP.env, the environment's value of each declared secret name, Pilot's own
keys under .pilot/keys, found by ``key_values``),
so a fresh `pilot-tui logs` masks what a deploy would; values read later (a registry token, a
deployer key) are added with ``register``. Each is also masked in the escaped form JSON lines
give it. Names are never masked (`token=$APP_TOKEN` in a Dockerfile stays readable).

By pattern (``text`` only): what looks like a secret in text from other programs (AWS keys,
PEM blocks, passwords in URLs, `token=...`), since a value Pilot never saw can still leak.

The CLI sends everything it prints through ``masked_output``; the core passes outside text
(build and container output, Terraform's, cloud errors) through ``text`` before it is logged
or shown, and the app's log panes through ``values`` again when they display it.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    pass

_PATTERNS = (
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S
    ),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    re.compile(r"(?i)((?:password|passwd|secret|token|private_key)\"?\s*[:=]\s*\"?)[^\"\s,}]+"),
)
MASK = "••••••"
MIN_KNOWN = 4  # shorter values would mask ordinary words
_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\n(.*?)-----END", re.S)
KEY_FIELDS = ("secret_access_key", "private_key", "private_key_id")  # in .pilot/keys/*.json


class Redactor:
    """Known secret values, masked longest first so a value containing another goes whole."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self._ordered: tuple[str, ...] = ()

    def register(self, values: Iterable[str]) -> None:
        added = {form for value in values for form in _forms(value)} - self.known
        if added:
            self.known |= added
            self._ordered = tuple(sorted(self.known, key=len, reverse=True))

    def values(self, value: str) -> str:
        for known in self._ordered:
            if known in value:
                value = value.replace(known, MASK)
        return value


def _forms(value: str) -> set[str]:
    """How a value can appear in output: as is, escaped in a JSON string (ASCII-only or
    not), and line by line when it spans lines (a key printed one line at a time)."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.update(line.strip() for line in value.splitlines())
    return {form for form in forms if len(form) >= MIN_KNOWN}


REDACTOR = Redactor()  # the process's one redactor


def register(values: Iterable[str]) -> None:
    """Mask these exact values from now on, in this process."""
    REDACTOR.register(values)


def values(value: str) -> str:
    """``value`` with every known secret value masked (no patterns: exact, and cheap)."""
    return REDACTOR.values(value)


def clip(value: str, most: int) -> str:
    """``value`` masked (``text``) and, when longer than ``most`` characters, cut at the
    last word that fits, with "…": a message never ends mid-word."""
    value = text(value)
    if len(value) <= most:
        return value
    cut = value[: most - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:(") + "…"


def text(value: str) -> str:
    """``value`` with known secret values, and anything that looks like a secret, masked."""
    value = REDACTOR.values(value)
    for pattern in _PATTERNS:
        if pattern.groups and pattern.pattern.startswith("(?i)"):
            value = pattern.sub(lambda m: m.group(1) + MASK, value)
        else:
            value = pattern.sub(MASK, value)
    return _SECRET_KEY.sub(_mask_if_random, value)


def _mask_if_random(match: re.Match[str]) -> str:
    word = match.group(0)
    classes = sum(any(test(c) for c in word) for test in (str.islower, str.isupper, str.isdigit))
    return MASK if classes == 3 or "/" in word or "+" in word else word


def key_values(keys: Path) -> list[str]:
    """The secret parts of Pilot's key files: PEM private keys' bodies, and the key fields
    of the deployers' JSON key files."""
    found: list[str] = []
    for path in sorted(keys.rglob("*")) if keys.is_dir() else ():
        try:
            if not path.is_file() or path.stat().st_size > 1 << 20:
                continue
            body = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found += [match.group(1) for match in _PEM.finditer(body)]
        if path.suffix == ".json":
            try:
                data = json.loads(body)
            except ValueError:
                continue
            if isinstance(data, dict):
                found += [str(data[field]) for field in KEY_FIELDS if data.get(field)]
    return found


class _MaskedStream:
    """A text stream that masks known secret values in everything written through it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: str) -> int:
        self.stream.write(REDACTOR.values(data))
        return len(data)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> object:  # flush, isatty, fileno, encoding...
        return getattr(self.stream, name)


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Everything printed to stdout and stderr meanwhile goes through the redactor."""
    saved = sys.stdout, sys.stderr
    sys.stdout = _MaskedStream(saved[0])  # type: ignore[assignment]
    sys.stderr = _MaskedStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
