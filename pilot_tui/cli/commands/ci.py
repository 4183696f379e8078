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
        "`ci github` writes .github/workflows/pilot.yml (on a push to the branch, deploy\n"
        "the apps a CI run can: zip Lambdas and S3 sites without a build command; each\n"
        "app secret from the repository's secret of that name) and makes, with your own\n"
        "AWS credentials, the IAM OIDC provider for GitHub's issuer and a role only runs\n"
        "on that repository's branch can assume (not its pull requests), with the\n"
        "deployer's policy. The run exchanges its OIDC token for the role's short-lived\n"
        "credentials: no access key is stored anywhere. The release history must be in\n"
        'the S3 state bucket (state.backend = "s3"): a runner\'s .pilot/ goes with its job.',
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
