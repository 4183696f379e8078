"""`pilot-tui deployer create|rotate|remove`: the identities deploys use."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.identity_cmds"
ACTIONS = (
    ("create", "create (or update) the identity and store a fresh key"),
    ("rotate", "store a new key, then delete the old one"),
    ("remove", "delete the identity, its keys and the local key file"),
)


def register(commands: Commands) -> None:
    dep = add_command(
        commands,
        "deployer",
        "the least-privilege identities deploys use",
        None,
        "AWS: an IAM user allowed only this project's resources (named after it) and\n"
        "the execution roles it passes on. GCP: a service account with deploy roles.\n"
        "Setup makes them; their keys live in .pilot/keys/ (0600), never printed.",
    )
    dpc = add_actions(dep, "deployer_command")
    for action, help_text in ACTIONS:
        p = add_command(dpc, action, help_text, lazy(HANDLERS, action))
        p.add_argument(
            "--cloud",
            choices=("aws", "gcp"),
            default="aws",
            help="which cloud's deployer (default: aws)",
        )
