"""`pilot-tui db new|list|status|psql|backup|backups|drill|restore|destroy`: the databases of
[[databases]], on the Docker host, and their backups."""

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
        ".pilot/databases/NAME.password (0600).\n\n"
        "Backups go to the state bucket (S3, encrypted; GCS) under backups/NAME/, or to\n"
        ".pilot/backups/NAME/ with local state: `db backup` takes one, `db drill` proves\n"
        "one restores, `db restore` puts one back.",
    )
    actions = add_actions(db, "db_command")
    p = add_command(
        actions,
        "new",
        "add a database to pilot.toml ([[databases]]; checked first, comments kept)",
        lazy(HANDLERS, "db_new"),
        "Writes a [[databases]] table; the next deploy of an app it lists starts it. The\n"
        "whole file is checked first: nothing is written when anything is wrong.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--kind", choices=("postgres", "redis"), default="postgres")
    p.add_argument("--version", type=int, help="major version (postgres 15-17, redis 7)")
    p.add_argument(
        "--app", dest="apps", action="append", default=[], metavar="APP",
        help="an app that gets its URL (repeat for more)",
    )  # fmt: skip
    p.add_argument("--size", help="memory limit of its container, like 512m or 2g")
    p.add_argument("--url-env", help="the variable the apps get its URL in")
    p.add_argument("--keep", type=int, help="how many backups are kept")
    p = add_command(
        actions,
        "status",
        "one database: health now, its container and data, its last backup and drill",
        lazy(HANDLERS, "db_status"),
        "Exits 1 unless the database takes connections now.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print it as JSON")
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
        "psql in a Postgres database, or one SQL command (through the Docker host's "
        "engine: no port opened)",
        lazy(HANDLERS, "db_psql"),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "-c",
        "--command",
        dest="sql",
        metavar="SQL",
        help="the SQL to run (without it: an interactive psql on this terminal)",
    )
    p = add_command(
        actions,
        "backup",
        "dump a database now into the backup store; the oldest beyond backup.keep go",
        lazy(HANDLERS, "db_backup"),
        "Streams pg_dump -Fc from the database's container to the store (nothing is\n"
        "staged on the host's disk) and records its size, sha256 and every table's row\n"
        "count, counted in the dump's own snapshot. A database on RDS or Cloud SQL is\n"
        "dumped from a client container on the Docker host (the one machine the service\n"
        "admits), over TLS: Pilot's own copy beside the service's daily backups.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print the backup's record as JSON")
    p.add_argument(
        "--on-server",
        action="store_true",
        help="have the backup agent on the Docker host take it (proves the schedule's path)",
    )
    p = add_command(
        actions,
        "schedule",
        "start or update the backup agent on the Docker host, and show its schedules",
        lazy(HANDLERS, "db_schedule"),
        "The agent (container pilot-backups-PROJECT) backs up each database on its\n"
        "backup.schedule, without this machine; deploys keep it up to date too.\n"
        "--remove stops it (backups already taken stay).",
    )
    p.add_argument("--remove", action="store_true", help="stop and remove the backup agent")
    p.add_argument("--json", action="store_true", help="print the schedules as JSON")
    p = add_command(
        actions,
        "backups",
        "a database's backups, oldest first, and its last drill",
        lazy(HANDLERS, "db_backups"),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p = add_command(
        actions,
        "drill",
        "restore a backup into a throwaway database, check it, remove it, record the result",
        lazy(HANDLERS, "db_drill"),
        "The check: the dump's size and sha256 against its record, pg_restore's exit\n"
        "status, and every table's row count against the record's. Exits 1 when the\n"
        "drill fails. The live database is never touched.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("backup", metavar="BACKUP", nargs="?", help="a backup's ID (default: newest)")
    p.add_argument("--json", action="store_true", help="print the drill's result as JSON")
    p = add_command(
        actions,
        "restore",
        "put a backup back: into a fresh volume, checked, then the linked apps move to it",
        lazy(HANDLERS, "db_restore"),
        "The backup goes into the database's next volume (pilot-db-PROJECT-NAME-g2, -g3,\n"
        "...) through a container with no network, and is checked as a drill checks. Only\n"
        "then does it start, and each linked app is redeployed onto it (its live release\n"
        "again, relaunched). A failed check leaves the current database serving, untouched.\n"
        "The data from before the restore is kept in its volume. A database on RDS or\n"
        "Cloud SQL is restored with --to NEW only (a new database on the Docker host).",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("backup", metavar="BACKUP", nargs="?", help="a backup's ID (default: newest)")
    p.add_argument(
        "--to",
        metavar="NEW",
        help="restore into a new database NEW beside NAME instead (checked the same way, "
        "added to pilot.toml with no app linked); NAME and its apps are not touched",
    )
    p.add_argument(
        "--confirm",
        metavar="NAME",
        help="the database's name again: the confirmation, without a terminal",
    )
    p = add_command(
        actions,
        "destroy",
        "remove a database's container and, unless --keep-data, its data",
        lazy(HANDLERS, "db_destroy"),
        "Removes the database's containers and volumes (all its data, and the data kept\n"
        "from before each restore), after you type its name (or give it with --confirm\n"
        "NAME where no terminal can ask). pilot.toml\n"
        "keeps its [[databases]] table: remove it there too, or the next deploy of an app\n"
        "it lists makes it again, empty. A Postgres database's data is backed up once\n"
        "more first (as `db backup` does), unless --no-final-backup; when that backup\n"
        "cannot be taken, nothing is removed.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--keep-data", action="store_true", help="remove the container only; keep the volume"
    )
    p.add_argument(
        "--no-final-backup",
        action="store_true",
        help="remove the data without taking a last backup of it first",
    )
    p.add_argument(
        "--confirm",
        metavar="NAME",
        help="the database's name again: the confirmation, without a terminal",
    )
