"""`pilot-tui deploy`, `releases` and `rollback`: an app's releases."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_command, lazy

HANDLERS = "pilot_tui.cli.deploy_cmds"


def register(commands: Commands) -> None:
    p = add_command(
        commands,
        "deploy",
        "build, deploy and release apps where their target says",
        lazy(HANDLERS, "deploy"),
        "Release each app on its target (skipped when nothing changed; --force releases\n"
        "again). On the Pilot Server: built on its Docker engine, started beside the old\n"
        "release, and the proxy switched once its health path answers 2xx; one that never\n"
        "gets healthy is removed and the previous one keeps serving. On a managed target\n"
        "(Lambda, ECS, Cloud Run, a site): an image built and pushed to the cloud's\n"
        "registry (a zip Lambda or a site needs no Docker), then released there. Once\n"
        "live a release is watched for target.watch seconds and put back on the previous\n"
        "one if it fails (--no-watch: not watched). Secrets are read from the\n"
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
        help="do not watch the new release once it is live (by default, on the Docker host, "
        "Lambda, Cloud Run and ECS, it is watched target.watch seconds and reverted by itself "
        "when it goes bad; the exit status is then non-zero)",
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
