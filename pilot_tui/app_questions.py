"""The New-app questions, defined once: the TUI's New-app form and `pilot-tui app new`
(questionary in a plain terminal, or flags) ask the same ones and check each answer with the
validator's own messages, by adding the app to a draft of pilot.toml and validating it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.apps import add_app, parse_env, parse_names, suggested_name
from pilot_tui.config.validate import check_text
from pilot_tui.deploy.build.stack import Detected, detect
from pilot_tui.deploy.targets import new_target


@dataclass(frozen=True)
class AppQuestion:
    field: str  # "path", "name", "target", "env", "secrets"
    prompt: str
    placeholder: str = ""


QUESTIONS = (
    AppQuestion("path", "Source folder (relative to pilot.toml)", "."),
    AppQuestion("name", "Name"),
    AppQuestion("target", "Target"),
    AppQuestion(
        "env", "Environment variables (KEY=value, comma separated; not secrets)", "LOG_LEVEL=info"
    ),
    AppQuestion(
        "secrets", "Secret names (values come from the environment at deploy time)", "DATABASE_URL"
    ),
)


def detected_build(root: Path, path: str) -> Detected | None:
    folder = root / (path.strip() or ".")
    return detect(folder) if folder.is_dir() else None


def default_name(root: Path, path: str, taken: set[str]) -> str:
    return suggested_name((root / (path.strip() or ".")).resolve(), taken)


def app_table(answers: dict[str, str], detected: Detected | None) -> dict[str, Any]:
    """The [[apps]] table for these answers; raises ValueError for unparsable env/secrets.
    A handler in the folder makes a target that runs handlers (Lambda) a zip function
    running it."""
    return {
        "name": answers.get("name", "").strip(),
        "path": answers.get("path", "").strip() or ".",
        "build": detected.build if detected is not None else {"kind": "auto"},
        "target": new_target(answers.get("target") or "server", detected),
        "env": parse_env(answers.get("env", "")),
        "secrets": parse_names(answers.get("secrets", "")),
    }


def check_app(
    text: str,
    table: dict[str, Any],
    base_dir: Path | None = None,
) -> tuple[str | None, list[tuple[str, str]]]:
    """(pilot.toml with the app added, or None; the problems as (dotted key, message))."""
    new_text = add_app(text, table)
    report = check_text(new_text, "pilot.toml", base_dir).report
    mine = [(p.key, p.message) for p in report.errors if p.key.startswith(("apps", "(file)"))]
    return (None if report.errors else new_text), mine


def problem_for(problems: list[tuple[str, str]], field: str) -> str | None:
    """The first problem about one answer, for checking question by question."""
    for key, message in problems:
        if f".{field}" in key or f"]{field}" in key or key.endswith(f".{field}"):
            return message
    return None
