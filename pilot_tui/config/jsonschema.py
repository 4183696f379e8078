"""JSON Schema (draft 2020-12) for pilot.toml, generated from the schema dataclasses.

Editors with TOML support (Taplo, Even Better TOML) use it for completion and checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilot_tui import __version__
from pilot_tui.config.schema import PilotConfig
from pilot_tui.config.shapes import FieldInfo, Shape, fields_of


def json_schema() -> dict[str, Any]:
    schema = _table(PilotConfig)
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"pilot-tui/{__version__}/pilot.schema.json",
            "title": "pilot.toml",
            "description": "Pilot project file.",
        }
    )
    return schema


def _table(cls: type) -> dict[str, Any]:
    fields = fields_of(cls)
    out: dict[str, Any] = {
        "type": "object",
        "description": (cls.__doc__ or "").strip(),
        "properties": {f.name: _field(f) for f in fields},
        "additionalProperties": False,
    }
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    return out


def _field(info: FieldInfo) -> dict[str, Any]:
    out = _shape(info.shape, info.meta)
    out["description"] = info.doc
    if (
        not info.required
        and info.default is not None
        and info.shape.kind not in ("table", "tagged")
    ):
        out["default"] = info.default
    if "example" in info.meta:
        out["examples"] = [info.meta["example"]]
    return out


def _shape(shape: Shape, meta: Mapping[str, object]) -> dict[str, Any]:
    kind = shape.kind
    if kind == "table":
        return _table(shape.table)  # type: ignore[arg-type]
    if kind == "tagged":
        variants = []
        for tag, cls in shape.variants:
            variant = _table(cls)
            variant["properties"]["kind"] = {"const": tag, "description": "Selects this kind."}
            variant["title"] = f'kind = "{tag}"'
            variants.append(variant)
        # `kind` may be left out for the first (default) variant.
        variants[0]["properties"]["kind"] = {"const": shape.variants[0][0]}
        for variant in variants[1:]:
            variant["required"] = ["kind"]
        return {"type": "object", "oneOf": variants}
    if kind == "choice":
        return {"type": "string", "enum": list(shape.choices)}
    if kind == "list":
        item = _shape(shape.item, {})  # type: ignore[arg-type]
        if "item_pattern" in meta:
            item["pattern"] = meta["item_pattern"]
        return {"type": "array", "items": item}
    if kind == "dict":
        out: dict[str, Any] = {"type": "object", "additionalProperties": _shape(shape.item, {})}  # type: ignore[arg-type]
        if "key_pattern" in meta:
            out["propertyNames"] = {"pattern": meta["key_pattern"]}
        return out
    out = {"type": {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}[kind]}
    if "pattern" in meta:
        out["pattern"] = meta["pattern"]
    if "minimum" in meta:
        out["minimum"] = meta["minimum"]
    if "maximum" in meta:
        out["maximum"] = meta["maximum"]
    return out
