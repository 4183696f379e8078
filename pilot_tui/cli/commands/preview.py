"""`pilot-tui preview list|destroy|prune`: the apps' preview environments."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.preview_cmds"


def register(commands: Commands) -> None:
    group = add_command(
        commands,
        "preview",
        "preview environments: copies of an app from a branch",
        None,
        "`pilot-tui deploy APP --preview NAME` runs APP's source as APP--NAME beside the\n"
        "app: on the Docker host at APP--NAME.<domain or the server's sslip.io name>; on\n"
        "Lambda as a function of its own (pilot-PROJECT-APP--NAME) with its own function\n"
        "URL; on Cloud Run as a service of its own (pilot-PROJECT-APP--NAME).\n"
        "A preview gets [apps.previews] env over the app's env; only the secrets in\n"
        ".pilot/secrets/previews/APP.env (`secrets set APP NAME --preview`) or, in a\n"
        "GitHub Actions run, the repository's secrets PREVIEW_NAME; and never the app's\n"
        'database (a [[databases]] preview = "empty" | "copy-of-latest-backup" gives it\n'
        "one of its own). It expires previews.ttl after its last deploy, removed by the\n"
        "agent on the Pilot Server (a Lambda one with the server on AWS, a Cloud Run one\n"
        "with it on Google Cloud), by the next preview deploy, `preview prune`, or on AWS\n"
        "the hourly run `ci github` writes; previews.max caps\n"
        "how many an app has. `logs APP--NAME` and `releases APP--NAME` are a preview's\n"
        "own. Other targets refuse, saying why.",
    )
    actions = add_actions(group, "preview_command")
    p = add_command(
        actions,
        "list",
        "every app's previews: release, address, when each expires",
        lazy(HANDLERS, "preview_list"),
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(
        actions,
        "destroy",
        "remove a preview: what runs it, its address and its history",
        lazy(HANDLERS, "preview_destroy"),
    )
    p.add_argument("app", metavar="APP", help="the app the preview is of")
    p.add_argument("name", metavar="NAME", help="the preview's name (or its branch's)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument(
        "--missing-ok",
        action="store_true",
        help="no such preview is nothing to do, not an error (a pull request closed before "
        "its preview was made)",
    )
    p = add_command(
        actions,
        "prune",
        "remove every preview whose TTL ran out",
        lazy(HANDLERS, "preview_prune"),
    )
    p.add_argument(
        "apps", nargs="*", metavar="APP", help="only these apps' previews (default: every app's)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
