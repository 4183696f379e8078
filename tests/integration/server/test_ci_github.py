"""`pilot-tui ci github` against the sandbox's local AWS API (moto): the OIDC provider and
the role are made, tagged, with the trust policy and the deployer's own policy; the
workflow is written (and a different one is not overwritten); a run's token is exchanged
for the role's short-lived credentials; `ci remove` and the deployer's removal take them
away.

Stand-ins, said plainly: GitHub's token service is a local HTTP server handing out a JWT
signed by a local key (HS256), and moto's AssumeRoleWithWebIdentity does not check the
token's signature or the trust conditions (a token for another repository is accepted
there: tests/unit/test_github_oidc.py proves the conditions instead)."""

from __future__ import annotations

import json

import pytest

from pilot_tui.apps import add_app
from pilot_tui.cloud import github_oidc, oidc_exchange
from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.policy_aws import ci_policy, preview_logs_policy, preview_policy
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from tests.support.deploy_fixtures import FN


def test_ci_github_makes_the_trust_writes_the_workflow_and_removes_them(
    tmp_path, cli, github_tokens
):
    assert cli("init", "--name", "acme").code == 0
    # what CI may deploy: a zip Lambda, its history shared (tests/integration/deploy/
    # test_ci_deploy.py runs the deploys)
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = add_app(pf.with_value("state.backend", "s3"), FN)
    (tmp_path / "pilot.toml").write_text(text)
    try:
        made = cli("ci", "github", "--repo", "acme/shop")
        assert made.code == 0, made.err
        arn = made.out.strip()
        assert arn.endswith(":role/pilot-acme-github")
        # what it says is what the trust admits: the branch, never the pull requests
        assert "only runs on acme/shop's main may assume it (not its pull requests" in made.err
        assert "(never the Terraform state or a backup)" in made.err  # the narrower role
        # the sandbox's account is simulated: said, as GitHub could not assume these roles
        assert "note: this is the sandbox: its AWS account is simulated" in made.err
        assert "the runs record their releases in the state bucket pilot-state-acme" in made.err
        url = Sandbox(tmp_path / ".pilot").running()["aws"].url
        aws = emulator_aws("us-east-1", url)
        iam = aws.client("iam")
        account = aws.client("sts").get_caller_identity()["Account"]
        role = iam.get_role(RoleName="pilot-acme-github")["Role"]
        assert role["AssumeRolePolicyDocument"] == github_oidc.trust_policy(
            account, "acme/shop", "main"
        )
        assert {"Key": "pilot:project", "Value": "acme"} in role["Tags"]
        policy = iam.get_role_policy(RoleName="pilot-acme-github", PolicyName="pilot-deploy")
        assert policy["PolicyDocument"] == ci_policy("acme", account, "us-east-1")
        provider = iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=github_oidc.provider_arn(account)
        )
        assert provider["ClientIDList"] == ["sts.amazonaws.com"]
        workflow = tmp_path / ".github" / "workflows" / "pilot.yml"
        assert f"PILOT_AWS_ROLE_ARN: {arn}" in workflow.read_text()
        # fn runs previews: the pull requests' own role, previews only
        previews = iam.get_role(RoleName="pilot-acme-github-previews")["Role"]
        assert previews["AssumeRolePolicyDocument"] == github_oidc.preview_trust_policy(
            account, "acme/shop"
        )
        assert {"Key": "pilot:project", "Value": "acme"} in previews["Tags"]
        inline = iam.get_role_policy(
            RoleName="pilot-acme-github-previews", PolicyName="pilot-deploy"
        )
        assert inline["PolicyDocument"] == preview_policy("acme", account, "us-east-1", ["fn"])
        assert f"PILOT_AWS_ROLE_ARN: {previews['Arn']}" in workflow.read_text()
        # and the role the previews run as: their own logs only
        runs_as = iam.get_role(RoleName="pilot-acme-lambda-previews")["Role"]
        trusted = runs_as["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert trusted == {"Service": "lambda.amazonaws.com"}
        own_logs = iam.get_role_policy(
            RoleName="pilot-acme-lambda-previews", PolicyName="pilot-deploy"
        )
        assert own_logs["PolicyDocument"] == preview_logs_policy(
            "acme", account, "us-east-1", ["fn"]
        )
        attached = iam.list_attached_role_policies(RoleName="pilot-acme-lambda-previews")
        assert attached["AttachedPolicies"] == []  # not AWSLambdaBasicExecutionRole

        again = cli("ci", "github", "--repo", "acme/shop")  # idempotent
        assert again.code == 0 and again.out.strip() == arn
        workflow.write_text(workflow.read_text() + "# my own step\n")
        kept = cli("ci", "github", "--repo", "acme/shop", "--branch", "release")
        assert kept.code != 0 and "--force" in kept.err
        # what --force would change is shown (walk: your own edits, unseen, were at stake)
        assert "  -# my own step" in kept.err and '  +    branches: ["release"]' in kept.err
        assert workflow.read_text().endswith("# my own step\n")  # nothing lost
        role = iam.get_role(RoleName="pilot-acme-github")["Role"]  # nor the trust changed
        assert role["AssumeRolePolicyDocument"] == github_oidc.trust_policy(
            account, "acme/shop", "main"
        )
        bad = cli("ci", "github", "--repo", "not a repo")
        assert bad.code == 2 and "OWNER/NAME" in bad.err

        # In the run: the token exchanged for the role's credentials; no key anywhere.
        asked = github_tokens.asked
        env = github_tokens.env(arn)
        assert oidc_exchange.in_github_actions(env)
        session = oidc_exchange.assumed_session("us-east-1", env, endpoint=url)
        assert asked[-1]["query"]["audience"] == ["sts.amazonaws.com"]
        assert asked[-1]["query"]["api-version"] == ["2.0"]
        identity = session.client("sts", endpoint_url=url).get_caller_identity()
        assert ":assumed-role/pilot-acme-github/pilot-github-77" in identity["Arn"]
        refused = {**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}
        with pytest.raises(Exception, match="id-token: write"):
            oidc_exchange.assumed_session("us-east-1", refused, endpoint=url)

        # another project of the account trusts the provider too: it stays for them
        other = github_oidc.trust_policy(account, "acme/blog", "main")
        iam.create_role(RoleName="pilot-blog-github", AssumeRolePolicyDocument=json.dumps(other))
        shared = cli("ci", "remove")
        assert shared.code == 0 and "OIDC provider" not in shared.err
        assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
        iam.delete_role(RoleName="pilot-blog-github")
        assert cli("ci", "github", "--repo", "acme/shop", "--force").code == 0

        removed = cli("ci", "remove")
        assert removed.code == 0, removed.err
        assert "removed IAM role pilot-acme-github\n" in removed.err
        assert "removed IAM role pilot-acme-github-previews" in removed.err
        assert "removed IAM role pilot-acme-lambda-previews" in removed.err
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="pilot-acme-github-previews")
        assert "removed OIDC provider token.actions.githubusercontent.com" in removed.err
        assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="pilot-acme-github")
    finally:
        Sandbox(tmp_path / ".pilot").stop()


