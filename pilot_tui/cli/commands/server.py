"""`pilot-tui server plan|up|status|destroy|eject|ssh|worker`: the Pilot Server."""

from __future__ import annotations

import argparse

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.server_cmds"
TEARDOWN = "pilot_tui.cli.teardown_cmd"
TOOLS = "pilot_tui.cli.server_tools"
WORKER = "pilot_tui.cli.worker_cmd"


def register(commands: Commands) -> None:
    server = add_command(
        commands,
        "server",
        "provision the Pilot Server with Terraform",
        None,
        "Provision, inspect and remove the Pilot Server. Terraform runs with -json;\n"
        "its full output is logged under .pilot/logs/. Ctrl+C stops Terraform\n"
        "gracefully (state saved); a third Ctrl+C kills it.",
    )
    srv = add_actions(server, "server_command")
    p = add_command(srv, "plan", "show what would be created or changed", lazy(HANDLERS, "plan"))
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p = add_command(
        srv, "up", "plan, confirm, then create or update the server", lazy(HANDLERS, "up")
    )
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p = add_command(
        srv,
        "status",
        "show the server's address, resources and sandbox",
        lazy(HANDLERS, "status"),
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(
        srv,
        "destroy",
        "list everything that will be removed, then remove it",
        lazy(TEARDOWN, "destroy"),
    )
    p.add_argument("--yes", "-y", action="store_true", help="destroy without asking")
    p.add_argument(
        "--keep-state",
        action="store_true",
        help="keep the state bucket and lock table ([state] backend)",
    )
    p.add_argument(
        "--drop-database",
        action="append",
        metavar="NAME",
        help="remove database NAME's data too (needed for each database the destroy "
        "reaches; --yes alone never removes a database)",
    )
    p.add_argument(
        "--no-final-backup",
        action="store_true",
        help="remove the named databases without a final backup (by default each is backed "
        "up first, kept: a dump to the backup store, an RDS snapshot, or a Cloud SQL export "
        "to the state bucket)",
    )
    p.add_argument(
        "--drop-backups",
        action="store_true",
        help="remove the state bucket even when it holds database backups (without this, "
        "a destroy that would remove them stops and says so; --keep-state keeps them)",
    )
    _register_tools(srv)
    _register_worker(srv)


def _register_worker(srv: Commands) -> None:
    """`server worker`: the CI runs' deploys of the Docker host's apps, released here."""
    p = add_command(
        srv,
        "worker",
        "release the Docker host deploys CI runs ask for, from here",
        lazy(WORKER, "worker"),
        "A CI run cannot reach the Pilot Server, so it deploys an app of the Docker host\n"
        "by pushing its image to the app's repository (ECR, or Artifact Registry on\n"
        "Google Cloud) and leaving a request in the state bucket. The worker takes each\n"
        "request and releases that image as a deploy from here would, with the app's\n"
        "settings of the run's commit and the secrets of this machine's .pilot/ (none\n"
        "travel through the bucket). Run it where the project's .pilot/ is, and leave\n"
        "it running: a run whose app finds no worker taking requests fails at once, and\n"
        "one whose request no worker takes within 2 minutes gives up. A run's\n"
        "`pilot-tui rollback APP` (the workflow's rollback job) is a request too: the\n"
        "worker rolls the app back as a rollback from here would. Ctrl+C stops it\n"
        "(after the release under way, if one is).\n\n"
        "With server.ci_worker = true in pilot.toml, the worker also runs on the Pilot\n"
        "Server itself (a container each deploy from here brings up to date): then no\n"
        "machine of yours needs to stay on.",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="release the requests waiting now, then exit (1 if one failed)",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between looks for new requests (default: 10; each look is a LIST "
        "request S3 bills, about 260,000 a month)",
    )
    p.add_argument(
        "--json", action="store_true", help="with --once: print how each request ended, as JSON"
    )
    p.add_argument("--verbose", "-v", action="store_true", help="show build and release output")
    p.add_argument(
        "--on-server",
        action="store_true",
        help="run as the Pilot Server's own worker: the engine is the one at "
        "/var/run/docker.sock (how its container starts it; server.ci_worker)",
    )


def _register_tools(srv: Commands) -> None:
    """`server eject` and `server ssh`: the server's templates and shell, yours to use."""
    p = add_command(
        srv,
        "eject",
        "copy the Terraform templates into the project; you own them",
        lazy(TOOLS, "eject"),
        "Copy the server's Terraform templates into the project (default: infra/) and\n"
        "record it as terraform.templates in pilot.toml; Pilot renders your copy from\n"
        "then on.",
    )
    p.add_argument(
        "--to",
        default="infra",
        metavar="DIR",
        help="folder for the templates, relative to pilot.toml (default: infra)",
    )
    p = add_command(
        srv,
        "ssh",
        "open an SSH session on the Pilot Server (with Pilot's key)",
        lazy(TOOLS, "ssh"),
    )
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="a command to run instead of a shell",
    )
