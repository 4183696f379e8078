"""The command line's surface, one module per command group: each declares its commands,
flags and help texts with ``register(commands)`` (parser.py lists the groups in help order).

Handlers are named by module and function and imported only when their command runs, so
`pilot-tui --help` (and every command) loads only what it uses.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[argparse.Namespace], int]
Commands = argparse._SubParsersAction  # what add_subparsers returns; argparse names it privately


@dataclass(frozen=True)
class Lazy:
    """The handler ``module.name``, imported when its command runs."""

    module: str
    name: str

    def __call__(self, ns: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(self.module), self.name)(ns))


def lazy(module: str, name: str) -> Handler:
    return Lazy(module, name)


def project_option(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--sandbox and --project, accepted before the command and after it (a subcommand's
    copy leaves the top-level value alone unless given)."""
    parser.add_argument(
        "--sandbox",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="use the local sandbox (no cloud account) whatever server.home says",
    )
    parser.add_argument(
        "--project",
        "-p",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="pilot.toml, or the directory holding it (default: $PILOT_PROJECT, else the "
        "current directory and its parents)",
    )


def add_command(
    parent: Commands,
    name: str,
    help_text: str,
    handler: Handler | None,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command (or a group's action) with the project options; ``handler`` None for a
    group, whose actions carry the handlers."""
    parser: argparse.ArgumentParser = parent.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    project_option(parser, top=False)
    # The innermost command's parser wins (set last): a wrong flag is said with its usage
    parser.set_defaults(command_parser=parser)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def add_actions(group: argparse.ArgumentParser, dest: str) -> Commands:
    """The required ACTION of a command group (`config set`, `server up`, ...)."""
    return group.add_subparsers(dest=dest, metavar="ACTION", title="actions", required=True)
