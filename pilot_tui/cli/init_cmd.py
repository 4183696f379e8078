"""`pilot-tui init`: write a commented starter pilot.toml, optionally asking the questions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pilot_tui.cli.common import error, print_report
from pilot_tui.cli.invocation import pilot_command
from pilot_tui.config.starter import project_name_from, starter_text
from pilot_tui.config.validate import check_text
from pilot_tui.errors import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import create_project, project_file_for
from pilot_tui.questions import QUESTIONS, Question, apply_answers


def run(ns: argparse.Namespace) -> int:
    target = project_file_for(getattr(ns, "project", None))
    refusal = _refusal(target, force=ns.force)
    if refusal:
        error(refusal)
        return EXIT_INVALID
    given = {
        q.key: _flag_answer(q, getattr(ns, q.dest))
        for q in QUESTIONS
        if getattr(ns, q.dest) is not None
    }
    draft = starter_text(project_name_from(target.parent.name))
    answered = _ask_in_terminal(draft, given) if ns.plain else _apply_flags(draft, given)
    if isinstance(answered, int):  # nothing to write: the exit code
        return answered
    return _check_and_create(target, answered)


def _refusal(target: Path, *, force: bool) -> str | None:
    """Why pilot.toml cannot be created at ``target`` (None: it can)."""
    if target.exists() and not force:
        return f"{target} already exists; use --force to replace it (your file is unchanged)"
    if not target.parent.is_dir():
        return f"{target.parent} is not a directory"
    return None


def _ask_in_terminal(draft: str, given: dict[str, str]) -> str | int:
    """`--plain`: the starter with every question asked here (flags answer theirs), or the
    exit code when there is no terminal or the person stopped."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        flags = " ".join(f"{q.flag} {q.key.split('.')[-1].upper()}" for q in QUESTIONS[:4])
        error(
            "init --plain asks questions and needs an interactive terminal. Without one, "
            f"answer with flags instead, e.g. `pilot-tui init {flags}` "
            "(all flags: `pilot-tui init --help`)"
        )
        return EXIT_INVALID
    from pilot_tui.cli.ask import ask_all

    try:
        asked = ask_all(draft, given)
    except KeyboardInterrupt:
        sys.stderr.write("\npilot-tui: init interrupted; nothing was written\n")
        return EXIT_INTERRUPTED
    if asked is None:  # the input ended before every question was answered
        sys.stderr.write("\npilot-tui: init cancelled; nothing was written\n")
        return EXIT_INVALID
    return asked


def _apply_flags(draft: str, given: dict[str, str]) -> str | int:
    """The starter with the flags' answers, or EXIT_INVALID after naming each bad one."""
    draft, problems = apply_answers(draft, given)
    for question, problem in problems:
        error(f"{question.flag}: {problem}")
    return EXIT_INVALID if problems else draft


def _check_and_create(target: Path, draft: str) -> int:
    """Write ``draft`` as pilot.toml and make .pilot/, once the whole file checks valid."""
    report = check_text(draft, str(target), target.parent).report
    if not report.ok:  # answers can conflict (e.g. a cloud-run app without a GCP project)
        print_report(
            report, header="the answers do not make a valid pilot.toml; nothing was written:"
        )
        return EXIT_INVALID
    try:
        project, ignored = create_project(target, draft)
    except OSError as exc:
        error(f"could not write {target}: {exc}")
        return EXIT_INVALID
    print(f"created {target}")
    print(
        f"created {project.state_dir}/ (0700) for machine state"
        + (f"; added it to {' and '.join(ignored)}" if ignored else "")
    )
    pilot = pilot_command()
    print(f"next: `{pilot}` opens the guided setup; `{pilot} config validate` checks the file")
    if report.warnings:  # e.g. allowed CIDRs that let the whole internet in
        print_report(report)
    return EXIT_OK


def _flag_answer(question: Question, value: str | list[str]) -> str:
    if isinstance(value, list):  # --allowed-cidr given several times
        return ",".join(value)
    return str(value)
