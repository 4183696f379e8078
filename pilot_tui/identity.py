"""Least-privilege deployer identities: what deploys uses instead of your admin credentials.

AWS: an IAM user `pilot-PROJECT-deployer` whose only policy allows the project's own
resources (buckets, distributions, ECR repositories, ECS cluster, Lambda functions named
pilot-PROJECT-*). Its access key is written to .pilot/keys/aws-deployer.json (0600) and never
printed; rotating makes a new key, stores it, then deletes the old one, so keys never pile up.
GCP: the service account and its role bindings are built as data (no emulator here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.fsutil import atomic_write, ensure_private_dir

KEY_FILE = "aws-deployer.json"


class IdentityError(Exception):
    """The identity could not be made or rotated; the message says why (never a key)."""


def user_name(project: str) -> str:
    return f"pilot-{project}-deployer"


def aws_policy(project: str, account: str, region: str) -> dict[str, Any]:
    """Only what deploys need, only on resources named after the project."""
    prefix = f"pilot-{project}-"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "SiteBuckets", "Effect": "Allow",
         "Action": ["s3:CreateBucket", "s3:ListBucket", "s3:GetObject", "s3:PutObject",
                    "s3:DeleteObject", "s3:PutBucketPolicy", "s3:GetBucketPolicy",
                    "s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration",
                    "s3:DeleteBucket"],
         "Resource": [f"arn:aws:s3:::{prefix}*", f"arn:aws:s3:::{prefix}*/*"]},
        {"Sid": "StateAndHistory", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::pilot-state-{project}",
                      f"arn:aws:s3:::pilot-state-{project}/*"]},
        {"Sid": "Cdn", "Effect": "Allow",
         "Action": ["cloudfront:CreateDistribution", "cloudfront:GetDistribution",
                    "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution",
                    "cloudfront:DeleteDistribution", "cloudfront:ListDistributions",
                    "cloudfront:CreateInvalidation", "cloudfront:CreateOriginAccessControl"],
         "Resource": "*"},  # CloudFront ids are random: no name to scope by
        {"Sid": "Images", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:PutImage",
                    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload", "ecr:CreateRepository",
                    "ecr:DescribeRepositories", "ecr:BatchGetImage"],
         "Resource": f"arn:aws:ecr:{region}:{account}:repository/{prefix}*"},
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken",
         "Resource": "*"},
        {"Sid": "Functions", "Effect": "Allow", "Action": "lambda:*",
         "Resource": f"arn:aws:lambda:{region}:{account}:function:{prefix}*"},
        {"Sid": "Services", "Effect": "Allow", "Action": ["ecs:*"],
         "Resource": [f"arn:aws:ecs:{region}:{account}:cluster/pilot-{project}",
                      f"arn:aws:ecs:{region}:{account}:service/pilot-{project}/*",
                      f"arn:aws:ecs:{region}:{account}:task-definition/{prefix}*"]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:FilterLogEvents", "logs:GetLogEvents"],
         "Resource": f"arn:aws:logs:{region}:{account}:log-group:/pilot/{project}/*"},
    ]}


@dataclass
class AwsDeployer:
    iam: Any
    sts: Any
    project: str
    region: str

    def ensure(self) -> str:
        """Create the user (idempotent) and (re)apply its policy; its ARN."""
        name = user_name(self.project)
        try:
            user = self.iam.get_user(UserName=name)["User"]
        except self.iam.exceptions.NoSuchEntityException:
            user = self.iam.create_user(UserName=name, Tags=[
                {"Key": "pilot:project", "Value": self.project}])["User"]
        account = self.sts.get_caller_identity()["Account"]
        self.iam.put_user_policy(UserName=name, PolicyName="pilot-deploy",
                                 PolicyDocument=json.dumps(aws_policy(self.project, account,
                                                                      self.region)))
        return str(user["Arn"])

    def rotate(self, keys_dir: Path) -> str:
        """A new access key, stored 0600, then every older key deleted; the new key's id.
        IAM allows two keys a user: the oldest goes first if two exist already."""
        name = user_name(self.project)
        existing = sorted(self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"],
                          key=lambda k: k["CreateDate"])
        if len(existing) >= 2:
            self.iam.delete_access_key(UserName=name, AccessKeyId=existing[0]["AccessKeyId"])
            existing = existing[1:]
        made = self.iam.create_access_key(UserName=name)["AccessKey"]
        ensure_private_dir(keys_dir)
        atomic_write(keys_dir / KEY_FILE, json.dumps({
            "user": name, "access_key_id": made["AccessKeyId"],
            "secret_access_key": made["SecretAccessKey"]}) + "\n", mode=0o600)
        for old in existing:  # stored first: a failure here leaves a usable key
            self.iam.delete_access_key(UserName=name, AccessKeyId=old["AccessKeyId"])
        return str(made["AccessKeyId"])

    def remove(self, keys_dir: Path) -> None:
        name = user_name(self.project)
        for key in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            self.iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        self.iam.delete_user_policy(UserName=name, PolicyName="pilot-deploy")
        self.iam.delete_user(UserName=name)
        (keys_dir / KEY_FILE).unlink(missing_ok=True)


def gcp_deployer_requests(project: str, gcp_project: str) -> list[dict[str, Any]]:
    """The IAM requests for a GCP deployer service account, as data (no emulator here):
    the account, and roles limited to what deploys need."""
    account = f"pilot-{project}-deployer"[:30].rstrip("-")
    email = f"{account}@{gcp_project}.iam.gserviceaccount.com"
    roles = ["roles/run.developer", "roles/artifactregistry.writer",
             "roles/storage.objectAdmin", "roles/compute.loadBalancerAdmin",
             "roles/iam.serviceAccountUser"]
    return [{"method": "projects.serviceAccounts.create",
             "body": {"accountId": account, "serviceAccount": {
                 "displayName": f"Pilot deployer for {project}"}}}] + [
        {"method": "projects.setIamPolicy.addBinding",
         "body": {"role": role, "member": f"serviceAccount:{email}"}} for role in roles]


def aws_deploy_session(config: Any, state_dir: Path) -> Any:
    """The boto3 session deploys use: the deployer's key when `pilot-tui deployer create`
    made one, else the profile in pilot.toml (your own credentials)."""
    import boto3

    key_file = state_dir / "keys" / KEY_FILE
    if key_file.is_file():
        from pilot_tui import redact

        stored = json.loads(key_file.read_text(encoding="utf-8"))
        redact.register([stored["secret_access_key"]])
        return boto3.Session(aws_access_key_id=stored["access_key_id"],
                             aws_secret_access_key=stored["secret_access_key"],
                             region_name=config.aws.region)
    return boto3.Session(profile_name=config.aws.profile, region_name=config.aws.region)
