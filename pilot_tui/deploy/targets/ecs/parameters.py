"""An ECS app's secrets: one SSM SecureString parameter per secret, `/pilot/PROJECT/APP/NAME`,
which the task definition only refers to (ECS fetches the value at task start), and the
project's one inline policy on the task execution role that lets its tasks read them."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pilot_tui.cloud.aws_errors import aws_call, unless
from pilot_tui.cloud.identity_aws import execution_secrets_policy
from pilot_tui.deploy.targets.managed import Say
from pilot_tui.naming import project_tags

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_ssm import SSMClient

SECRETS_POLICY = "pilot-secrets"  # inline on the execution role: the parameters


@dataclass
class SecretParameters:
    ssm: SSMClient
    iam: IAMClient
    project: str
    region: str
    role: str  # the project's task execution role (its name)
    path: str  # the SSM path of the app's secrets

    def store(
        self, names: Iterable[str], env: dict[str, str], role_arn: str, say: Say
    ) -> dict[str, str]:
        """{NAME: parameter ARN}: each secret of ``env`` in a SecureString parameter, written
        only when its value changed (a rewrite would add a parameter version every deploy)."""
        stored = sorted(n for n in set(names) if env.get(n))  # SSM refuses ""
        if not stored:
            return {}
        partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
        base = f"arn:{partition}:ssm:{self.region}:{account}:parameter"
        for name in stored:
            self._put(name, env[name], say)
        self._ensure_policy(partition, account)
        return {name: f"{base}{self.path}/{name}" for name in stored}

    def _put(self, name: str, value: str, say: Say) -> None:
        path = f"{self.path}/{name}"
        with aws_call(f"SSM parameter {path}", hide=value):
            found = unless(
                ("ParameterNotFound",), self.ssm.get_parameter, Name=path, WithDecryption=True
            )
            if found and (found["Parameter"]["Type"], found["Parameter"]["Value"]) == (
                "SecureString",
                value,
            ):
                return
            # AWS refuses Tags with Overwrite: a new parameter gets them, an update keeps them.
            more = {"Overwrite": True} if found else {"Tags": project_tags(self.project)}
            self.ssm.put_parameter(Name=path, Value=value, Type="SecureString", **more)
        say(f"{'updated' if found else 'stored'} secret {name} in SSM parameter {path}")

    def _ensure_policy(self, partition: str, account: str) -> None:
        """One policy for the project's parameters (the role is shared by its apps), made at
        setup (identity.AwsDeployer.ensure_roles); put here only when it is missing, since
        the deployer may not change role policies."""
        wanted = execution_secrets_policy(self.project, account, self.region, partition)
        with aws_call(f"IAM role {self.role}"):
            found_policy = unless(
                ("NoSuchEntity",),
                self.iam.get_role_policy,
                RoleName=self.role,
                PolicyName=SECRETS_POLICY,
            )
            document = found_policy and found_policy["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(urllib.parse.unquote(document))
            if document != wanted:
                self.iam.put_role_policy(
                    RoleName=self.role, PolicyName=SECRETS_POLICY, PolicyDocument=json.dumps(wanted)
                )

    def destroy(self, did: Say) -> None:
        """All the app's parameters, also of secrets no longer listed in pilot.toml."""
        with aws_call(f"SSM parameters {self.path}/"):
            names = [
                p["Name"]
                for page in self.ssm.get_paginator("get_parameters_by_path").paginate(
                    Path=self.path
                )
                for p in page["Parameters"]
            ]
            for start in range(0, len(names), 10):  # delete_parameters takes 10 at a time
                self.ssm.delete_parameters(Names=names[start : start + 10])
        if names:
            did(f"deleted SSM parameters {', '.join(sorted(names))}")
