"""`pilot-tui secrets set|list`: an app's secret values, kept in .pilot/."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.secrets_cmds"
PREVIEW_HELP = (
    "the value APP's previews get (.pilot/secrets/previews/APP.env): they never get the app's own"
)


def register(commands: Commands) -> None:
    secrets = add_command(
        commands,
        "secrets",
        "an app's secret values, kept in .pilot/ (0600)",
        None,
        "Secret values never go into pilot.toml: it lists their names in\n"
        "apps.secrets. Values come from the environment at deploy time, else from\n"
        ".pilot/secrets/APP.env, which these commands manage. Previews (deploy\n"
        "--preview) get only the values in .pilot/secrets/previews/APP.env (--preview).",
    )
    sec = add_actions(secrets, "secrets_command")
    p = add_command(
        sec,
        "set",
        "store a value, read from stdin or typed without echo",
        lazy(HANDLERS, "secrets_set"),
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--preview", action="store_true", help=PREVIEW_HELP)
    p = add_command(
        sec,
        "list",
        "which secrets APP needs, and where each value comes from",
        lazy(HANDLERS, "secrets_list"),
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("--preview", action="store_true", help=PREVIEW_HELP)
    p.add_argument("--json", action="store_true", help="print JSON (names and where, never values)")
