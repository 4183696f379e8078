"""Keyless deploys from GitHub Actions, as data: the role's trust policy (who may assume
it: GitHub's OIDC issuer, for runs on this repository's branch, and nothing else: not its
pull requests), a small evaluator of such a policy over a token's claims (IAM's own
evaluation cannot be had here: moto accepts any token), and the workflow `pilot-tui ci
github` writes.

No access key is stored anywhere: in a workflow run, pilot-tui asks GitHub for the run's
OIDC token and exchanges it with STS for short-lived credentials of the role
(oidc_exchange.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from typing import Any

ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# GitHub's certificate thumbprints IAM asks for (it verifies GitHub's tokens itself now,
# but the API still wants a list).
THUMBPRINTS = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
]
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")
ROLE_ENV = "PILOT_AWS_ROLE_ARN"  # the workflow's variable naming the role to assume
WORKFLOW = ".github/workflows/pilot.yml"
PRUNE_CRON = "17 * * * *"  # hourly, off the hour GitHub's scheduler is busiest


def role_name(project: str) -> str:
    return f"pilot-{project}-github"


def provider_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{ISSUER}"


def subjects(repo: str, branch: str) -> list[str]:
    """The token subjects the role admits: runs on ``branch`` of ``repo``, exactly. Not
    its pull requests (anyone who may open one, or a `pull_request_target` run with a
    fork's code, would get the deployer's rights), another branch, a tag or repository."""
    return [f"repo:{repo}:ref:refs/heads/{branch}"]


def trust_policy(account: str, repo: str, branch: str) -> dict[str, Any]:
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
                        f"{ISSUER}:sub": subjects(repo, branch),
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


def workflow(
    repo: str,
    branch: str,
    role_arn: str,
    region: str,
    install: str,
    apps: Sequence[str],
    secrets: Sequence[str] = (),
    pruned: Sequence[str] = (),
) -> str:
    """The workflow: deploy ``apps`` on a push to ``branch``, with the role's short-lived
    credentials (the job may ask GitHub for its OIDC token: `id-token: write`) and each of
    ``secrets`` from the repository's secret of that name, given to the deploy step only
    (not to checkout, setup or the install's packages); ``install`` is the shell command
    that installs pilot-tui on the runner. With ``pruned`` (apps that run previews), an
    hourly scheduled run removes their expired previews: GitHub runs it on the default
    branch, so the role must admit that one."""
    indent = "\n          "  # under the deploy step's env:
    passed = "".join(f"{indent}{json.dumps(name)}: ${{{{ secrets.{name} }}}}" for name in secrets)
    step_env = f"\n        env:{passed}" if secrets else ""
    schedule = f"\n  schedule:\n    - cron: {json.dumps(PRUNE_CRON)}" if pruned else ""
    where = {"role_arn": role_arn, "region": region, "install": install}
    deploy = _job("deploy", "push", f"pilot-tui deploy {' '.join(apps)}", **where)
    prune = _job(
        "prune",
        "schedule",
        f"pilot-tui preview prune {' '.join(pruned)}",
        **where,
        why="  # its own queue: a prune waiting never cancels a deploy waiting",
    )
    return f"""# Written by `pilot-tui ci github --repo {repo}`: deploys {", ".join(apps)} on a push
# to {branch}, with the short-lived credentials of the IAM role {role_arn}
# (no access key is stored: pilot-tui exchanges the run's OIDC token for them).
# `pilot-tui ci github --force` writes it again for the apps pilot.toml has then;
# `pilot-tui ci remove` removes the role; edit this file as you like.
name: pilot
on:
  push:
    branches: [{json.dumps(branch)}]{schedule}
permissions:
  id-token: write
  contents: read
jobs:{deploy}{step_env}{prune if pruned else ""}
"""


def _job(
    name: str, event: str, run: str, *, role_arn: str, region: str, install: str, why: str = ""
) -> str:
    """One job of the workflow: on ``event`` only, queued in its own group, with the role,
    pilot-tui installed, then ``run`` as its last step."""
    return f"""
  {name}:
    if: github.event_name == '{event}'
    concurrency:{why}
      group: pilot-{name}
      cancel-in-progress: false
    runs-on: ubuntu-latest
    env:
      {ROLE_ENV}: {role_arn}
      AWS_REGION: {region}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: {json.dumps(install)}
      - run: {run}"""
