"""`pilot-tui ci github|remove`: deploys from GitHub Actions with no stored key."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.ci_cmds"


def register(commands: Commands) -> None:
    ci = add_command(
        commands,
        "ci",
        "keyless deploys from CI (GitHub Actions)",
        None,
        "`ci github` writes .github/workflows/pilot.yml (deploy every app on a push to the\n"
        "default branch) and makes, with your own AWS credentials, the IAM OIDC provider\n"
        "for GitHub's issuer and a role only that repository's branch and pull requests\n"
        "can assume, with the deployer's policy. The run exchanges its OIDC token for the\n"
        "role's short-lived credentials: no access key is stored anywhere.",
    )
    actions = add_actions(ci, "ci_command")
    p = add_command(actions, "github", "set up GitHub Actions deploys", lazy(HANDLERS, "github"))
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the GitHub repository")
    p.add_argument("--branch", default="main", help="the branch that deploys (default: main)")
    p.add_argument(
        "--install",
        default="pip install pilot-tui",
        metavar="COMMAND",
        help="how the workflow installs pilot-tui on the runner (default: %(default)s)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace a workflow file that differs from Pilot's"
    )
    add_command(
        actions,
        "remove",
        "remove the role (and the provider when nothing else trusts it)",
        lazy(HANDLERS, "remove"),
    )
