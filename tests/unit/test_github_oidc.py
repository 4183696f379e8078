"""Keyless CI deploys as data: the role's trust policy admits exactly this repository's
branch and its pull requests, with GitHub's audience, and nothing else, checked by a small
evaluator over sample token claims (moto does not evaluate trust conditions: a token for
another repository is accepted there, so this is where they are proven); the workflow is a
valid GitHub workflow (check-jsonschema's vendored schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pilot_tui.cloud import github_oidc

ACCOUNT = "123456789012"
ISSUER = "https://token.actions.githubusercontent.com"
POLICY = github_oidc.trust_policy(ACCOUNT, "acme/shop", "main")


def schema_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema's verdict on the workflow ``text`` against GitHub's schema."""
    check = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert check, "check-jsonschema is a test dependency (pyproject's test extra)"
    path = tmp_path / "pilot.yml"
    path.write_text(text)
    return subprocess.run(
        [check, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def claims(sub: str, aud: str = "sts.amazonaws.com", iss: str = ISSUER) -> dict[str, str]:
    return {"sub": sub, "aud": aud, "iss": iss}


def test_the_trust_names_github_the_audience_and_exact_subjects():
    (statement,) = POLICY["Statement"]
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    }
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]
    assert list(condition) == ["StringEquals"]  # exact: no StringLike, so no pattern
    equals = condition["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = equals["token.actions.githubusercontent.com:sub"]
    assert subjects == ["repo:acme/shop:ref:refs/heads/main"]
    assert not any("*" in s or "?" in s for s in subjects)  # never a wildcard


@pytest.mark.parametrize(
    ("token", "admitted"),
    [
        (claims("repo:acme/shop:ref:refs/heads/main"), True),  # a push to main
        # a pull request: anyone who may open one would get the deployer's rights
        (claims("repo:acme/shop:pull_request"), False),
        (claims("repo:evil/shop:ref:refs/heads/main"), False),  # another repository
        (claims("repo:acme/shop-fork:pull_request"), False),  # a look-alike name
        (claims("repo:acme/shop:ref:refs/heads/feature"), False),  # another branch
        (claims("repo:acme/shop:ref:refs/tags/v1"), False),  # a tag
        (claims("repo:acme/shop:environment:production"), False),  # not named
        (claims("repo:acme/shop:ref:refs/heads/main", aud="other"), False),  # wrong audience
        (claims("repo:acme/shop:ref:refs/heads/main", iss="https://evil.test"), False),
    ],
)
def test_the_evaluator_admits_exactly_this_repository(token, admitted):
    assert github_oidc.admits(POLICY, token, ACCOUNT) is admitted


def test_the_evaluator_is_not_fooled_by_a_wildcard_policy():
    """The evaluator itself can say no and yes: a policy with a wildcard admits what ours
    refuses (so the refusals above are the policy's, not a broken evaluator's)."""
    loose = github_oidc.trust_policy(ACCOUNT, "acme/shop", "main")
    condition = loose["Statement"][0]["Condition"]
    del condition["StringEquals"]["token.actions.githubusercontent.com:sub"]
    condition["StringLike"] = {"token.actions.githubusercontent.com:sub": "repo:*"}
    assert github_oidc.admits(loose, claims("repo:evil/shop:ref:refs/heads/main"), ACCOUNT)
    assert not github_oidc.admits(loose, claims("repo:evil/x", aud="x"), ACCOUNT)


def test_the_workflow_deploys_on_a_push_with_an_oidc_token_only(tmp_path):
    text = github_oidc.workflow(
        "acme/shop",
        "main",
        github_oidc.aws_role("arn:aws:iam::1:role/pilot-acme-github", "eu-west-1"),
        "pip install x",
        ["fn", "site"],
        ["API_TOKEN"],
        ["fn"],
    )
    data = yaml.safe_load(text)
    # (YAML 1.1 reads `on` as True) pushes deploy; an hourly schedule prunes fn's previews
    assert data[True] == {"push": {"branches": ["main"]}, "schedule": [{"cron": "17 * * * *"}]}
    assert data["jobs"]["deploy"]["if"] == "github.event_name == 'push'"
    # each job its own queue: a scheduled prune waiting never cancels a deploy waiting
    assert "concurrency" not in data
    assert data["jobs"]["deploy"]["concurrency"]["group"] == "pilot-deploy"
    assert data["jobs"]["prune"]["concurrency"]["group"] == "pilot-prune"
    prune = data["jobs"]["prune"]
    assert prune["if"] == "github.event_name == 'schedule'"
    assert prune["steps"][-1] == {"run": "pilot-tui preview prune fn"}  # no secret there
    assert prune["env"]["PILOT_AWS_ROLE_ARN"] == "arn:aws:iam::1:role/pilot-acme-github"
    assert data["permissions"] == {"id-token": "write", "contents": "read"}
    job = data["jobs"]["deploy"]
    assert job["env"]["PILOT_AWS_ROLE_ARN"] == "arn:aws:iam::1:role/pilot-acme-github"
    assert job["steps"][-1]["run"] == "pilot-tui deploy fn site"
    # no stored key: the one secret passed is the app's own, from the repository's secret
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET" not in text
    # given to the deploy step only, not to checkout, setup or the install's packages
    assert job["steps"][-1]["env"] == {"API_TOKEN": "${{ secrets.API_TOKEN }}"}
    assert "API_TOKEN" not in job["env"] and text.count("secrets.") == 1
    # names YAML would read as something else stay strings
    odd = yaml.safe_load(
        github_oidc.workflow("a/b", "1.0", github_oidc.aws_role("arn", "r"), "i", ["fn"], ["ON"])
    )
    assert odd[True]["push"]["branches"] == ["1.0"]
    assert odd["jobs"]["deploy"]["steps"][-1]["env"] == {"ON": "${{ secrets.ON }}"}
    assert schema_check(text, tmp_path).returncode == 0
    broken = schema_check(text.replace("runs-on: ubuntu-latest", "runs-on: [[["), tmp_path)
    assert broken.returncode != 0  # the check can fail


def test_a_rollback_started_by_hand_passes_its_inputs_as_variables_only(tmp_path):
    """The server's apps' rollback job (workflow_dispatch): the app a choice of them, the
    release free text that reaches the command as a variable, never as the script's text
    (an input in a `run:` line is a script injection), after `--` (review: "--yes" as the
    release was read as an option); on the deployed branch alone (the role admits no
    other), in a queue of its own (review: in the deploys', a push's deploy waiting
    cancelled a rollback waiting)."""
    runs_as = github_oidc.aws_role("arn:aws:iam::1:role/pilot-acme-github", "eu-west-1")
    text = github_oidc.workflow(
        "acme/shop", "main", runs_as, "i", ["web", "fn"], [], [], None, ["web"]
    )
    data = yaml.safe_load(text)
    inputs = data[True]["workflow_dispatch"]["inputs"]
    assert inputs["app"]["type"] == "choice" and inputs["app"]["options"] == ["web"]
    assert inputs["release"]["type"] == "string" and not inputs["release"]["required"]
    job = data["jobs"]["rollback"]
    assert job["if"] == (
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'"
    )
    assert job["concurrency"]["group"] == "pilot-rollback"
    step = job["steps"][-1]
    assert step["run"] == 'pilot-tui rollback -- "$PILOT_APP" "$PILOT_RELEASE"'
    assert step["env"] == {
        "PILOT_APP": "${{ inputs.app }}",
        "PILOT_RELEASE": "${{ inputs.release }}",
    }
    assert all("inputs." not in s.get("run", "") for j in data["jobs"].values() for s in j["steps"])
    assert schema_check(text, tmp_path).returncode == 0
    none = yaml.safe_load(github_oidc.workflow("acme/shop", "main", runs_as, "i", ["fn"]))
    assert "workflow_dispatch" not in none[True] and "rollback" not in none["jobs"]


PREVIEWS = github_oidc.preview_trust_policy(ACCOUNT, "acme/shop")


@pytest.mark.parametrize(
    ("token", "admitted"),
    [
        (claims("repo:acme/shop:pull_request"), True),  # a pull request of the repository
        (claims("repo:acme/shop:ref:refs/heads/main"), False),  # a push: the other role's
        (claims("repo:evil/shop:pull_request"), False),  # another repository's
        (claims("repo:acme/shop-fork:pull_request"), False),  # a look-alike name
        (claims("repo:acme/shop:environment:production"), False),
        (claims("repo:acme/shop:pull_request", aud="other"), False),
        (claims("repo:acme/shop:pull_request", iss="https://evil.test"), False),
    ],
)
def test_the_previews_role_admits_exactly_this_repositorys_pull_requests(token, admitted):
    assert github_oidc.admits(PREVIEWS, token, ACCOUNT) is admitted


def test_pull_requests_get_previews_from_this_repository_only(tmp_path):
    """Each pull request of the repository (not a fork's) deploys its previews with the
    previews' role, named by its number alone (never text its author chose: a branch name
    in a `run:` line is a script injection), each secret from PREVIEW_NAME; its close
    removes them, queued behind that pull request's deploy."""
    previews_role = "arn:aws:iam::1:role/pilot-acme-github-previews"
    text = github_oidc.workflow(
        "acme/shop",
        "main",
        github_oidc.aws_role("arn:aws:iam::1:role/pilot-acme-github", "eu-west-1"),
        "pip install x",
        ["fn", "api", "site"],
        ["API_TOKEN"],
        ["fn", "api"],
        github_oidc.PreviewJobs(
            github_oidc.aws_role(previews_role, "eu-west-1"), ["fn", "api"], ["API_TOKEN"]
        ),
    )
    data = yaml.safe_load(text)
    assert data[True]["pull_request"] == {"types": ["opened", "synchronize", "reopened", "closed"]}
    preview, remove = data["jobs"]["preview"], data["jobs"]["preview-remove"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["if"] == (
        f"github.event_name == 'pull_request' && github.event.action != 'closed' && {same_repo}"
    )
    assert remove["if"] == (
        f"github.event_name == 'pull_request' && github.event.action == 'closed' && {same_repo}"
    )
    for job in (preview, remove):
        assert job["env"]["PILOT_AWS_ROLE_ARN"] == previews_role
        assert job["concurrency"] == {
            "group": "pilot-preview-${{ github.event.number }}",
            "cancel-in-progress": False,
        }
    runs = [step for step in preview["steps"] if "run" in step][1:]
    assert [step["run"] for step in runs] == [
        "pilot-tui deploy fn --preview pr-${{ github.event.number }}",
        "pilot-tui deploy api --preview pr-${{ github.event.number }}",
    ]
    for step in runs:  # the previews' value, never the app's own secret
        assert step["env"] == {"PREVIEW_API_TOKEN": "${{ secrets.PREVIEW_API_TOKEN }}"}
    assert [step["run"] for step in remove["steps"] if "run" in step][1:] == [
        "pilot-tui preview destroy fn pr-${{ github.event.number }} --yes --missing-ok",
        "pilot-tui preview destroy api pr-${{ github.event.number }} --yes --missing-ok",
    ]
    # The push's deploy never runs for a pull request, nor a preview's for a push.
    assert data["jobs"]["deploy"]["if"] == "github.event_name == 'push'"
    # Of the event, a run line holds the number alone.
    used = {part.split("}}")[0].strip() for part in text.split("${{")[1:]}
    assert used == {
        "github.event.number",
        "secrets.API_TOKEN",
        "secrets.PREVIEW_API_TOKEN",
    }
    checked = schema_check(text, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
