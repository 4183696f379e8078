"""Apps: add an [[apps]] table to pilot.toml (what a source folder is: deploy/build/stack.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pilot_tui.config.starter import project_name_from


def suggested_name(folder: Path, taken: set[str]) -> str:
    base = project_name_from(folder.resolve().name)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def parse_env(text: str) -> dict[str, str]:
    """`KEY=value, OTHER=x` as typed in a form (values may not contain commas)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f'"{part}" is not KEY=value')
        out[key.strip()] = value.strip()
    return out


def parse_names(text: str) -> list[str]:
    return [n for n in re.split(r"[,\s]+", text) if n]


def add_app(text: str, app: dict[str, Any]) -> str:
    """``text`` with a new [[apps]] table at the end; everything already there is kept."""
    return add_entry(text, "apps", app)


def add_entry(text: str, array: str, entry: dict[str, Any]) -> str:
    """``text`` with a new ``[[array]]`` table (an app, a database) at the end; everything
    already there is kept, comments too."""
    import tomlkit

    doc = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in entry.items():
        if isinstance(value, dict) and value:
            # Written as people write them: { kind = "static", output = "dist" }
            pairs = ", ".join(
                f"{_key(k)} = {tomlkit.item(v).as_string()}" for k, v in value.items()
            )
            table[key] = tomlkit.parse(f"v = {{ {pairs} }}")["v"]
        elif value not in (None, [], {}):
            table[key] = value
    existed = array in doc
    if existed:
        doc[array].append(table)
    else:
        aot = tomlkit.aot()
        aot.append(table)
        doc.append(array, aot)
    out = doc.as_string()
    head, sep, tail = out.rpartition(f"[[{array}]]")
    if existed and head and not head.endswith("\n\n"):
        out = head.rstrip("\n") + "\n\n" + sep + tail  # a blank line between entries
    return out if out.endswith("\n") else out + "\n"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
