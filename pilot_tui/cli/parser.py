"""The argument parser of `pilot-tui`: the top level here, each command group's commands,
flags and help texts in its own module under cli/commands/, listed in help order."""

from __future__ import annotations

import argparse

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
