"""`pilot-tui logs` and `status`: what runs, and what it says."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_command, lazy


def register(commands: Commands) -> None:
    p = add_command(
        commands,
        "logs",
        "print an app's container logs",
        lazy("pilot_tui.cli.logs_cmd", "logs"),
    )
    p.add_argument("app", metavar="APP", help="an app, or a preview of one (APP--NAME)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--tail",
        type=int,
        default=200,
        metavar="N",
        help="lines of history to start with (default 200)",
    )
    p.add_argument(
        "--access",
        action="store_true",
        help="the app's requests as the edge logged them (time, status, method, host and\n"
        "path, duration, size; secret values masked) instead of its own lines",
    )
    p = add_command(
        commands,
        "status",
        "the proxy and each app: release, health, URL",
        lazy("pilot_tui.cli.status_cmd", "status"),
        "Show the proxy and each app's live release, health (its health path asked on\n"
        "the host) and URL; for an app behind the edge also its certificates (issuer,\n"
        "expiry, the last renewal error) and its traffic over 5 minutes (req/s, 5xx\n"
        "rate, p95 latency). Exit 1 when a deployed app is unhealthy or stopped.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
