"""Turn the schema's type hints into plain "shapes" the validator and generators walk.

Keeping this in one place means the validator, the JSON Schema and the Markdown reference
can never disagree about what a key accepts.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Shape:
    """What one key accepts.

    ``kind`` is one of: str, int, float, bool, choice, list, dict, table, tagged.
    """

    kind: str
    optional: bool = False
    choices: tuple[str, ...] = ()
    item: Shape | None = None  # list items and dict values
    table: type | None = None  # dataclass for kind == "table"
    variants: tuple[tuple[str, type], ...] = ()  # (kind value, dataclass) for "tagged"


@dataclass(frozen=True)
class FieldInfo:
    """One key of a table: its name, shape, default and documentation."""

    name: str
    shape: Shape
    default: Any
    required: bool
    meta: dict[str, Any]

    @property
    def doc(self) -> str:
        return str(self.meta.get("doc", ""))


@functools.cache
def fields_of(cls: type) -> tuple[FieldInfo, ...]:
    """The documented fields of a schema dataclass, in file order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:  # pragma: no cover - every schema field has a default
            default = None
        meta = dict(f.metadata)
        out.append(
            FieldInfo(f.name, shape_of(hints[f.name]), default, bool(meta.get("required")), meta)
        )
    return tuple(out)


def field_map(cls: type) -> dict[str, FieldInfo]:
    return {f.name: f for f in fields_of(cls)}


def field_at(root: type, dotted: str) -> FieldInfo | None:
    """The key ``dotted`` names (server.ci_worker) through nested tables of ``root``; None
    when it names none (a key in an array of tables, or one the schema lacks)."""
    cls: type | None = root
    found = None
    for part in dotted.split("."):
        found = field_map(cls).get(part) if cls is not None else None
        if found is None:
            return None
        cls = found.shape.table
    return found


@functools.cache
def shape_of(hint: Any) -> Shape:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in args if a is not type(None)]
        optional = len(members) < len(args)
        if len(members) == 1:
            return dataclasses.replace(shape_of(members[0]), optional=optional)
        if all(dataclasses.is_dataclass(m) for m in members):
            variants = tuple((tag_of(m), m) for m in members)
            return Shape("tagged", optional=optional, variants=variants)
        raise TypeError(f"unsupported union {hint!r}")
    if origin is Literal:
        return Shape("choice", choices=tuple(str(a) for a in args))
    if origin is list:
        return Shape("list", item=shape_of(args[0]))
    if origin is dict:
        return Shape("dict", item=shape_of(args[1]))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return Shape("table", table=hint)
    if hint in (str, int, float, bool):
        return Shape(hint.__name__)
    raise TypeError(f"unsupported type {hint!r}")


def tag_of(cls: type) -> str:
    """The ``kind`` value that selects this variant of a tagged table."""
    kind = field_map(cls)["kind"]
    return kind.shape.choices[0]


def describe(shape: Shape) -> str:
    """A shape in TOML words, for messages and the reference."""
    if shape.kind == "choice":
        text = " | ".join(f'"{c}"' for c in shape.choices)
    elif shape.kind == "list":
        text = f"array of {describe(shape.item)}s" if shape.item else "array"
    elif shape.kind == "dict":
        text = f"table of {describe(shape.item)}s" if shape.item else "table"
    elif shape.kind == "table":
        text = "table"
    elif shape.kind == "tagged":
        text = "table with a `kind`"
    else:
        text = {"str": "string", "int": "integer", "float": "float", "bool": "boolean"}[shape.kind]
    return text


def toml_type_name(value: object) -> str:
    """The TOML name of a parsed value's type ("string", "integer", "array", ...)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "date/time"
