"""`pilot-tui team request|list|remove`, `invite` and `join`: one server, a key each."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.team_cmds"


def register(commands: Commands) -> None:
    team = add_command(
        commands,
        "team",
        "teammates on the Pilot Server, each with their own key",
        None,
        "Share one Pilot Server: each teammate has their own SSH key on it,\n"
        "added with `invite` and removed alone with `team remove`.",
    )
    tmc = add_actions(team, "team_command")
    add_command(
        tmc,
        "request",
        "(teammate) print your public key to send to the server's owner",
        lazy(HANDLERS, "request"),
    )
    add_command(tmc, "list", "teammates whose keys are on the server", lazy(HANDLERS, "list_"))
    p = add_command(
        tmc, "remove", "remove one teammate's key from the server", lazy(HANDLERS, "remove")
    )
    p.add_argument("name", metavar="NAME")
    p = add_command(
        commands,
        "invite",
        "authorise a teammate's key and write their invite file",
        lazy(HANDLERS, "invite"),
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
    p = add_command(
        commands,
        "join",
        "(teammate) use an invite: record the server, pin its host key",
        lazy(HANDLERS, "join_cmd"),
    )
    p.add_argument("invite", metavar="INVITE_FILE")
