"""`pilot-tui init`: its flags are the setup questions (pilot_tui.questions)."""

from __future__ import annotations

from typing import Any

from pilot_tui.cli.commands import Commands, add_command, lazy
from pilot_tui.questions import QUESTIONS


def register(commands: Commands) -> None:
    init = add_command(
        commands,
        "init",
        "create a commented starter pilot.toml",
        lazy("pilot_tui.cli.init_cmd", "run"),
        "Create a commented starter pilot.toml here (or at --project) and the .pilot/\n"
        "state directory, and add .pilot/ to .gitignore and .dockerignore. Asks\n"
        "nothing unless --plain.\n"
        "Answer the setup questions with flags, or interactively with --plain.",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing pilot.toml")
    init.add_argument(
        "--plain",
        action="store_true",
        help="ask the setup questions in this terminal (works over SSH)",
    )
    for q in QUESTIONS:
        kwargs: dict[str, Any] = {
            "dest": q.dest,
            "metavar": q.key.split(".")[-1].upper(),
            "help": f"answer: {q.prompt}",
        }
        if q.kind == "list":
            kwargs["action"] = "append"
        if q.kind == "select" and len(q.choices) <= 6:
            kwargs["choices"] = q.choices
        init.add_argument(q.flag, **kwargs)