def test_a_pull_requests_policy_iam_would_refuse_for_its_size_is_said_before_anything(
    tmp_path, cli
):
    """Review: the pull requests' role's policy grows with each app given previews, and
    IAM refuses a role's policies past 10,240 characters (moto does not). Nine Lambda apps
    running previews are refused by `ci github` naming the size and what to do, before any
    provider, role or workflow is made."""
    assert cli("init", "--name", "acme").code == 0
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = pf.with_value("state.backend", "s3")
    for n in range(9):
        (tmp_path / f"fn{n}").mkdir()
        text = add_app(text, {**FN, "name": f"payments-{n}", "path": f"fn{n}"})
    (tmp_path / "pilot.toml").write_text(text)
    try:
        refused = cli("ci", "github", "--repo", "acme/shop")
        assert refused.code == 1, refused.err
        assert "the pull requests' role's policy for the previews of 9 apps" in refused.err
        assert "above IAM's 10,240" in refused.err and "previews.max = 0" in refused.err
        assert not (tmp_path / ".github").exists()
        url = Sandbox(tmp_path / ".pilot").running()["aws"].url
        iam = emulator_aws("us-east-1", url).client("iam")
        assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "github" in r["RoleName"]] == []
        assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    finally:
        Sandbox(tmp_path / ".pilot").stop()
