"""`pilot-tui db list|psql|destroy`: the databases of [[databases]], on the Docker host."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.db_cmds"


def register(commands: Commands) -> None:
    db = add_command(
        commands,
        "db",
        "the databases beside the apps ([[databases]] in pilot.toml)",
        None,
        "Each [[databases]] entry runs in a container on the Docker host, on the apps'\n"
        "private network, with its data in a named volume; a deploy of an app it lists\n"
        "starts it and gives the app its URL. Its password is kept in\n"
        ".pilot/databases/NAME.password (0600).",
    )
    actions = add_actions(db, "db_command")
    p = add_command(
        actions,
        "list",
        "each database: kind, version, linked apps, and its state on the Docker host",
        lazy(HANDLERS, "db_list"),
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p = add_command(
        actions,
        "psql",
        "run SQL in a Postgres database (through the Docker host's engine: no port opened)",
        lazy(HANDLERS, "db_psql"),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "-c", "--command", dest="sql", metavar="SQL", required=True, help="the SQL to run"
    )
    p = add_command(
        actions,
        "destroy",
        "remove a database's container and, unless --keep-data, its data",
        lazy(HANDLERS, "db_destroy"),
        "Removes the database's container and its volume (all its data), after you type\n"
        "its name (or give it with --confirm NAME where no terminal can ask). pilot.toml\n"
        "keeps its [[databases]] table: remove it there too, or the next deploy of an app\n"
        "it lists makes it again, empty.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--keep-data", action="store_true", help="remove the container only; keep the volume"
    )
    p.add_argument(
        "--confirm",
        metavar="NAME",
        help="the database's name again: the confirmation, without a terminal",
    )
