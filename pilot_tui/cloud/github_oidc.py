"""Keyless deploys from GitHub Actions, as data: the roles' trust policies (who may assume
them: GitHub's OIDC issuer, for runs on this repository's branch, and nothing else: not its
pull requests; and, for the previews' own role, this repository's pull requests), a small
evaluator of such a policy over a token's claims (IAM's own evaluation cannot be had here:
moto accepts any token), and the workflow `pilot-tui ci github` writes.

No access key is stored anywhere: in a workflow run, pilot-tui asks GitHub for the run's
OIDC token and exchanges it with STS for short-lived credentials of the role
(oidc_exchange.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# GitHub's certificate thumbprints IAM asks for (it verifies GitHub's tokens itself now,
# but the API still wants a list).
THUMBPRINTS = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
]
# GitHub's: an owner is letters, digits and hyphens (_ in an enterprise's managed
# users); a repository's name also . and _ (never "." or "..").
REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*/(?!\.\.?$)[A-Za-z0-9_.-]+$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


def branch_refusal(branch: str) -> str | None:
    """Why ``branch`` is no branch name a workflow could run on (git's rules that matter
    here), or None. A full ref (refs/heads/main) is the mistake most made: said so."""
    if branch.startswith("refs/"):
        return f"--branch {branch!r} is a full ref: give the branch's name alone, e.g. main"
    if (
        not BRANCH.fullmatch(branch)
        or branch.startswith(("-", "/"))
        or branch.endswith(("/", ".", ".lock"))
        or ".." in branch
        or "//" in branch
        or "/." in branch
        or branch.startswith(".")
    ):
        return f"--branch {branch!r} is not a branch name (no wildcards)"
    return None


ROLE_ENV = "PILOT_AWS_ROLE_ARN"  # the workflow's variable naming the role to assume
# On Google Cloud: the workload identity provider's full name and the account acted as.
GCP_PROVIDER_ENV = "PILOT_GCP_WORKLOAD_PROVIDER"
GCP_ACCOUNT_ENV = "PILOT_GCP_SERVICE_ACCOUNT"

WORKFLOW = ".github/workflows/pilot.yml"


def names_gcp_pool(root: Path) -> bool:
    """Whether the project's workflow (`ci github`'s) runs on Google Cloud: it names the
    workload identity provider. Unreadable or missing: it does not."""
    try:
        return GCP_PROVIDER_ENV in (root / WORKFLOW).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


PRUNE_CRON = "17 * * * *"  # hourly, off the hour GitHub's scheduler is busiest


def role_name(project: str) -> str:
    return f"pilot-{project}-github"


def preview_role_name(project: str) -> str:
    """The role pull requests' runs assume: previews only (policy_aws.preview_policy)."""
    return f"pilot-{project}-github-previews"


def provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{ISSUER}"


def subjects(repo: str, branch: str) -> list[str]:
    """The token subjects the role admits: runs on ``branch`` of ``repo``, exactly. Not
    its pull requests (anyone who may open one, or a `pull_request_target` run with a
    fork's code, would get the deployer's rights), another branch, a tag or repository."""
    return [f"repo:{repo}:ref:refs/heads/{branch}"]


def preview_subjects(repo: str) -> list[str]:
    """The token subjects the previews' role admits: a `pull_request` run of ``repo``,
    exactly (GitHub gives no OIDC token to a run of a fork's pull request)."""
    return [f"repo:{repo}:pull_request"]


def trust_policy(account: str, repo: str, branch: str) -> dict[str, Any]:
    """The deploying role's trust: runs on ``branch`` of ``repo``."""
    return _trust(account, subjects(repo, branch))


def preview_trust_policy(account: str, repo: str) -> dict[str, Any]:
    """The previews' role's trust: ``repo``'s pull requests."""
    return _trust(account, preview_subjects(repo))


def _trust(account: str, admitted: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(account)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{ISSUER}:aud": AUDIENCE,
                        f"{ISSUER}:sub": admitted,
                    },
                },
            }
        ],
    }


def admits(policy: dict[str, Any], claims: dict[str, str], account: str) -> bool:
    """Whether ``policy`` lets a token with ``claims`` (iss, aud, sub) assume the role, as
    IAM evaluates the parts such a policy uses: the federated principal, StringEquals and
    StringLike (``*`` and ``?`` globs) on ``ISSUER:aud`` / ``ISSUER:sub``."""
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        if statement.get("Principal", {}).get("Federated") != provider_arn(account):
            continue
        if claims.get("iss") != f"https://{ISSUER}":
            continue
        if "sts:AssumeRoleWithWebIdentity" not in _listed(statement.get("Action")):
            continue
        condition = statement.get("Condition", {})
        if all(
            _holds(operator, key, wanted, claims)
            for operator, tests in condition.items()
            for key, wanted in tests.items()
        ):
            return True
    return False


