"""The least-privilege deployer identity against the local AWS API (moto's IAM, real boto3):
scoped policy, a key stored 0600 and never printed, rotation that leaves exactly one key,
removal that leaves nothing. The GCP service account is checked as data (no emulator)."""

from __future__ import annotations

import json
import stat

import pytest

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.identity_aws import aws_policy
from pilot_tui.cloud.sandbox import Sandbox
from tests.conftest import run_pilot


@pytest.mark.slow
def test_create_rotate_remove_in_the_sandbox(tmp_path):
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    key_file = tmp_path / ".pilot" / "keys" / "aws-deployer.json"
    try:
        made = run_pilot("deployer", "create", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert made.stdout.strip().endswith(":user/pilot-acme-deployer")
        stored = json.loads(key_file.read_text())
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stored["secret_access_key"] not in made.stdout + made.stderr

        emulators = Sandbox(tmp_path / ".pilot").running()
        iam = emulator_aws("us-east-1").session.client("iam", endpoint_url=emulators["aws"].url)
        policy = iam.get_user_policy(UserName="pilot-acme-deployer", PolicyName="pilot-deploy")[
            "PolicyDocument"
        ]
        policy = json.loads(policy) if isinstance(policy, str) else policy
        buckets = next(s for s in policy["Statement"] if s["Sid"] == "SiteBuckets")
        assert buckets["Resource"] == ["arn:aws:s3:::pilot-acme-*", "arn:aws:s3:::pilot-acme-*/*"]
        assert not any(s["Action"] == "*" for s in policy["Statement"])

        for _ in range(3):  # rotate: always exactly one key, the stored one
            rotated = run_pilot("deployer", "rotate", cwd=tmp_path)
            assert rotated.returncode == 0, rotated.stderr
            keys = iam.list_access_keys(UserName="pilot-acme-deployer")["AccessKeyMetadata"]
            now = json.loads(key_file.read_text())
            assert [k["AccessKeyId"] for k in keys] == [now["access_key_id"]]
            assert now["secret_access_key"] not in rotated.stdout + rotated.stderr

        # The execution roles deploys pass on, made here by the admin, each trusting only
        # its service and holding only its AWS managed policy (+ ECS reading the secrets).
        for role, service, managed in (
            ("pilot-acme-lambda", "lambda.amazonaws.com", "AWSLambdaBasicExecutionRole"),
            ("pilot-acme-ecs-exec", "ecs-tasks.amazonaws.com", "AmazonECSTaskExecutionRolePolicy"),
        ):
            trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
            trust = json.loads(trust) if isinstance(trust, str) else trust
            assert [s["Principal"] for s in trust["Statement"]] == [{"Service": service}]
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
            assert [p["PolicyName"] for p in attached] == [managed]
        assert iam.list_role_policies(RoleName="pilot-acme-ecs-exec")["PolicyNames"] == [
            "pilot-secrets"
        ]

        removed = run_pilot("deployer", "remove", cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr
        users = [u["UserName"] for u in iam.list_users()["Users"]]
        assert "pilot-acme-deployer" not in users and not key_file.exists()
        assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("pilot-")]
    finally:
        Sandbox(tmp_path / ".pilot").stop()


def test_policies_are_scoped_to_the_project():
    policy = aws_policy("acme", "123456789012", "eu-west-1")
    ecs = next(s for s in policy["Statement"] if s["Sid"] == "Services")
    assert all("pilot-acme" in r for r in ecs["Resource"])
    # Deploys pass the execution roles on but cannot make roles or attach other policies.
    actions = {
        a
        for s in policy["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not {"iam:CreateRole", "iam:PutRolePolicy", "iam:CreateUser", "iam:*"} & actions
    attach = next(s for s in policy["Statement"] if s["Sid"] == "OnlyTheExecutionPolicies")
    assert set(attach["Condition"]["ArnEquals"]["iam:PolicyARN"]) == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    }
    secrets = next(s for s in policy["Statement"] if s["Sid"] == "Secrets")
    assert secrets["Resource"] == "arn:aws:ssm:eu-west-1:123456789012:parameter/pilot/acme/*"
    # (GCP's service account: tests/unit/test_identity_gcp.py, through a fake transport.)


def test_the_gcp_deployer_is_refused_in_the_sandbox(tmp_path):
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    refused = run_pilot("deployer", "create", "--cloud", "gcp", cwd=tmp_path)
    assert refused.returncode == 2
    assert "the GCP deployer needs gcp.project and a real Google Cloud project" in refused.stderr


def test_deploys_use_the_deployer_key_when_there_is_one(tmp_path):
    from types import SimpleNamespace

    from pilot_tui.cloud.clients import deployer_aws
    from pilot_tui.cloud.identity_aws import KEY_FILE

    config = SimpleNamespace(aws=SimpleNamespace(region="eu-west-1", profile=None))
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / KEY_FILE).write_text(
        json.dumps(
            {
                "user": "pilot-acme-deployer",
                "access_key_id": "AKIAIOSFODNN7DEPLOYR",
                "secret_access_key": "s3cr3t/Deployer+Key0",
            }
        )
    )
    session = deployer_aws(config, tmp_path).session
    credentials = session.get_credentials()
    assert credentials.access_key == "AKIAIOSFODNN7DEPLOYR"
    from pilot_tui import redact

    assert "s3cr3t/Deployer+Key0" not in redact.text("key s3cr3t/Deployer+Key0 leaked")


def test_up_with_no_changes_still_checks_the_deployer(sandbox_project):
    """Setup runs on every `up`, not only after Terraform changed something: a stored key
    IAM no longer holds is replaced, and a deployer that is gone (an `up` stopped before
    setup) is made again, though the plan says "No changes"."""
    import boto3

    from tests.support.server_fixtures import iam_client, sandbox_state

    project = sandbox_project
    first_up = run_pilot("server", "up", "--yes", cwd=project)
    assert first_up.returncode == 0, first_up.stderr
    assert "Next: describe your apps (pilot-tui app new" in first_up.stdout
    (project / "web").mkdir()
    (project / "web" / "index.html").write_text("<h1>hi</h1>\n")
    added = run_pilot(
        "app", "new", "--path", "web", "--name", "web", "--target", "server", cwd=project
    )
    assert added.returncode == 0, added.stderr
    key_file = project / ".pilot/keys/aws-deployer.json"
    first = json.loads(key_file.read_text())["access_key_id"]
    iam = iam_client(project)
    iam.delete_access_key(UserName="pilot-acme-deployer", AccessKeyId=first)

    again = run_pilot("server", "up", "--yes", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "No changes" in again.stdout
    # (found walking: it asked again for apps pilot.toml had)
    assert "Next: deploy your apps: pilot-tui deploy --all" in again.stdout
    stored = json.loads(key_file.read_text())
    assert stored["access_key_id"] != first
    assert [
        k["AccessKeyId"]
        for k in iam.list_access_keys(UserName="pilot-acme-deployer")["AccessKeyMetadata"]
    ] == [stored["access_key_id"]]
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{sandbox_state(project)['aws']['port']}",
        aws_access_key_id=stored["access_key_id"],
        aws_secret_access_key=stored["secret_access_key"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(":user/pilot-acme-deployer")

    # As after an `up` interrupted before setup: no deployer, no roles, no key file.
    assert run_pilot("deployer", "remove", cwd=project).returncode == 0
    assert not key_file.exists()
    third = run_pilot("server", "up", "--yes", cwd=project)
    assert third.returncode == 0, third.stderr
    assert "No changes" in third.stdout and "deploys use arn:aws:iam::" in third.stderr
    assert key_file.exists()
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} >= {
        "pilot-acme-lambda",
        "pilot-acme-ecs-exec",
    }
