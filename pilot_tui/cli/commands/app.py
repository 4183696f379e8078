"""`pilot-tui app new|list|dockerfile|destroy`."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.app_cmds"


def register(commands: Commands) -> None:
    app = add_command(commands, "app", "add, list and remove apps", None)
    apps = add_actions(app, "app_command")
    p = add_command(
        apps,
        "new",
        "add an app to pilot.toml (asks in a terminal; flags for scripts)",
        lazy("pilot_tui.cli.app_new", "run"),
        "Add an [[apps]] table. In a terminal the New-app questions are asked (the same\n"
        "as the app's form); flags answer them, and without a terminal the rest take\n"
        "their defaults: the current folder, a name from it, the detected build and\n"
        "the first target for server.home. Checked like `config validate` first.",
    )
    p.add_argument("--path", metavar="DIR", help="source folder, relative to pilot.toml")
    p.add_argument("--name", metavar="NAME", help="app name")
    p.add_argument(
        "--target", metavar="KIND", help="server, lambda, ecs, s3-cloudfront, cloud-run or gcs-cdn"
    )
    p.add_argument("--env", metavar="K=V,...", help="plain environment variables")
    p.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        help="a secret's name (repeatable); values are never taken here",
    )
    p.add_argument("--yes", "-y", action="store_true", help="ask nothing; defaults for the rest")
    p = add_command(
        apps,
        "list",
        "each app with its build, target and live release",
        lazy(HANDLERS, "app_list"),
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(
        apps,
        "dockerfile",
        "print the Dockerfile APP builds with (--eject: keep it)",
        lazy(HANDLERS, "app_dockerfile"),
        "Print the Dockerfile APP builds with: its own, or the one Pilot generates for\n"
        'build.kind = "auto" (Node, Python, Go, static site). --eject writes the\n'
        'generated one into the app\'s folder and sets build.kind = "dockerfile".',
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("--eject", action="store_true", help="write it into the app's folder")
    p = add_command(
        apps,
        "destroy",
        "stop an app and remove its containers and route",
        lazy(HANDLERS, "app_destroy"),
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
