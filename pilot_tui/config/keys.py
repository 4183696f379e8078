"""Dotted keys as people type them: ``aws.region``, ``apps.api.env.LOG_LEVEL``, ``apps[0].name``.

An app can be named by its ``name`` (``apps.api``) or by its position (``apps[0]``).
"""

from __future__ import annotations

import re
from typing import Any

from pilot_tui.config.locate import Path
from pilot_tui.config.problems import did_you_mean
from pilot_tui.errors import EXIT_INVALID, PilotError

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)|\[(\d+)\])\s*')


class KeyError_(PilotError, ValueError):
    """A dotted key that cannot be parsed or does not resolve; the message says why."""

    exit_code = EXIT_INVALID
    title = "No such key"


def parse_key(key: str) -> list[str | int]:
    """Split a dotted key into parts; ``[n]`` becomes an int."""
    parts: list[str | int] = []
    pos = 0
    expect_part = True
    while pos < len(key):
        if not expect_part:
            if key[pos] == ".":
                pos += 1
                expect_part = True
                continue
            if key[pos] != "[":
                raise KeyError_(f'cannot read key "{key}" at "{key[pos:]}"')
        match = _TOKEN.match(key, pos)
        if not match or match.end() == pos:
            raise KeyError_(f'cannot read key "{key}" at "{key[pos:]}"')
        basic, literal, bare, index = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(basic if basic is not None else literal if literal is not None else bare)
        pos = match.end()
        expect_part = False
    if expect_part or not parts:
        raise KeyError_(f'"{key}" is not a key; write it like aws.region or apps.api.target.kind')
    return parts


def resolve_apps(parts: list[str | int], data: dict[str, Any]) -> Path:
    """Replace an app's (or a database's) name after ``apps`` (``databases``) with its index
    in the file."""
    if len(parts) >= 2 and parts[0] in NAMED_LISTS and isinstance(parts[1], str):
        table, noun = parts[0], NAMED_LISTS[parts[0]]
        entries = data.get(table, [])
        names = (
            [a.get("name") for a in entries if isinstance(a, dict)]
            if isinstance(entries, list)
            else []
        )
        if parts[1] not in names:
            known = [n for n in names if isinstance(n, str)]
            # (worded as every command's unknown app: config.schema.PilotConfig.no_app)
            listing = f" ({table}: {', '.join(known) or 'none yet'})"
            raise KeyError_(
                f'no {noun} "{parts[1]}" in pilot.toml{did_you_mean(parts[1], known)}{listing}'
            )
        return (table, names.index(parts[1]), *parts[2:])
    return tuple(parts)


NAMED_LISTS = {"apps": "app", "databases": "database"}  # [[tables]] whose entries have a name


def lookup(data: object, path: Path) -> Any:
    """The value at ``path``; KeyError_ names the first part that is missing."""
    node = data
    for n, part in enumerate(path):
        shown = ".".join(str(p) for p in path[: n + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise KeyError_(f"{shown}: there is no item {part} here")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise KeyError_(f"{shown}: the value above it is not a table")
            if part not in node:
                raise KeyError_(f"{shown}: no such key{did_you_mean(part, node)}")
            node = node[part]
    return node
