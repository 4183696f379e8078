"""`pilot-tui config ...`: validate, show, schema, reference, path, get, set, unset."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pilot_tui.cli.common import error, load, print_json, print_report, say
from pilot_tui.config.document import (
    ConfigRefused,
    KeyUnset,
    ProjectFile,
    parse_value,
)
from pilot_tui.config.keys import KeyError_
from pilot_tui.config.schema import PilotConfig
from pilot_tui.config.shapes import field_at
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import find_project


def validate(ns: argparse.Namespace) -> int:
    pf = load(ns)
    report = pf.check().report
    if ns.json:
        print(report.to_json())
    else:
        print_report(report)
        if report.ok:
            print(f"{pf.display}: valid")
    return EXIT_OK if report.ok else EXIT_INVALID


def _effective(ns: argparse.Namespace) -> tuple[ProjectFile, dict[str, Any] | None]:
    pf = load(ns)
    try:
        return pf, pf.effective()
    except ConfigRefused as exc:
        print_report(exc.report, header=f"{pf.display} is not valid; fix it first:")
        return pf, None


def show(ns: argparse.Namespace) -> int:
    _, data = _effective(ns)
    if data is None:
        return EXIT_INVALID
    if ns.json:
        print_json(data)
    else:
        import tomlkit

        if not data.get("apps"):  # `apps = []` would print above every table
            data.pop("apps", None)
        sys.stdout.write(tomlkit.dumps(data))
    return EXIT_OK


def schema(ns: argparse.Namespace) -> int:
    from pilot_tui.config.jsonschema import json_schema

    print_json(json_schema())
    return EXIT_OK


def reference(ns: argparse.Namespace) -> int:
    from pilot_tui.config.reference import markdown_reference

    sys.stdout.write(markdown_reference())
    return EXIT_OK


def path(ns: argparse.Namespace) -> int:
    print(find_project(getattr(ns, "project", None)).file)
    return EXIT_OK


def get(ns: argparse.Namespace) -> int:
    pf = load(ns)
    try:
        value = pf.get(ns.key)  # a KeyError_ (no such key) goes up to main: exit 2
    except ConfigRefused as exc:
        print_report(exc.report, header=f"{pf.display} is not valid; fix it first:")
        return EXIT_INVALID
    except KeyUnset as exc:  # a key with no value: said, exit 1 (`git config` does too)
        if ns.json:
            print_json(None)
        error(str(exc))
        return EXIT_FAILED
    if ns.json:
        print_json(value)
    elif isinstance(value, dict):
        import tomlkit

        sys.stdout.write(tomlkit.dumps(value))
    elif isinstance(value, str):
        print(value)
    else:
        import tomlkit

        print(tomlkit.item(value).as_string())
    return EXIT_OK


def _write(pf: ProjectFile, new_text: str, what: str, key: str, tried: str = "") -> int:
    """``new_text`` saved, said as ``what`` was done; refused, said as ``tried`` (the
    command as typed: "unset KEY", not "removed KEY")."""
    before = _value_of(pf, key)
    try:
        checked = pf.save(new_text)
    except ConfigRefused as exc:
        print_report(
            exc.report,
            # (found walking: "pilot.toml:45:2" of a 43-line file read as the file's own)
            header=f"pilot-tui: error: {tried or what} would leave {pf.display} invalid; the "
            "file is unchanged (the lines below are those the change would have made):",
        )
        return EXIT_INVALID
    except OSError as exc:
        error(f"could not write {pf.display}: {exc}; the file is unchanged")
        return EXIT_FAILED
    for line in checked.report.lines():  # warnings only: errors were refused above
        sys.stderr.write(line + "\n")
    print(f"{pf.display}: {what}")
    # What the change needs to take effect: turned on, and turned off (found walking: one
    # hint for both, and for a value that changed nothing).
    info = field_at(PilotConfig, key)
    after = _value_of(ProjectFile(pf.path, new_text), key)
    if info is not None and before is not _INVALID and after != before:
        hint = info.meta.get("then" if after else "then_off")
        if hint:
            say(f"next: {hint}")
    return EXIT_OK


_INVALID = object()  # a file not valid: no hint from it (found reviewing)


def _value_of(pf: ProjectFile, key: str) -> object:
    """``pf``'s effective value of ``key`` (None when unset, or not there yet), _INVALID
    when the file is not valid."""
    try:
        return pf.get(key)
    except ConfigRefused:
        return _INVALID
    except (KeyUnset, KeyError_):
        return None


def set_(ns: argparse.Namespace) -> int:
    pf = load(ns)
    try:
        value = parse_value(ns.value)
        new_text = pf.with_value(ns.key, value)
    except Exception as exc:  # tomlkit refuses some shapes (e.g. a table into an array)
        if type(exc).__module__.startswith("tomlkit"):
            error(f"cannot set {ns.key}: {exc}")
            return EXIT_INVALID
        raise
    return _write(pf, new_text, f"set {ns.key}", ns.key)


def unset(ns: argparse.Namespace) -> int:
    pf = load(ns)
    new_text = pf.without_key(ns.key)
    return _write(pf, new_text, f"removed {ns.key}", ns.key, tried=f"unset {ns.key}")
