"""A job of the workflow `pilot-tui ci github` writes, run here as GitHub would run it:
its env, the repository's secrets, the run's OIDC token from a local stand-in of GitHub's
token service (tests/support/github_tokens.py), no key. Nothing of GitHub runs here."""

from __future__ import annotations

import shlex

import boto3
import yaml

from pilot_tui.cloud import github_oidc, oidc_exchange
from tests.support.iam_requests import UNRECORDED


def run_job(
    workflow: str,
    checkout,
    repository_secrets: dict[str, str],
    tokens,
    cli,
    monkeypatch,
    job_name: str = "deploy",
    pull_request: int | None = None,
    inputs: dict[str, str] | None = None,
):
    """The workflow's job ``job_name`` in ``checkout``: its env (each `${{ secrets.X }}` from
    ``repository_secrets``, as GitHub fills it; an unset one is empty, as on GitHub), the
    run's token service, no key; its pilot-tui steps run in order, each with its own env,
    until one fails (``pull_request``: the number `${{ github.event.number }}` is;
    ``inputs``: a run started by hand's, each `${{ inputs.X }}` of an env, "" when not
    given, and a word "$NAME" of a step its variable's value, as the shell gives it). The
    last Result."""
    job = yaml.safe_load(workflow)["jobs"][job_name]
    steps = [step for step in job["steps"] if step.get("run", "").startswith("pilot-tui ")]
    assert steps
    if github_oidc.GCP_PROVIDER_ENV in job["env"]:  # (Google's stand-in admits or refuses)
        run_env = tokens.gcp_env(
            job["env"][github_oidc.GCP_PROVIDER_ENV], job["env"][github_oidc.GCP_ACCOUNT_ENV]
        )
    else:
        run_env = tokens.env(job["env"]["PILOT_AWS_ROLE_ARN"])
        _check_trust(job["env"]["PILOT_AWS_ROLE_ARN"], tokens.sub)
    asked = len(tokens.asked)
    for step in steps:
        with monkeypatch.context() as m:
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "API_TOKEN"):
                m.delenv(name, raising=False)
            for name, value in run_env.items():
                m.setenv(name, value)
            m.setattr(oidc_exchange, "_google", {})  # each job a process of its own
            given: dict[str, str] = {}
            for name, value in {**job["env"], **step.get("env", {})}.items():
                if value.startswith("${{ secrets."):
                    secret = value.removeprefix("${{ secrets.").removesuffix(" }}")
                    value = repository_secrets.get(secret, "")  # GitHub's "" if unset
                elif value.startswith("${{ inputs."):
                    value = (inputs or {}).get(value.removeprefix("${{ inputs.")[:-3], "")
                m.setenv(name, value)
                given[name] = value
            m.chdir(checkout)
            line = step["run"]
            if pull_request is not None:
                line = line.replace("${{ github.event.number }}", str(pull_request))
            assert "${{" not in line  # nothing else of the event reaches a command
            command = [
                given[word[1:]] if word.startswith("$") else word for word in shlex.split(line)
            ]
            ran = cli(*command[1:])
        if ran.code != 0:
            break
    assert ran.code != 0 or len(tokens.asked) > asked  # it deployed with the run's token
    return ran


def _check_trust(arn: str, sub: str) -> None:
    """moto's STS accepts any token: the role's trust, as IAM would judge this run's."""
    role = arn.rpartition("/")[2]
    iam = boto3.client("iam", region_name="us-east-1", config=UNRECORDED)
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    claims = {"iss": f"https://{github_oidc.ISSUER}", "aud": github_oidc.AUDIENCE, "sub": sub}
    assert github_oidc.admits(trust, claims, "123456789012"), f"{role} would refuse {sub}"
