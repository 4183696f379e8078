"""Check parsed TOML data against the schema's shapes and build typed settings.

Every problem is collected (never stop at the first), so ``config validate`` can print them
all at once. Semantic checks that look across keys live in :mod:`pilot_tui.config.checks`.
"""

from __future__ import annotations

import re
from typing import Any

from pilot_tui.config.locate import Path
from pilot_tui.config.problems import CONTROL, Problem, did_you_mean, quote_list
from pilot_tui.config.shapes import FieldInfo, Shape, describe, field_map, toml_type_name

_MISSING = object()


class Walker:
    """Walks data and schema together; ``problems`` collects what is wrong."""

    def __init__(self, root: type) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def error(self, path: Path, message: str, *, at: str = "value") -> None:
        self.problems.append(Problem(path, message, at=at))  # type: ignore[arg-type]

    # -- tables ------------------------------------------------------------------
    def table(self, data: Any, cls: type, path: Path) -> Any:
        """Build a ``cls`` instance from a TOML table; invalid keys keep their defaults."""
        if not isinstance(data, dict):
            self.error(path, _got("a table", data))
            return cls()
        known = field_map(cls)
        values: dict[str, Any] = {}
        for key, value in data.items():
            info = known.get(key)
            if info is None:
                self.error((*path, key), self.unknown_key_message(key, cls, path), at="key")
                continue
            built = self.value(value, info.shape, (*path, key), info)
            if built is not _MISSING:
                values[key] = built
        for name, info in known.items():
            if info.required and name not in data:
                self.error(
                    path, f'missing required key "{name}" (add a line: {name} = "...")', at="key"
                )
        return cls(**values)

    def unknown_key_message(self, key: str, cls: type, path: Path) -> str:
        where = "at the top level" if not path else "here"
        known = list(field_map(cls))
        elsewhere = self.find_elsewhere(key) if path else ""
        hint = f" (did you mean {elsewhere}?)" if elsewhere else did_you_mean(key, known)
        kind = "table" if not path else "key"
        valid = f"; valid keys: {', '.join(known)}" if not hint else ""
        return f'unknown {kind} "{key}" {where}{hint}{valid}'

    def find_elsewhere(self, key: str) -> str:
        """Where else in the schema a key of this name lives, e.g. ``aws.region``."""
        spots = []
        for top in field_map(self.root).values():
            table = top.shape.table if top.shape.kind == "table" else None
            if table and key in field_map(table):
                spots.append(f"{top.name}.{key}")
        return " or ".join(spots[:2])

    # -- values ------------------------------------------------------------------
    def value(
        self,
        value: Any,
        shape: Shape,
        path: Path,
        info: FieldInfo | None,
        *,
        free_text: bool = False,
    ) -> Any:
        """``free_text``: a value the app receives as it is (env vars, build args), which
        may span lines; every other string in pilot.toml is one line of text."""
        meta = info.meta if info else {}
        kind = shape.kind
        if (
            isinstance(value, str)
            and kind in ("str", "choice")
            and not free_text
            and not meta.get("multiline")
            and CONTROL.search(value)
        ):
            self.error(
                path,
                f"{_quoted(value)} contains a control character "
                f"({_control_name(value)}); this value must be one line of plain text",
            )
            return _MISSING
        if kind == "table":
            return self.table(value, shape.table, path)  # type: ignore[arg-type]
        if kind == "tagged":
            return self.tagged(value, shape, path)
        if kind == "list":
            return self.list_(value, shape, path, meta)
        if kind == "dict":
            return self.dict_(value, shape, path, meta)
        if kind == "choice":
            if not isinstance(value, str):
                self.error(path, _got(f"one of {quote_list(shape.choices)}", value))
                return _MISSING
            if value not in shape.choices:
                self.error(
                    path,
                    f'"{value}" is not one of {quote_list(shape.choices)}'
                    f"{did_you_mean(value, shape.choices)}",
                )
                return _MISSING
            return value
        return self.scalar(value, shape, path, meta)

    def scalar(self, value: Any, shape: Shape, path: Path, meta: dict[str, Any]) -> Any:
        want = shape.kind
        ok = (
            (want == "str" and isinstance(value, str))
            or (want == "bool" and isinstance(value, bool))
            or (want == "int" and isinstance(value, int) and not isinstance(value, bool))
            or (want == "float" and isinstance(value, int | float) and not isinstance(value, bool))
        )
        if not ok:
            hint = ""
            if want == "str" and isinstance(value, int | float | bool):
                hint = f' (strings need quotes: "{_show(value)}")'
            elif want == "int" and isinstance(value, str) and value.strip().isdigit():
                hint = f" (write the number without quotes: {value.strip()})"
            self.error(path, _got(_article(describe(shape)), value) + hint)
            return _MISSING
        if want == "str" and not self.pattern_ok(
            value, path, meta.get("pattern"), meta.get("pattern_hint")
        ):
            return _MISSING
        if want in ("int", "float"):
            low, high = meta.get("minimum"), meta.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                allowed = f"{low}" if low == high else f"{low} to {high}"
                self.error(path, f"{value} is out of range: use {allowed}")
                return _MISSING
        return value

    def pattern_ok(self, value: str, path: Path, pattern: str | None, hint: str | None) -> bool:
        # fullmatch: with re.match, "$" also matches before a final newline ("acme\n").
        if pattern and not re.fullmatch(pattern, value):
            self.error(path, f'"{value}" is not valid: use {hint or pattern}')
            return False
        return True

    def list_(self, value: Any, shape: Shape, path: Path, meta: dict[str, Any]) -> Any:
        if not isinstance(value, list):
            item = describe(shape.item) if shape.item else "value"
            hint = (
                f" (write [{_show(value)}])"
                if shape.item and shape.item.kind == "str" and isinstance(value, str)
                else ""
            )
            self.error(path, _got(f"an array of {item}s", value) + hint)
            return _MISSING
        out = []
        for i, item in enumerate(value):
            built = self.value(item, shape.item, (*path, i), None)  # type: ignore[arg-type]
            if built is _MISSING:
                continue
            if isinstance(built, str) and not self.pattern_ok(
                built, (*path, i), meta.get("item_pattern"), meta.get("item_pattern_hint")
            ):
                continue
            out.append(built)
        return out

    def dict_(self, value: Any, shape: Shape, path: Path, meta: dict[str, Any]) -> Any:
        if not isinstance(value, dict):
            example = f'{path[-1]} = {{ NAME = "value" }}'
            self.error(path, _got("a table", value) + f" (write it like {example})")
            return _MISSING
        out = {}
        for key, item in value.items():
            sub = (*path, key)
            key_pattern = meta.get("key_pattern")
            if key_pattern and not re.fullmatch(key_pattern, key):
                self.error(
                    sub, f'"{key}" is not valid: use {meta.get("key_pattern_hint")}', at="key"
                )
                continue
            # Environment values are strings; numbers and booleans are accepted as written.
            if shape.item and shape.item.kind == "str" and isinstance(item, bool):
                item = "true" if item else "false"
            elif shape.item and shape.item.kind == "str" and isinstance(item, int | float):
                item = str(item)
            built = self.value(
                item,
                shape.item,  # type: ignore[arg-type]
                sub,
                None,
                free_text=True,
            )
            if built is not _MISSING:
                out[key] = built
        return out

    def tagged(self, value: Any, shape: Shape, path: Path) -> Any:
        variants = dict(shape.variants)
        default_cls = shape.variants[0][1]
        if not isinstance(value, dict):
            self.error(path, _got(f'a table like {{ kind = "{shape.variants[0][0]}" }}', value))
            return _MISSING
        kind = value.get("kind", shape.variants[0][0])
        if not isinstance(kind, str) or kind not in variants:
            shown = f'"{kind}"' if isinstance(kind, str) else _show(kind)
            hint = did_you_mean(kind, variants) if isinstance(kind, str) else ""
            self.error((*path, "kind"), f"{shown} is not one of {quote_list(variants)}{hint}")
            return default_cls()
        cls = variants[kind]
        fields = field_map(cls)
        for key in value:
            if key not in fields:
                others = [tag for tag, other in shape.variants if key in field_map(other)]
                if others:
                    msg = (
                        f'"{key}" does not apply to kind = "{kind}" '
                        f"(it is a key of {quote_list(others)})"
                    )
                else:
                    msg = (
                        f'unknown key "{key}" for kind = "{kind}"'
                        f"{did_you_mean(key, fields)}; valid keys: {', '.join(fields)}"
                    )
                self.error((*path, key), msg, at="key")
        known = {k: v for k, v in value.items() if k in fields}
        return self.table(known, cls, path)


_CONTROL_NAMES = {"\r": "CR", "\n": "LF", "\t": "tab", "\x00": "NUL", "\x1b": "ESC"}


def _control_name(value: str) -> str:
    found = CONTROL.search(value)
    char = found[0] if found else ""
    return _CONTROL_NAMES.get(char, f"U+{ord(char):04X}")


def _quoted(value: str) -> str:
    return f'"{value}"' if len(value) <= 40 else f'"{value[:37]}..."'


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else f'"{value[:37]}..."'
    if isinstance(value, list | dict):
        return ""
    return str(value)


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _got(expected: str, value: object) -> str:
    shown = _show(value)
    return f"expected {expected}, got {toml_type_name(value)}" + (f" {shown}" if shown else "")
