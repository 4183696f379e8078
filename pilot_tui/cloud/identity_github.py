"""The IAM side of keyless deploys from GitHub Actions (github_oidc.py holds the policy as
data): the account's OIDC identity provider for GitHub's issuer, made once and shared by
every project of the account, and the project's roles:

- ``pilot-PROJECT-github``, that only runs on the named repository's branch can assume (not
  its pull requests), with the deployer's policy narrowed to what runs use of the state
  bucket (policy_aws.ci_policy: the project's resources, never its Terraform state or
  backups);
- ``pilot-PROJECT-github-previews``, when apps run previews, that the repository's pull
  requests' runs assume, with the previews' policy (policy_aws.preview_policy: the previews'
  own functions, nothing of the apps'), and ``pilot-PROJECT-lambda-previews``, the role the
  previews run as (a pull request's code: their own logs only).

All tagged with the project; ``remove`` takes the roles away, and the provider too when no
other role of the account trusts it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pilot_tui.cloud import github_oidc
from pilot_tui.cloud.policy_aws import ci_policy, preview_logs_policy, preview_policy
from pilot_tui.errors import PilotError
from pilot_tui.naming import preview_execution_role, project_tags

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

POLICY_NAME = "pilot-deploy"
# IAM's limit on a role's inline policies, in characters not counting white space.
INLINE_POLICY_MAX = 10_240


class PolicyTooLarge(PilotError):
    """A role's policy IAM would refuse for its size; said before anything is changed."""

    title = "Policy too large"


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class GithubTrust:
    iam: IAMClient
    project: str
    account: str
    region: str

    @property
    def role(self) -> str:
        return github_oidc.role_name(self.project)

    @property
    def preview_role(self) -> str:
        return github_oidc.preview_role_name(self.project)

    def arn(self) -> str:
        """The role's ARN, made or not."""
        return f"arn:aws:iam::{self.account}:role/{self.role}"

    def preview_arn(self) -> str:
        """The previews' role's ARN, made or not."""
        return f"arn:aws:iam::{self.account}:role/{self.preview_role}"

    def ensure(
        self,
        repo: str,
        branch: str,
        previewed: Sequence[str] = (),
        images: Sequence[str] = (),
        servers: Sequence[str] = (),
    ) -> str:
        """The provider (when the account has none) and the role, its trust and policy set
        to these (idempotent: a new repository or branch replaces the old); with
        ``previewed`` (apps whose pull requests get previews; ``images``, those of them
        deployed as images; ``servers``, those of the Docker host, whose previews the
        server's worker makes) the previews' role and the role they run as too, else the
        previews' role is removed (the one they run as stays for the previews there are).
        The role's ARN."""
        self.check_previews(previewed, images, servers)  # before anything is changed
        provider = github_oidc.provider_arn(self.account)
        try:
            self.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)
        except self.iam.exceptions.NoSuchEntityException:
            self.iam.create_open_id_connect_provider(
                Url=f"https://{github_oidc.ISSUER}",
                ClientIDList=[github_oidc.AUDIENCE],
                ThumbprintList=github_oidc.THUMBPRINTS,
                Tags=project_tags(self.project),
            )
        arn = self._role(
            self.role,
            github_oidc.trust_policy(self.account, repo, branch),
            ci_policy(self.project, self.account, self.region),
            f"Pilot deploys of {self.project} from GitHub Actions ({repo})",
        )
        functions = [name for name in previewed if name not in servers]
        if previewed:
            self._role(
                self.preview_role,
                github_oidc.preview_trust_policy(self.account, repo),
                preview_policy(self.project, self.account, self.region, functions, images, servers),
                f"Pilot previews of {self.project} from pull requests ({repo})",
            )
        if functions:
            self._role(
                preview_execution_role(self.project),
                LAMBDA_TRUST,
                preview_logs_policy(self.project, self.account, self.region, functions),
                f"What {self.project}'s Lambda previews run as: their own logs only",
            )
        if not previewed:
            self._drop(self.preview_role)
        return arn

    def check_previews(
        self, previewed: Sequence[str], images: Sequence[str] = (), servers: Sequence[str] = ()
    ) -> None:
        """PolicyTooLarge when the pull requests' role's policy for these previews is past
        IAM's limit on a role's policies."""
        if not previewed:
            return
        functions = [name for name in previewed if name not in servers]
        _check_size(
            preview_policy(self.project, self.account, self.region, functions, images, servers),
            f"the pull requests' role's policy for the previews of {len(previewed)} "
            f"apps ({len(images)} of them images)",
            "give fewer apps previews from pull requests (previews.max = 0 in an app's "
            "[apps.previews]; its previews are then deployed from a laptop only)",
        )

    def _role(
        self, name: str, trust: Mapping[str, object], policy: Mapping[str, object], about: str
    ) -> str:
        """The role ``name`` with this trust and its one inline policy; its ARN."""
        trusted = json.dumps(trust)
        try:
            arn = self.iam.get_role(RoleName=name)["Role"]["Arn"]
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=trusted)
        except self.iam.exceptions.NoSuchEntityException:
            arn = self.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=trusted,
                Description=about,
                MaxSessionDuration=3600,
                Tags=project_tags(self.project),
            )["Role"]["Arn"]
        self.iam.put_role_policy(
            RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy)
        )
        return str(arn)

    def _drop(self, name: str) -> bool:
        """Remove the role ``name`` and its inline policies; whether there was one."""
        try:
            for inline in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=inline)
            self.iam.delete_role(RoleName=name)
        except self.iam.exceptions.NoSuchEntityException:
            return False
        return True

    def remove(self, keep: Sequence[str] = ()) -> list[str]:
        """The roles (but those named in ``keep``), and the provider when no other role
        trusts it; what was removed."""
        gone = self.iam.exceptions.NoSuchEntityException
        roles = (self.role, self.preview_role, preview_execution_role(self.project))
        removed = [f"IAM role {name}" for name in roles if name not in keep and self._drop(name)]
        provider = github_oidc.provider_arn(self.account)
        if self._pilots(provider) and not self._trusted_elsewhere(provider):
            try:
                self.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider)
                removed.append(f"OIDC provider {github_oidc.ISSUER}")
            except gone:
                pass
        return removed

    def _pilots(self, provider: str) -> bool:
        """Whether Pilot made the provider (its tag): one the account had before stays."""
        try:
            tags = self.iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=provider)
        except self.iam.exceptions.NoSuchEntityException:
            return False
        return any(tag["Key"] == "pilot:project" for tag in tags.get("Tags", []))

    def _trusted_elsewhere(self, provider: str) -> bool:
        """Whether a role of the account other than ours trusts ``provider``."""
        for page in self.iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"] in (self.role, self.preview_role):
                    continue
                document: object = role.get("AssumeRolePolicyDocument") or {}
                text = document if isinstance(document, str) else json.dumps(document)
                if provider in text:
                    return True
        return False


def _check_size(policy: Mapping[str, object], what: str, hint: str) -> None:
    """PolicyTooLarge when ``policy`` is over IAM's limit on a role's inline policies."""
    size = len(json.dumps(policy, separators=(",", ":")))
    if size > INLINE_POLICY_MAX:
        raise PolicyTooLarge(
            f"{what} would be {size:,} characters, above IAM's {INLINE_POLICY_MAX:,} for a "
            "role's policies",
            hint=hint,
        )
