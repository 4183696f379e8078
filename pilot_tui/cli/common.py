"""What every command shares: how it speaks (results on stdout, the rest on stderr), how it
asks before changing anything, and how it loads the project it acts on."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pilot_tui.config.document import ProjectFile
from pilot_tui.config.problems import Report
from pilot_tui.errors import EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project, ProjectFileUnusable, find_project

if TYPE_CHECKING:
    from pilot_tui.config.schema import AppSettings, PilotConfig


def error(message: str) -> None:
    """The one way the CLI reports an error: `pilot-tui: error: ...` on stderr (for a
    PilotError, its message and hint: str(error))."""
    sys.stderr.write(f"pilot-tui: error: {message}\n")


def say(text: str) -> None:
    """Progress and notes for people: stderr, so stdout stays the command's result."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def print_json(value: Any) -> None:
    """A command's --json result on stdout, indented for people who read it too."""
    print(json.dumps(value, indent=2))


def confirm(question: str, yes: bool) -> bool | None:
    """True with --yes or a "y"; False for anything else; None without a terminal to ask
    or when the input ends (Ctrl+D) before an answer."""
    if yes:
        return True
    if not sys.stdin.isatty():
        asked = question.rstrip("?").strip()
        error(
            f"not done: this needs confirmation ({asked[0].lower()}{asked[1:]}): run it in "
            "a terminal to be asked, or add --yes"
        )
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


def load_app(
    ns: argparse.Namespace, *, previews: bool = False
) -> tuple[ProjectFile, PilotConfig, AppSettings] | None:
    """(project file, config, the app named ns.app), or None after saying what is wrong.
    ``previews``: ns.app may name a preview (APP--NAME), which is then the app."""
    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded
    if previews:
        from pilot_tui.deploy.targets import app_or_preview

        app = app_or_preview(config, ns.app)
    else:
        app = config.app(ns.app)
    if app is None:
        error(config.no_app(ns.app, pf.display))
        return None
    return pf, config, app
