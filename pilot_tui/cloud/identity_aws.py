"""Least-privilege deployer identities: what deploys uses instead of your admin credentials.

AWS: an IAM user `pilot-PROJECT-deployer` whose only policy allows the project's own
resources: buckets, ECR repositories, the ECS cluster, Lambda functions named pilot-PROJECT-*;
security groups, load balancers and CloudFront distributions carrying the project tag, which
it may write only while creating them (the policy: policy_aws.py; tests/unit/test_deployer_policy.py
checks it with cloudsplaining). Its access key is written to .pilot/keys/aws-deployer.json (0600)
and never printed; rotating makes a new key, stores it, then deletes the old one, so keys never
pile up.
GCP: the service account lives in identity_gcp.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.cloud.clients import AWS_KEY_FILE as KEY_FILE
from pilot_tui.cloud.clients import project_aws
from pilot_tui.cloud.policy_aws import EXECUTION_POLICIES, aws_policy, execution_secrets_policy
from pilot_tui.config.schema import EcsTarget, LambdaTarget, PilotConfig
from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.naming import (
    deployer_user,
    execution_roles,
    project_tags,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient


class IdentityError(PilotError):
    """The identity could not be made or rotated; the message says why (never a key)."""

    title = "Deployer identity failed"


# The AWS service each execution role trusts (by the target kind running as it).
TRUSTED_SERVICE = {
    LambdaTarget.kind: "lambda.amazonaws.com",
    EcsTarget.kind: "ecs-tasks.amazonaws.com",
}


def ensure_execution_role(iam: IAMClient, project: str, kind: str) -> tuple[str, bool]:
    """The execution role ``kind`` ("lambda", "ecs") runs as, made when missing, with its
    one AWS managed policy (attaching is idempotent): (its ARN, whether it was made now).
    Setup makes it with the admin's credentials; a deploy with your own makes it the same
    way when setup has not run."""
    role, created = execution_roles(project)[kind], False
    try:
        found = iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": TRUSTED_SERVICE[kind]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        found = iam.create_role(
            RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Tags=project_tags(project)
        )
        created = True
    iam.attach_role_policy(RoleName=role, PolicyArn=EXECUTION_POLICIES[kind])
    return str(found["Role"]["Arn"]), created


@dataclass
class AwsDeployer:
    iam: IAMClient
    sts: STSClient
    project: str
    region: str

    def ensure(self) -> str:
        """Create the user (idempotent) and (re)apply its policy; its ARN."""
        name = deployer_user(self.project)
        try:
            user = self.iam.get_user(UserName=name)["User"]
        except self.iam.exceptions.NoSuchEntityException:
            user = self.iam.create_user(UserName=name, Tags=project_tags(self.project))["User"]
        account = self.sts.get_caller_identity()["Account"]
        self.iam.put_user_policy(
            UserName=name,
            PolicyName="pilot-deploy",
            PolicyDocument=json.dumps(aws_policy(self.project, account, self.region)),
        )
        self.ensure_roles(account)
        return str(user["Arn"])

    def ensure_roles(self, account: str) -> list[str]:
        """The execution roles Lambda functions and ECS tasks run as (idempotent); the names
        of those it created."""
        made = [
            role
            for kind, role in execution_roles(self.project).items()
            if ensure_execution_role(self.iam, self.project, kind)[1]
        ]
        self.iam.put_role_policy(
            RoleName=execution_roles(self.project)[EcsTarget.kind],
            PolicyName="pilot-secrets",
            PolicyDocument=json.dumps(execution_secrets_policy(self.project, account, self.region)),
        )
        return made

    def has_key(self, key_id: str | None) -> bool:
        """Whether IAM still holds the access key ``key_id`` for the deployer (an active
        one): a stored key IAM no longer knows is useless and gets replaced."""
        if not key_id:
            return False
        keys = self.iam.list_access_keys(UserName=deployer_user(self.project))["AccessKeyMetadata"]
        return any(
            k["AccessKeyId"] == key_id and k.get("Status", "Active") == "Active" for k in keys
        )

    def rotate(self, keys_dir: Path) -> str:
        """A new access key, stored 0600, then every older key deleted; the new key's id.
        IAM allows two keys a user: the oldest goes first if two exist already."""
        name = deployer_user(self.project)
        existing = sorted(
            self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"],
            key=lambda k: k["CreateDate"],
        )
        if len(existing) >= 2:
            self.iam.delete_access_key(UserName=name, AccessKeyId=existing[0]["AccessKeyId"])
            existing = existing[1:]
        made = self.iam.create_access_key(UserName=name)["AccessKey"]
        ensure_private_dir(keys_dir)
        atomic_write(
            keys_dir / KEY_FILE,
            json.dumps(
                {
                    "user": name,
                    "access_key_id": made["AccessKeyId"],
                    "secret_access_key": made["SecretAccessKey"],
                }
            )
            + "\n",
            mode=0o600,
        )
        for old in existing:  # stored first: a failure here leaves a usable key
            self.iam.delete_access_key(UserName=name, AccessKeyId=old["AccessKeyId"])
        return str(made["AccessKeyId"])

    def remove(self, keys_dir: Path) -> None:
        """The user, its keys, the execution roles (deploys cannot run without them) and the
        GitHub Actions role of `pilot-tui ci github` (with the OIDC provider, when no other
        role of the account trusts it)."""
        name = deployer_user(self.project)
        gone = self.iam.exceptions.NoSuchEntityException
        try:  # idempotent: a second run (or a half-made deployer) finds less and goes on
            for key in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
            for inline in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                self.iam.delete_user_policy(UserName=name, PolicyName=inline)
            self.iam.delete_user(UserName=name)
        except gone:
            pass
        (keys_dir / KEY_FILE).unlink(missing_ok=True)
        for role in execution_roles(self.project).values():
            try:
                for attached in self.iam.list_attached_role_policies(RoleName=role)[
                    "AttachedPolicies"
                ]:
                    self.iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
                for inline in self.iam.list_role_policies(RoleName=role)["PolicyNames"]:
                    self.iam.delete_role_policy(RoleName=role, PolicyName=inline)
                self.iam.delete_role(RoleName=role)
            except gone:
                continue
        from pilot_tui.cloud.identity_github import GithubTrust

        account = self.sts.get_caller_identity()["Account"]
        GithubTrust(self.iam, self.project, account, self.region).remove()


def wants_aws_deployer(config: PilotConfig) -> bool:
    """Whether setup should make the AWS deployer: the server is on AWS (or the sandbox's
    simulated AWS), or an app is."""
    return config.server.home in ("aws", "sandbox") or any(
        a.target.cloud == "aws" for a in config.apps
    )


def aws_deployer(
    config: PilotConfig, state_dir: Path, *, sandbox: bool, start: bool = False
) -> AwsDeployer:
    """The project's deployer, managed with the admin's credentials (the profile in
    pilot.toml, or the sandbox's emulator: started only with ``start``, by a caller that
    says so)."""
    aws = project_aws(config, state_dir, sandbox=sandbox, start=start)
    if aws is None:
        from pilot_tui.cloud.sandbox import STOPPED

        raise IdentityError(f"{STOPPED}; `pilot-tui server up` starts them and makes the deployer")
    return AwsDeployer(
        aws.client("iam"),
        aws.client("sts"),
        config.project.name,
        config.aws.region,
    )


def setup_aws_deployer(
    config: PilotConfig, state_dir: Path, *, sandbox: bool
) -> tuple[str, str | None]:
    """Run by setup with the admin's credentials: the deployer user, its policy and the
    execution roles, and a key when none is stored yet. (ARN, new key id or None)."""
    deployer = aws_deployer(config, state_dir, sandbox=sandbox, start=True)  # up started them
    arn = deployer.ensure()
    keys = state_dir / "keys"
    key_id = None if deployer.has_key(stored_key_id(keys)) else deployer.rotate(keys)
    return arn, key_id


def stored_key_id(keys_dir: Path) -> str | None:
    """The access key id in .pilot/keys/aws-deployer.json (None: no readable file)."""
    try:
        stored = json.loads((keys_dir / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key_id = stored.get("access_key_id") if isinstance(stored, dict) else None
    return str(key_id) if key_id else None
