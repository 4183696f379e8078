"""`pilot-tui app new`: add an [[apps]] table by flags, or by the New-app questions asked
with questionary when a terminal is attached (the TUI's form asks the very same ones)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui.app_questions import (
    QUESTIONS,
    app_table,
    check_app,
    default_name,
    detected_build,
    problem_for,
)
from pilot_tui.cli.common import error, load_valid, say
from pilot_tui.cli.invocation import pilot_command
from pilot_tui.deploy.targets import kinds_for, runs_handlers, suggested_kind
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, framed

if TYPE_CHECKING:
    from pilot_tui.deploy.build.stack import Detected


def _say_if_image_function(table: dict[str, Any], folder: Path) -> None:
    """A Lambda with no handler in its folder becomes an image function: said, with what
    that needs and how a zip one is asked for (found walking: it was quiet)."""
    if not runs_handlers(table["target"]["kind"]) or "package" in table["target"]:
        return
    from pilot_tui.deploy.build.stack import HANDLER_MODULES

    modules = ", ".join(f"{m}.py" for m in HANDLER_MODULES)
    say(
        f"note: no Python Lambda handler in {folder} (def handler(event, context) or "
        f"def lambda_handler(event, context) in one of {modules}): it is an image "
        "function, a web server answering on $PORT (the Lambda Web Adapter passes it "
        "the requests), its image built and pushed to ECR; for a zip function, set "
        'target.package = "zip" and target.handler = "MODULE.FUNCTION"'
    )


def run(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    root = pf.path.parent
    taken = {a.name for a in config.apps}
    if (refused := _refused(ns, taken, pf.display)) is not None:  # said before any question
        error(refused)
        return EXIT_INVALID
    given: dict[str, str] = {
        k: v
        for k, v in {
            "path": ns.path,
            "name": ns.name,
            "target": ns.target,
            "env": ns.env,
            "secrets": ",".join(ns.secret or []) or None,
        }.items()
        if v is not None
    }
    ask = sys.stdin.isatty() and sys.stdout.isatty() and not ns.yes
    answers = dict(given)
    if ask:
        try:
            asked = _ask(pf.text, root, config.server.home, taken, answers)
        except EOFError:  # Ctrl+D: the input ended before every question was answered
            error("cancelled; pilot.toml is unchanged")
            return EXIT_INVALID
        if asked is None:  # Ctrl+C
            error("cancelled; pilot.toml is unchanged")
            return EXIT_INTERRUPTED
        answers = asked
    answers.setdefault("path", ".")
    answers.setdefault("name", default_name(root, answers["path"], taken))
    detected = detected_build(root, answers["path"])
    answers.setdefault("target", suggested_kind(config.server.home, detected))
    try:
        table = app_table(answers, detected)
    except ValueError as exc:
        error(str(exc))
        return EXIT_INVALID
    text, problems = check_app(pf.text, table, root)
    if text is None:
        for key, message in problems:
            error(f"{key}: {message}")
        return EXIT_INVALID
    with framed("not saved: ", exit_code=EXIT_FAILED):  # refused, or changed meanwhile
        pf.save(text)
    _say_added(root, table, detected)
    return EXIT_OK


def _say_added(root: Path, table: dict[str, Any], detected: Detected | None) -> None:
    """What was added, what is missing for a deploy, and the command that deploys it."""
    why = f" ({detected.reason})" if detected is not None else ""
    folder = root / str(table["path"])
    if not folder.is_dir():  # (found walking: added without a word, failing at deploy)
        say(f"warning: there is no folder {folder} yet: a deploy needs the app's files there")
    else:
        _say_if_image_function(table, folder)
    sys.stderr.write(
        f"added app {table['name']}: build {table['build']['kind']}{why}, "
        f"target {table['target']['kind']}. Deploy it: {pilot_command()} deploy "
        f"{table['name']}\n"
    )


def _refused(ns: argparse.Namespace, taken: set[str], where: str) -> str | None:
    """Why the flags given cannot make an app, or None: a --secret that is not one name
    (found walking: 'bad name' became two secrets, "bad" and "name"), a --name taken
    (said as pilot.toml's "apps[2].name: defined twice", a key the person never typed)."""
    import re

    from pilot_tui.config.schema import ENV_NAME_HINT, ENV_NAME_PATTERN

    for name in ns.secret or []:
        if not re.fullmatch(ENV_NAME_PATTERN, name):
            return f"--secret {name!r} is not a secret's name: {ENV_NAME_HINT} (one per --secret)"
    if ns.name is not None and ns.name in taken:
        return f'there is an app named "{ns.name}" in {where} already: choose another --name'
    return None


def _ask(
    text: str, root: Path, home: str, taken: set[str], answers: dict[str, str]
) -> dict[str, str] | None:
    import questionary

    def valid(field: str, value: str) -> bool | str:
        trial = {**answers, field: value}
        trial.setdefault("path", ".")
        trial.setdefault("name", default_name(root, trial["path"], taken))
        try:
            table = app_table(trial, detected_build(root, trial["path"]))
        except ValueError as exc:
            return str(exc)
        _, problems = check_app(text, table, root)
        return problem_for(problems, field) or True

    for question in QUESTIONS:
        field = question.field
        if field in answers:
            continue
        if field == "path":
            reply = questionary.text(
                question.prompt,
                default=".",
                validate=lambda v: (
                    True if (root / (v.strip() or ".")).is_dir() else f"no folder {root / v}"
                ),
            ).ask()
        elif field == "target":
            detected = detected_build(root, answers.get("path", "."))
            if detected is not None:
                print(f"  detected {detected.reason}")
            reply = questionary.select(
                question.prompt,
                choices=list(kinds_for(home)),
                default=suggested_kind(home, detected),
            ).ask()
        else:
            default = default_name(root, answers.get("path", "."), taken) if field == "name" else ""
            reply = questionary.text(
                question.prompt, default=default, validate=lambda v, f=field: valid(f, v)
            ).ask()
        if reply is None:  # Ctrl+C
            return None
        answers[field] = reply
    return answers
