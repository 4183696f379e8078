"""`pilot-tui sandbox status|stop`: the local emulators."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.sandbox_cmds"


def register(commands: Commands) -> None:
    sandbox = add_command(
        commands,
        "sandbox",
        'the local emulators behind server.home = "sandbox"',
        None,
        "The sandbox's local AWS API and GCS emulator run in the background\n"
        "between commands (their state lives in memory). A command that needs them\n"
        "starts them; `sandbox stop` (or `server destroy`) stops them.",
    )
    sbx = add_actions(sandbox, "sandbox_command")
    p = add_command(
        sbx, "status", "show whether the emulators run, and where", lazy(HANDLERS, "status")
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_command(
        sbx,
        "stop",
        "stop the emulators (the sandbox's resources go with them)",
        lazy(HANDLERS, "stop"),
    )
