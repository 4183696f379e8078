"""`pilot-tui deploy`, `releases` and `rollback`: an app's releases."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_command, lazy

HANDLERS = "pilot_tui.cli.deploy_cmds"


def register(commands: Commands) -> None:
    p = add_command(
        commands,
        "deploy",
        "build, deploy and release apps on the Pilot Server",
        lazy(HANDLERS, "deploy"),
        "Build each app on the deploy host's Docker engine (skipped when the source is\n"
        "unchanged), start the new release beside the old one, and switch the proxy to\n"
        "it once its health path answers 2xx. A release that never gets healthy is\n"
        "removed and the previous one keeps serving. Secrets are read from the\n"
        "environment or .pilot/secrets/APP.env at deploy time.",
    )
    p.add_argument("apps", nargs="*", metavar="APP", help="apps to deploy")
    p.add_argument("--all", action="store_true", help="deploy every app in pilot.toml")
    p.add_argument("--force", action="store_true", help="release again even when nothing changed")
    p.add_argument(
        "--preview",
        metavar="NAME",
        help="deploy APP as its preview NAME (usually a branch) at APP--NAME.<domain>, with "
        "previews.env, only the previews' secrets and no database of the app's own; it "
        "expires previews.ttl "
        "after its last deploy (see `pilot-tui preview`)",
    )
    p.add_argument(
        "--no-watch",
        action="store_true",
        help="do not watch the new release once it is live (by default, on the Docker host "
        "and Lambda, it is watched target.watch seconds and reverted by itself when it goes "
        "bad; the exit status is then non-zero)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a teammate's deploy of the same app to finish",
    )
    p.add_argument(
        "--break-lock",
        action="store_true",
        help="remove a stale deploy lock first (asks; see --yes)",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument("--verbose", "-v", action="store_true", help="show the build's output")
    p = add_command(
        commands, "releases", "list an app's releases, newest first", lazy(HANDLERS, "releases")
    )
    p.add_argument("app", metavar="APP", help="an app, or a preview of one (APP--NAME)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(
        commands,
        "rollback",
        "put a previous release back, without rebuilding",
        lazy(HANDLERS, "rollback"),
        "Release a previous image of APP again (default: the newest good release before\n"
        "the live one), with the same health gate as a deploy.",
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("release", nargs="?", metavar="RELEASE", help="e.g. v3")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a running deploy of APP to finish",
    )
    p.add_argument(
        "--break-lock",
        action="store_true",
        help="remove a stale deploy lock first (asks; see --yes)",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
