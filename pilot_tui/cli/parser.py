"""The argument parser: every command, flag and help text of `pilot-tui`.

Handlers are imported only when their command runs, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pilot_tui import __version__
from pilot_tui.questions import QUESTIONS

Handler = Callable[[argparse.Namespace], int]


def _lazy(module: str, name: str) -> Handler:
    def run(ns: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(ns))

    return run


def _project_option(parser: argparse.ArgumentParser, *, top: bool) -> None:
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


def _sub(
    parent: Any, name: str, help_text: str, handler: Handler | None, description: str | None = None
) -> argparse.ArgumentParser:
    parser = parent.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _project_option(parser, top=False)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilot-tui",
        description="Pilot: your own platform-as-a-service on your own AWS or GCP account.\n"
        "Run without a command to open the guided app.",
        epilog="Exit codes: 0 ok, 1 an operation failed, 2 invalid input, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action="version", version=f"pilot-tui {__version__}")
    _project_option(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    init = _sub(
        commands,
        "init",
        "create a commented starter pilot.toml",
        _lazy("pilot_tui.cli.init_cmd", "run"),
        "Create a commented starter pilot.toml here (or at --project) and the .pilot/\n"
        "state directory, and add .pilot/ to .gitignore and .dockerignore. Asks\n"
        "nothing unless --plain.\n"
        "Answer the setup questions with flags, or interactively with --plain.",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing pilot.toml")
    init.add_argument(
        "--plain",
        action="store_true",
        help="ask the setup questions in this terminal (works over SSH)",
    )
    for q in QUESTIONS:
        kwargs: dict[str, Any] = {
            "dest": q.dest,
            "metavar": q.key.split(".")[-1].upper(),
            "help": f"answer: {q.prompt}",
        }
        if q.kind == "list":
            kwargs["action"] = "append"
        if q.kind == "select" and len(q.choices) <= 6:
            kwargs["choices"] = q.choices
        init.add_argument(q.flag, **kwargs)

    config = _sub(
        commands,
        "config",
        "check, show and change pilot.toml",
        None,
        "Check, show and change pilot.toml. Changes keep your comments and layout,\n"
        "are validated first and written atomically.",
    )
    cfg = config.add_subparsers(
        dest="config_command", metavar="ACTION", title="actions", required=True
    )
    mod = "pilot_tui.cli.config_cmds"
    validate = _sub(
        cfg,
        "validate",
        "check pilot.toml; list every problem",
        _lazy(mod, "validate"),
        "Check pilot.toml and list every problem, one per line:\n"
        "  FILE:LINE:COL: dotted.key: what is wrong (did you mean ...?)\n"
        "Exit 0 when valid (warnings allowed), 2 when not.",
    )
    validate.add_argument("--json", action="store_true", help="print the problems as JSON")
    show = _sub(
        cfg, "show", "print the effective configuration, defaults included", _lazy(mod, "show")
    )
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    _sub(cfg, "schema", "print the JSON Schema of pilot.toml (for editors)", _lazy(mod, "schema"))
    _sub(cfg, "reference", "print the Markdown reference of every key", _lazy(mod, "reference"))
    _sub(cfg, "path", "print where pilot.toml is", _lazy(mod, "path"))
    get = _sub(
        cfg,
        "get",
        "print one value (defaults included)",
        _lazy(mod, "get"),
        "Print the effective value of a dotted key, e.g. aws.region,\n"
        "apps.api.target.kind or apps[0].name. Strings print bare; tables as TOML.",
    )
    get.add_argument("key", metavar="KEY")
    get.add_argument("--json", action="store_true", help="print the value as JSON")
    set_ = _sub(
        cfg,
        "set",
        "change one value, keeping everything else as written",
        _lazy(mod, "set_"),
        "Set a dotted key to a value. VALUE is read as TOML: '\"eu-west-1\"', 8080,\n"
        "true, '[\"203.0.113.7/32\"]', '{ kind = \"static\" }'; text that is not TOML\n"
        "is taken as a string. The result is validated before anything is written.",
    )
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("value", metavar="VALUE")
    unset = _sub(cfg, "unset", "remove one key (its default applies again)", _lazy(mod, "unset"))
    unset.add_argument("key", metavar="KEY")
    server = _sub(
        commands,
        "server",
        "provision the Pilot Server with Terraform",
        None,
        "Provision, inspect and remove the Pilot Server. Terraform runs with -json;\n"
        "its full output is logged under .pilot/logs/. Ctrl+C stops Terraform\n"
        "gracefully (state saved); a second Ctrl+C forces it.",
    )
    srv = server.add_subparsers(
        dest="server_command", metavar="ACTION", title="actions", required=True
    )
    mod = "pilot_tui.cli.server_cmds"
    p = _sub(srv, "plan", "show what would be created or changed", _lazy(mod, "plan"))
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p = _sub(srv, "up", "plan, confirm, then create or update the server", _lazy(mod, "up"))
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p = _sub(
        srv, "status", "show the server's address, resources and sandbox", _lazy(mod, "status")
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p = _sub(
        srv,
        "destroy",
        "list everything that will be removed, then remove it",
        _lazy("pilot_tui.cli.teardown_cmd", "destroy"),
    )
    p.add_argument("--yes", "-y", action="store_true", help="destroy without asking")
    p.add_argument(
        "--keep-state",
        action="store_true",
        help="keep the state bucket and lock table ([state] backend)",
    )
    tools = "pilot_tui.cli.server_tools"
    p = _sub(
        srv,
        "eject",
        "copy the Terraform templates into the project; you own them",
        _lazy(tools, "eject"),
        "Copy the server's Terraform templates into the project (default: infra/) and\n"
        "record it as terraform.templates in pilot.toml; Pilot renders your copy from\n"
        "then on.",
    )
    p.add_argument(
        "--to",
        default="infra",
        metavar="DIR",
        help="folder for the templates, relative to pilot.toml (default: infra)",
    )
    p = _sub(
        srv,
        "ssh",
        "open an SSH session on the Pilot Server (with Pilot's key)",
        _lazy(tools, "ssh"),
    )
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="a command to run instead of a shell",
    )
    sandbox = _sub(
        commands,
        "sandbox",
        'the local emulators behind server.home = "sandbox"',
        None,
        "The sandbox's local AWS API and GCS emulator run in the background\n"
        "between commands (their state lives in memory). `server destroy` stops them.",
    )
    sbx = sandbox.add_subparsers(
        dest="sandbox_command", metavar="ACTION", title="actions", required=True
    )
    p = _sub(
        sbx,
        "status",
        "show whether the emulators run, and where",
        _lazy("pilot_tui.cli.sandbox_cmds", "status"),
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    _sub(
        sbx,
        "stop",
        "stop the emulators (the sandbox's resources go with them)",
        _lazy("pilot_tui.cli.sandbox_cmds", "stop"),
    )
    p = _sub(
        commands,
        "credentials",
        "find cloud credentials and check them live",
        _lazy("pilot_tui.cli.credentials_cmd", "run"),
        "List the AWS profiles and Google credentials on this machine and check each\n"
        "live (STS GetCallerIdentity; a Cloud Storage call on gcp.project). Exit 1 when\n"
        "the ones pilot.toml uses fail. Names and paths only: keys are never shown.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    _deploy_commands(commands)
    return parser


def _deploy_commands(commands: Any) -> None:
    mod = "pilot_tui.cli.deploy_cmds"
    p = _sub(
        commands,
        "deploy",
        "build, deploy and release apps on the Pilot Server",
        _lazy(mod, "deploy"),
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
    p = _sub(commands, "releases", "list an app's releases, newest first", _lazy(mod, "releases"))
    p.add_argument("app", metavar="APP")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = _sub(
        commands,
        "rollback",
        "put a previous release back, without rebuilding",
        _lazy(mod, "rollback"),
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
    p = _sub(commands, "logs", "print an app's container logs", _lazy(mod, "logs"))
    p.add_argument("app", metavar="APP")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--tail",
        type=int,
        default=200,
        metavar="N",
        help="lines of history to start with (default 200)",
    )
    p = _sub(
        commands,
        "status",
        "the proxy and each app: release, health, URL",
        _lazy(mod, "status"),
        "Show the proxy and each app's live release, health (its health path asked on\n"
        "the host) and URL. Exit 1 when a deployed app is unhealthy or stopped.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    secrets = _sub(
        commands,
        "secrets",
        "an app's secret values, kept in .pilot/ (0600)",
        None,
        "Secret values never go into pilot.toml: it lists their names in\n"
        "apps.secrets. Values come from the environment at deploy time, else from\n"
        ".pilot/secrets/APP.env, which these commands manage.",
    )
    sec = secrets.add_subparsers(
        dest="secrets_command", metavar="ACTION", title="actions", required=True
    )
    p = _sub(
        sec,
        "set",
        "store a value, read from stdin or typed without echo",
        _lazy(mod, "secrets_set"),
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("name", metavar="NAME")
    p = _sub(
        sec,
        "list",
        "which secrets APP needs, and where each value comes from",
        _lazy(mod, "secrets_list"),
    )
    p.add_argument("app", metavar="APP")
    app = _sub(commands, "app", "list and remove apps", None)
    apps = app.add_subparsers(dest="app_command", metavar="ACTION", title="actions", required=True)
    p = _sub(
        apps,
        "new",
        "add an app to pilot.toml (asks in a terminal; flags for scripts)",
        _lazy("pilot_tui.cli.app_new", "run"),
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
    _sub(apps, "list", "each app with its build, target and live release", _lazy(mod, "app_list"))
    p = _sub(
        apps,
        "dockerfile",
        "print the Dockerfile APP builds with (--eject: keep it)",
        _lazy(mod, "app_dockerfile"),
        "Print the Dockerfile APP builds with: its own, or the one Pilot generates for\n"
        'build.kind = "auto" (Node, Python, Go, static site). --eject writes the\n'
        'generated one into the app\'s folder and sets build.kind = "dockerfile".',
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("--eject", action="store_true", help="write it into the app's folder")
    im = "pilot_tui.cli.identity_cmds"
    dep = _sub(
        commands,
        "deployer",
        "the least-privilege identities deploys use",
        None,
        "AWS: an IAM user allowed only this project's resources (named after it) and\n"
        "the execution roles it passes on. GCP: a service account with deploy roles.\n"
        "Setup makes them; their keys live in .pilot/keys/ (0600), never printed.",
    )
    dpc = dep.add_subparsers(
        dest="deployer_command", metavar="ACTION", title="actions", required=True
    )
    for action, help_text in (
        ("create", "create (or update) the identity and store a fresh key"),
        ("rotate", "store a new key, then delete the old one"),
        ("remove", "delete the identity, its keys and the local key file"),
    ):
        p = _sub(dpc, action, help_text, _lazy(im, action))
        p.add_argument(
            "--cloud",
            choices=("aws", "gcp"),
            default="aws",
            help="which cloud's deployer (default: aws)",
        )
    tm = "pilot_tui.cli.team_cmds"
    team = _sub(
        commands,
        "team",
        "teammates on the Pilot Server, each with their own key",
        None,
        "Share one Pilot Server: each teammate has their own SSH key on it,\n"
        "added with `invite` and removed alone with `team remove`.",
    )
    tmc = team.add_subparsers(dest="team_command", metavar="ACTION", title="actions", required=True)
    _sub(
        tmc,
        "request",
        "(teammate) print your public key to send to the server's owner",
        _lazy(tm, "request"),
    )
    _sub(tmc, "list", "teammates whose keys are on the server", _lazy(tm, "list_"))
    p = _sub(tmc, "remove", "remove one teammate's key from the server", _lazy(tm, "remove"))
    p.add_argument("name", metavar="NAME")
    p = _sub(
        commands,
        "invite",
        "authorise a teammate's key and write their invite file",
        _lazy(tm, "invite"),
        "Authorise a teammate's PUBLIC key (from `pilot-tui team request`) on the Pilot\n"
        "Server, tagged with their name, and write an invite file for them: the server's\n"
        "address and host keys and where state lives. It holds no secret.",
    )
    p.add_argument("name", metavar="NAME", help="the teammate, e.g. alice")
    p.add_argument(
        "--key",
        required=True,
        metavar="PUBLIC_KEY",
        help="their public key line (ssh-ed25519 AAAA...)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="invite file (default: pilot-invite-NAME.toml beside pilot.toml)",
    )
    p = _sub(
        commands,
        "join",
        "(teammate) use an invite: record the server, pin its host key",
        _lazy(tm, "join_cmd"),
    )
    p.add_argument("invite", metavar="INVITE_FILE")
    waypoint = _sub(commands, "waypoint", 'waypoint.hcl for server.engine = "waypoint"', None)
    wp = waypoint.add_subparsers(
        dest="waypoint_command", metavar="ACTION", title="actions", required=True
    )
    p = _sub(
        wp,
        "export",
        "write waypoint.hcl: build/registry/deploy/release per app",
        _lazy("pilot_tui.cli.waypoint_cmds", "waypoint_export"),
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
    p = _sub(
        apps,
        "destroy",
        "stop an app and remove its containers and route",
        _lazy(mod, "app_destroy"),
    )
    p.add_argument("app", metavar="APP")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
