"""`pilot-tui config ...`: validate, show, schema, reference, path, get, set, unset."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pilot_tui.config.document import (
    ConfigRefused,
    ProjectFile,
    parse_value,
)
from pilot_tui.config.problems import Report
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project, ProjectFileUnusable, find_project


def error(message: str) -> None:
    """The one way the CLI reports an error: `pilot-tui: error: ...` on stderr (for a
    PilotError, its message and hint: str(error))."""
    sys.stderr.write(f"pilot-tui: error: {message}\n")


def say(text: str) -> None:
    """Progress and notes for people: stderr, so stdout stays the command's result."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def confirm(question: str, yes: bool) -> bool | None:
    """True with --yes or a "y"; False for anything else; None without a terminal to ask
    or when the input ends (Ctrl+D) before an answer."""
    if yes:
        return True
    if not sys.stdin.isatty():
        error(f"{question} This needs confirmation: run it in a terminal or add --yes")
        return None
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        print(file=sys.stderr)
        error("no answer (the input ended); nothing was changed")
        return None


def not_confirmed(answer: bool | None) -> int:
    """The exit code of a command whose question was not answered yes: 2 (invalid usage)
    when there was no terminal to ask and no --yes, 0 when the person said no."""
    if answer is None:
        return EXIT_INVALID
    say("nothing was changed")
    return EXIT_OK


def print_report(report: Report, *, header: str | None = None) -> None:
    """Problems go to stderr for humans; errors first by line, warnings too."""
    if header:
        sys.stderr.write(header + "\n")
    for line in report.lines():
        sys.stderr.write(line + "\n")
    errors, warnings = len(report.errors), len(report.warnings)
    if errors or warnings:
        sys.stderr.write(
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}\n"
        )


def load(ns: argparse.Namespace) -> ProjectFile:
    """The project file, or ProjectNotFound (exit 2) saying where it was looked for."""
    try:
        project = find_project(getattr(ns, "project", None))
        return ProjectFile.load(project.file)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileUnusable(f"cannot read the project file: {exc}") from exc


def load_valid(ns: argparse.Namespace) -> tuple[ProjectFile, PilotConfig] | None:
    """The project file and its typed settings, or None after printing why not."""
    pf = load(ns)
    checked = pf.check()
    if checked.config is None:
        print_report(checked.report, header=f"{pf.display} is not valid; fix it first:")
        return None
    from pilot_tui.deploy import secrets

    config = checked.config
    secrets.register_project(Project(pf.path).state_dir, config)
    # `--sandbox`, read here once for every command that acts on the project.
    if getattr(ns, "sandbox", False) and config.server.home != "sandbox":
        say(f'--sandbox: using the local sandbox instead of home = "{config.server.home}"')
        config = config.in_sandbox()
    return pf, config


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
        print(json.dumps(data, indent=2))
    else:
        import tomlkit

        if not data.get("apps"):  # `apps = []` would print above every table
            data.pop("apps", None)
        sys.stdout.write(tomlkit.dumps(data))
    return EXIT_OK


def schema(ns: argparse.Namespace) -> int:
    from pilot_tui.config.jsonschema import json_schema

    print(json.dumps(json_schema(), indent=2))
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
    if ns.json:
        print(json.dumps(value, indent=2))
    elif isinstance(value, dict):
        import tomlkit

        sys.stdout.write(tomlkit.dumps(value))
    elif isinstance(value, str):
        print(value)
    else:
        import tomlkit

        print(tomlkit.item(value).as_string())
    return EXIT_OK


def _write(pf: ProjectFile, new_text: str, what: str) -> int:
    try:
        checked = pf.save(new_text)
    except ConfigRefused as exc:
        print_report(
            exc.report,
            header=f"refused: {what} would leave {pf.display} invalid; the file is unchanged:",
        )
        return EXIT_INVALID
    except OSError as exc:
        error(f"could not write {pf.display}: {exc}; the file is unchanged")
        return EXIT_FAILED
    for line in checked.report.lines():  # warnings only: errors were refused above
        sys.stderr.write(line + "\n")
    print(f"{pf.display}: {what}")
    return EXIT_OK


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
    return _write(pf, new_text, f"set {ns.key}")


def unset(ns: argparse.Namespace) -> int:
    pf = load(ns)
    new_text = pf.without_key(ns.key)
    return _write(pf, new_text, f"removed {ns.key}")
