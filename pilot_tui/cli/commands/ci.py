"""`pilot-tui ci github|remove`: deploys from GitHub Actions with no stored key."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.ci_cmds"
CI_ABOUT = (
    "`ci github` writes .github/workflows/pilot.yml: on a push to the branch it\n"
    "deploys the apps a CI run can (Lambdas, ECS, Cloud Run, S3 and GCS sites,\n"
    "and on AWS the Pilot Server's through its worker;\n"
    "images and build commands built on the runner's own Docker; each app secret\n"
    "from the repository's secret of that name). No key is stored anywhere: a run\n"
    "exchanges its OIDC token for short-lived credentials. The release history must\n"
    "be in the state bucket (a runner's .pilot/ goes with its job), whose cloud the\n"
    "runs act on. `ci remove` undoes what `ci github` made.\n"
    '  AWS (state.backend = "s3"): with your own credentials it makes the IAM OIDC\n'
    "  provider for GitHub's issuer, a role only runs on that branch can assume\n"
    "  (the deployer's policy), and a role only the repository's pull requests can\n"
    "  assume, which deploys previews (pr-NUMBER, removed when the pull request is\n"
    "  closed; an image app's images go to its previews' own ECR repository, made\n"
    "  here). The Pilot Server's apps, and their previews, are deployed through the\n"
    "  server's worker: a run pushes the image to ECR and leaves a request in the\n"
    "  state bucket, which `pilot-tui server worker` (left running where this .pilot/\n"
    "  is, or on the server itself with server.ci_worker = true) releases with the\n"
    "  secrets held there. The workflow's `rollback` job, started by hand on the\n"
    "  branch (gh workflow run pilot.yml -f app=APP [-f release=vN]), asks that\n"
    "  worker to roll one of them back.\n"
    '  Google Cloud (state.backend = "gcs", not the sandbox): with your own\n'
    "  credentials it makes the CI account pilot-PROJECT-ci (what the apps CI\n"
    "  deploys need, and the state bucket; no key), a workload identity pool whose\n"
    "  provider admits a push's run of this workflow on that branch of the\n"
    "  repository only, and the account's binding to it."
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
