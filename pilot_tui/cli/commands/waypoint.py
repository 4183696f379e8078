"""`pilot-tui waypoint export`: waypoint.hcl for server.engine = "waypoint"."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy


def register(commands: Commands) -> None:
    waypoint = add_command(
        commands, "waypoint", 'waypoint.hcl for server.engine = "waypoint"', None
    )
    wp = add_actions(waypoint, "waypoint_command")
    p = add_command(
        wp,
        "export",
        "write waypoint.hcl: build/registry/deploy/release per app",
        lazy("pilot_tui.cli.waypoint_cmds", "waypoint_export"),
        "Write waypoint.hcl beside pilot.toml with a build, registry, deploy and release\n"
        "stanza per app and target, its env vars and secret references (never values),\n"
        "and waypoint-APP.Dockerfile for an app built with a Dockerfile Pilot generates.\n"
        "An app Waypoint cannot deploy (a zip Lambda) is left out with a note. Files\n"
        'Pilot did not write are kept unless --force. With server.engine = "waypoint",\n'
        "`pilot-tui deploy` runs `waypoint up` with it when the waypoint binary is installed.",
    )
    p.add_argument("app", nargs="?", metavar="APP", help="only this app")
    p.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    p.add_argument("--force", action="store_true", help="replace a hand-made waypoint.hcl")