def _listed(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _holds(operator: str, key: str, wanted: object, claims: dict[str, str]) -> bool:
    claim = claims.get(key.removeprefix(f"{ISSUER}:"))
    if claim is None:
        return False
    if operator == "StringEquals":
        return claim in _listed(wanted)
    if operator == "StringLike":
        return any(fnmatch.fnmatchcase(claim, pattern) for pattern in _listed(wanted))
    return False  # an operator this evaluator does not know never admits


@dataclass(frozen=True)
class RunsAs:
    """What a job's runs act as: the variables that name it to pilot-tui, and how the
    workflow's header says it."""

    env: dict[str, str]
    said: str


def aws_role(arn: str, region: str) -> RunsAs:
    return RunsAs({ROLE_ENV: arn, "AWS_REGION": region}, f"the IAM role {arn}")


def gcp_account(provider: str, email: str) -> RunsAs:
    return RunsAs(
        {GCP_PROVIDER_ENV: provider, GCP_ACCOUNT_ENV: email},
        f"the service account {email}\n# (through the workload identity provider {provider})",
    )


@dataclass(frozen=True)
class PreviewJobs:
    """The pull requests' jobs of the workflow: a preview of each of ``apps`` per pull
    request, made as ``runs_as`` (previews only), removed when it is closed; each of
    ``secrets`` from the repository's secret PREVIEW_NAME (previews.secret_values)."""

    runs_as: RunsAs
    apps: Sequence[str]
    secrets: Sequence[str] = ()


# A pull request of this repository: a fork's gets no OIDC token (and no secrets).
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
# The preview's name: the pull request's number (never its branch's name, which its author
# chooses: text from the event in a `run:` line is a script injection).
PREVIEW_NAME = "pr-${{ github.event.number }}"


def workflow(
    repo: str,
    branch: str,
    runs_as: RunsAs,
    install: str,
    apps: Sequence[str],
    secrets: Sequence[str] = (),
    pruned: Sequence[str] = (),
    previews: PreviewJobs | None = None,
    rolled_back: Sequence[str] = (),
    rollback_secrets: Sequence[str] = (),
) -> str:
    """The workflow: deploy ``apps`` on a push to ``branch``, with the short-lived
    credentials of ``runs_as``, an AWS role or a Google service account (the job may ask
    GitHub for its OIDC token: `id-token: write`), and each of ``secrets`` from the
    repository's secret of that name, given to the deploy step only (not to checkout,
    setup or the install's packages); ``install`` is the shell command that installs
    pilot-tui on the runner. With ``pruned`` (apps that run previews), an hourly scheduled
    run removes their expired previews: GitHub runs it on the default branch, so the role
    must admit that one. With ``previews``, each pull request of the repository gets its
    previews, deployed again on each push to it and removed when it is closed, by the
    previews' own role. With ``rolled_back`` (apps whose releases' secrets a run needs
    not: the server's, whose worker holds them, and those with none), given
    ``rollback_secrets`` (the notification webhook's), a run started by hand on
    ``branch`` (the Actions tab's
    "Run workflow", or `gh workflow run pilot.yml -f app=APP [-f release=vN]`) rolls one
    back; its inputs reach the command as variables, never as text of the script."""
    schedule = f"\n  schedule:\n    - cron: {json.dumps(PRUNE_CRON)}" if pruned else ""
    pulls = (
        "\n  pull_request:\n    types: [opened, synchronize, reopened, closed]" if previews else ""
    )
    dispatch = _dispatch(rolled_back) if rolled_back else ""
    where = {"install": install}
    jobs = _job(
        "deploy",
        "github.event_name == 'push'",
        [f"pilot-tui deploy {' '.join(apps)}"],
        {name: f"secrets.{name}" for name in secrets},
        runs_as=runs_as,
        **where,
    )
    if pruned:
        jobs += _job(
            "prune",
            "github.event_name == 'schedule'",
            [f"pilot-tui preview prune {' '.join(pruned)}"],
            {},
            runs_as=runs_as,
            why="  # its own queue: a prune waiting never cancels a deploy waiting",
            **where,
        )
    if rolled_back:
        jobs += _job(
            "rollback",
            f"github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/{branch}'",
            # (after --, an input starting with "-" is no option: found reviewing)
            ['pilot-tui rollback -- "$PILOT_APP" "$PILOT_RELEASE"'],
            {
                "PILOT_APP": "inputs.app",
                "PILOT_RELEASE": "inputs.release",
                **{name: f"secrets.{name}" for name in rollback_secrets},
            },
            runs_as=runs_as,
            # Its own queue: a push's deploy waiting would cancel it in the deploys' (the
            # worker takes the requests one at a time, in order, whichever run asks).
            why="  # its own queue: a deploy waiting never cancels a rollback waiting",
            **where,
        )
    if previews:
        pull = "github.event_name == 'pull_request'"
        queue = "pilot-preview-${{ github.event.number }}"  # one pull request's, in order
        jobs += _job(
            "preview",
            f"{pull} && github.event.action != 'closed' && {SAME_REPO}",
            [f"pilot-tui deploy {app} --preview {PREVIEW_NAME}" for app in previews.apps],
            {f"PREVIEW_{name}": f"secrets.PREVIEW_{name}" for name in previews.secrets},
            runs_as=previews.runs_as,
            group=queue,
            **where,
        )
        jobs += _job(
            "preview-remove",
            f"{pull} && github.event.action == 'closed' && {SAME_REPO}",
            [
                f"pilot-tui preview destroy {app} {PREVIEW_NAME} --yes --missing-ok"
                for app in previews.apps
            ],
            {},
            runs_as=previews.runs_as,
            group=queue,  # after that pull request's deploy, never beside it
            **where,
        )
    by_pulls = (
        f"\n# Each pull request gets previews of {', '.join(previews.apps)} (named pr-NUMBER), "
        f"removed when\n# it is closed, as {previews.runs_as.said}\n# (previews only)."
        if previews
        else ""
    )
    by_hand = (
        f"\n# Run by hand on {branch} (Actions tab, or `gh workflow run pilot.yml -f app=APP "
        "[-f release=vN]`),\n# it rolls one of "
        f"{', '.join(rolled_back)} back (empty release: the one before the live one)."
        if rolled_back
        else ""
    )
    return f"""# Written by `pilot-tui ci github --repo {repo}`: deploys {", ".join(apps)} on a push
# to {branch}, with the short-lived credentials of {runs_as.said}.{by_pulls}{by_hand}
# No access key is stored: pilot-tui exchanges each run's OIDC token for them.
# `pilot-tui ci github --force` writes it again for the apps pilot.toml has then;
# `pilot-tui ci remove` removes that trust; edit this file as you like.
name: pilot
on:
  push:
    branches: [{json.dumps(branch)}]{pulls}{schedule}{dispatch}
permissions:
  id-token: write
  contents: read
jobs:{jobs}
"""


def _dispatch(apps: Sequence[str]) -> str:
    """The `on:` entry of a rollback started by hand: which app, and to which release."""
    return f"""
  workflow_dispatch:  # a rollback, started by hand on the branch deployed
    inputs:
      app:
        description: "The app to roll back"
        type: choice
        options: {json.dumps(list(apps))}
        required: true
      release:
        description: "The release to put back (vN); empty: the one before the live one"
        type: string
        required: false"""


def _job(
    name: str,
    condition: str,
    runs: list[str],
    passed: dict[str, str],
    *,
    runs_as: RunsAs,
    install: str,
    group: str = "",
    why: str = "",
) -> str:
    """One job of the workflow: when ``condition`` holds, queued in its own group (or
    ``group``), acting as ``runs_as``, pilot-tui installed, then each of ``runs`` as a step given
    ``passed`` ({variable: the expression it is set from}) and nothing else."""
    indent = "\n          "  # under a step's env:
    env = "".join(f"{indent}{json.dumps(k)}: ${{{{ {v} }}}}" for k, v in passed.items())
    step_env = f"\n        env:{env}" if passed else ""
    steps = "".join(f"\n      - run: {run}{step_env}" for run in runs)
    job_env = "".join(f"\n      {k}: {v}" for k, v in runs_as.env.items())
    return f"""
  {name}:
    if: {condition}
    concurrency:{why}
      group: {group or f"pilot-{name}"}
      cancel-in-progress: false
    runs-on: ubuntu-latest
    env:{job_env}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: {json.dumps(install)}{steps}"""
