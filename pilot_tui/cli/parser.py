"""The argument parser of `pilot-tui`: the top level here, each command group's commands,
flags and help texts in its own module under cli/commands/, listed in help order."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pilot_tui import __version__
from pilot_tui.cli.commands import (
    app,
    ci,
    config,
    credentials,
    db,
    deploy,
    deployer,
    init,
    preview,
    project_option,
    sandbox,
    secrets,
    server,
    status,
    team,
    waypoint,
)

# `pilot-tui --help` lists the commands in this order.
GROUPS = (
    init,  # init
    config,  # config validate|show|schema|reference|path|get|set|unset
    server,  # server plan|up|status|destroy|eject|ssh
    sandbox,  # sandbox status|stop
    credentials,  # credentials
    deploy,  # deploy, releases, rollback
    preview,  # preview list|destroy|prune
    status,  # logs, status
    secrets,  # secrets set|list
    db,  # db list|psql|destroy
    app,  # app new|list|dockerfile|destroy
    deployer,  # deployer create|rotate|remove
    ci,  # ci github|remove
    team,  # team request|list|remove, invite, join
    waypoint,  # waypoint export
)


class PilotParser(argparse.ArgumentParser):
    """The top-level parser: an argument no parser took is said with the usage of the
    command it was given to, not the top level's (found walking: `deploy --bogus web`
    printed `usage: pilot-tui [-h] [--version] ... COMMAND ...`)."""

    def parse_args(  # type: ignore[override]  # (argparse's overloads, one used here)
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        ns, unknown = self.parse_known_args(args, namespace)
        if unknown:
            refusing = getattr(ns, "command_parser", None) or self
            refusing.error(f"unrecognized arguments: {' '.join(unknown)}")
        return ns


def build_parser() -> argparse.ArgumentParser:
    parser = PilotParser(
        prog="pilot-tui",
        description="Pilot: your own platform-as-a-service on your own AWS or GCP account.\n"
        "Run without a command to open the guided app.",
        epilog="Exit codes: 0 ok, 1 an operation failed, 2 invalid input, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action="version", version=f"pilot-tui {__version__}")
    project_option(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for group in GROUPS:
        group.register(commands)
    return parser
