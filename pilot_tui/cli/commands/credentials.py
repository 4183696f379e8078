"""`pilot-tui credentials`: this machine's cloud credentials, checked live."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_command, lazy


def register(commands: Commands) -> None:
    p = add_command(
        commands,
        "credentials",
        "find cloud credentials and check them live",
        lazy("pilot_tui.cli.credentials_cmd", "run"),
        "List the AWS profiles and Google credentials on this machine and check each\n"
        "live (STS GetCallerIdentity; a Cloud Storage call on gcp.project). Exit 1 when\n"
        "the ones pilot.toml uses fail. Names and paths only: keys are never shown.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
