"""`pilot-tui ci github|remove`: deploys from GitHub Actions with no stored key."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.ci_cmds"
CI_ABOUT = (
    "AWS only. `ci github` writes .github/workflows/pilot.yml: on a push to the branch it\n"
    "deploys the apps a CI run can (zip Lambdas and S3 sites without a build command;\n"
    "each app secret from the repository's secret of that name); on each pull request\n"
    "of the repository, previews of those that run previews (pr-NUMBER, removed when it\n"
    "is closed). With your own AWS credentials it makes the IAM OIDC provider for\n"
    "GitHub's issuer, a role only runs on that branch can assume (the deployer's\n"
    "policy), and a role only the repository's pull requests can assume (previews\n"
    "only). A run exchanges its OIDC token for a role's short-lived credentials: no\n"
    "access key is stored anywhere. The release history must be in the S3 state bucket\n"
    '(state.backend = "s3"): a runner\'s .pilot/ goes with its job.'
)


def register(commands: Commands) -> None:
    ci = add_command(
        commands,
        "ci",
        "keyless deploys from CI (GitHub Actions)",
        None,
        CI_ABOUT,
    )
    actions = add_actions(ci, "ci_command")
    p = add_command(
        actions, "github", "set up GitHub Actions deploys", lazy(HANDLERS, "github"), CI_ABOUT
    )
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
        "remove the roles (and the provider when nothing else trusts it)",
        lazy(HANDLERS, "remove"),
        "Remove the IAM roles `ci github` made (the branch's and the pull requests'), and\n"
        "GitHub's OIDC provider when no other role of the account trusts it. The workflow\n"
        "file is left for you to delete and commit.",
    )
