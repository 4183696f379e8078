"""`pilot-tui ci github|remove`: deploys from GitHub Actions with no stored key."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.ci_cmds"
CI_ABOUT = (
    "`ci github` writes .github/workflows/pilot.yml. On a push to the branch it\n"
    "deploys the apps a CI run can: Lambdas, ECS, Cloud Run, S3 and GCS sites, and\n"
    "on AWS the Pilot Server's apps, through its worker. Images and build commands\n"
    "are built on the runner's own Docker; each app secret comes from the\n"
    "repository's secret of that name.\n"
    "\n"
    "No key is stored anywhere: a run exchanges its OIDC token for short-lived\n"
    "credentials. The release history must be in the state bucket (a runner's\n"
    ".pilot/ goes with its job), whose cloud the runs act on. `ci remove` undoes\n"
    "what `ci github` made.\n"
    "\n"
    'AWS (state.backend = "s3"), with your own credentials:\n'
    "  - the IAM OIDC provider for GitHub's issuer;\n"
    "  - a role only runs on that branch can assume: the deployer's policy, but of\n"
    "    the state bucket only the history, leases and deploy requests;\n"
    "  - a role only the repository's pull requests can assume, which deploys\n"
    "    previews (pr-NUMBER, removed when the pull request is closed; an image\n"
    "    app's images go to its previews' own ECR repository, made here).\n"
    "  The Pilot Server's apps, and their previews, go through the server's worker:\n"
    "  a run pushes the image to ECR and leaves a request in the state bucket;\n"
    "  `pilot-tui server worker` (left running where this .pilot/ is, or on the\n"
    "  server itself with server.ci_worker = true) releases it with the secrets\n"
    "  held there. The workflow's `rollback` job, started by hand on the branch\n"
    "  (gh workflow run pilot.yml -f app=APP [-f release=vN]), asks that worker to\n"
    "  roll one of them back.\n"
    "\n"
    'Google Cloud (state.backend = "gcs", not the sandbox), with your own\n'
    "credentials:\n"
    "  - the CI account pilot-PROJECT-ci, with no key: what the apps CI deploys\n"
    "    need, and of the state bucket the history, leases and deploy requests;\n"
    "  - a workload identity pool whose provider admits a push's run of this\n"
    "    workflow on that branch of the repository only, and the account's\n"
    "    binding to it.\n"
    "  The Pilot Server's apps go through `pilot-tui server worker` as on AWS, their\n"
    "  images through the project's Artifact Registry repository (CI may push\n"
    "  there; the deployer, which the worker pulls with, is granted it here). No\n"
    "  pull requests' previews on Google Cloud."
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
        "remove what `ci github` made",
        lazy(HANDLERS, "remove"),
        "Remove what `ci github` made, in the cloud the workflow names. AWS: the IAM roles\n"
        "(the branch's and the pull requests'), and GitHub's OIDC provider when no other\n"
        "role of the account trusts it. Google Cloud: the account's binding, the CI\n"
        "account (with its binding on the Cloud Run runtime account, which stays) and\n"
        "the workload identity pool. The workflow file is left for you to delete and\n"
        "commit.",
    )
