"""Pushing an image from the Pilot Server's Docker to a managed target's registry.

Pilot logs the engine in for each push only: the credentials travel with the push request
(X-Registry-Auth), so nothing is left in the server's ~/.docker/config.json. ECR's token comes
from ecr:GetAuthorizationToken (12 hours); Artifact Registry's from the Google credentials
(artifact_registry.docker_login). Either works from a server on the other cloud: the token is
fetched here, by whoever deploys, and handed to the engine.

``PILOT_REGISTRY`` (host:port) replaces the registry host ECR names, for emulators: moto has
ECR's API but no registry behind it, so tests push to a real `docker-registry` on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.cloud.aws_errors import converted
from pilot_tui.errors import PilotError
from pilot_tui.naming import project_tags

if TYPE_CHECKING:
    from docker import DockerClient
    from mypy_boto3_ecr import ECRClient

REGISTRY_OVERRIDE = "PILOT_REGISTRY"


class RegistryError(PilotError):
    """Login or push failed; the message names the registry and what it said."""

    title = "Registry refused"


@dataclass(frozen=True)
class Registry:
    host: str  # 123456789012.dkr.ecr.eu-west-1.amazonaws.com, europe-west1-docker.pkg.dev
    repository: str  # the path after the host: pilot-acme-api, gcp-project/pilot-acme/api
    username: str
    password: str = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def reference(self, tag: str) -> str:
        return f"{self.name}:{tag}"


def _host(found: str) -> str:
    return os.environ.get(REGISTRY_OVERRIDE) or found.removeprefix("https://")


def lambda_pull_policy(functions: str) -> dict[str, object]:
    """A repository policy letting Lambda pull its images for the functions ``functions``
    (an ARN pattern) alone. Lambda reads an image with its own service principal, which a
    same-account repository must admit; Lambda adds this itself only for a caller allowed
    ecr:SetRepositoryPolicy, which a pull request's role is not."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LambdaPulls",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringLike": {"aws:sourceArn": functions}},
            }
        ],
    }


def ensure_ecr_repository(
    ecr: ECRClient, repository: str, project: str, lambda_functions: str | None = None
) -> bool:
    """The ECR repository ``repository``, made (scanned on push, tagged with the project)
    when missing; with ``lambda_functions`` (a name pattern) its policy lets Lambda pull for
    the functions so named in its account and region alone (lambda_pull_policy). Whether
    it was made. One these credentials may not make is a RegistryError saying who does."""
    from botocore.exceptions import ClientError

    try:
        ecr.describe_repositories(repositoryNames=[repository])
        return False
    except ecr.exceptions.RepositoryNotFoundException:
        pass
    try:
        made = ecr.create_repository(
            repositoryName=repository,
            imageScanningConfiguration={"scanOnPush": True},
            tags=project_tags(project),
        )["repository"]
    except ClientError as exc:
        if "AccessDenied" not in str(exc):
            raise
        raise RegistryError(
            f"ECR repository {repository} does not exist, and these credentials may not make it",
            hint="a deploy from a machine with the project's deployer, or `pilot-tui ci "
            "github` run again, makes it",
        ) from exc
    if lambda_functions is not None:  # in the repository's own account and region
        arn = f"arn:aws:lambda:{ecr.meta.region_name}:{made['registryId']}:function:"
        policy = json.dumps(lambda_pull_policy(arn + lambda_functions))
        try:
            ecr.set_repository_policy(repositoryName=repository, policyText=policy)
        except ClientError as exc:  # not left without it: the next deploy makes it again
            ecr.delete_repository(repositoryName=repository, force=True)
            if "AccessDenied" not in str(exc):
                raise
            raise RegistryError(
                f"ECR repository {repository} needs a policy letting Lambda pull its images, "
                "and these credentials may not set it",
                hint="a deployer made before Pilot set it: `pilot-tui deployer create` "
                "gives it the grant",
            ) from exc
    return True


def ecr_registry(
    ecr: ECRClient, repository: str, project: str, lambda_functions: str | None = None
) -> Registry:
    """The ECR repository ``repository`` (ensure_ecr_repository) and a token for it. ``ecr``
    is a boto3 ECR client."""
    from botocore.exceptions import ClientError

    try:
        ensure_ecr_repository(ecr, repository, project, lambda_functions)
        data = ecr.get_authorization_token()["authorizationData"][0]
    except ClientError as exc:
        raise converted(f"ECR repository {repository}", exc, error=RegistryError) from exc
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    redact.register([password, data["authorizationToken"]])
    return Registry(_host(data["proxyEndpoint"]), repository, user, password)


def delete_ecr_repository(ecr: ECRClient, repository: str) -> bool:
    """Delete the repository and its images; False when there was none."""
    try:
        ecr.delete_repository(repositoryName=repository, force=True)
    except ecr.exceptions.RepositoryNotFoundException:
        return False
    return True


def delete_ecr_tags(
    ecr: ECRClient, repository: str, prefix: str, keep: frozenset[str] = frozenset()
) -> list[str]:
    """Delete the tags of ``repository`` that start with ``prefix``, but never one of an
    image whose digest is in ``keep`` (a release of the app names it: its rollback needs
    it); those deleted. ECR deletes an image with its last tag and keeps one another tag
    still names. [] when there is no such repository."""
    try:
        pages = ecr.get_paginator("list_images").paginate(
            repositoryName=repository, filter={"tagStatus": "TAGGED"}
        )
        tags = sorted(
            {
                str(image["imageTag"])
                for page in pages
                for image in page.get("imageIds", [])
                if str(image.get("imageTag", "")).startswith(prefix)
                and image.get("imageDigest") not in keep
            }
        )
    except ecr.exceptions.RepositoryNotFoundException:
        return []
    for start in range(0, len(tags), 100):  # BatchDeleteImage takes 100 at a time
        chunk = tags[start : start + 100]
        answer = ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageTag": t} for t in chunk]
        )
        refused = [f for f in answer.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
        if refused:
            first = refused[0]
            raise RegistryError(
                f"ECR kept {len(refused)} image tag(s) of {repository} "
                f"({first.get('failureCode')}: {first.get('failureReason')})"
            )
    return tags


def push(
    client: DockerClient, image_id: str, registry: Registry, tag: str, say: Callable[[str], None]
) -> str:
    """Tag ``image_id`` into the registry and push it; the pushed reference by digest
    (host/repository@sha256:...), which is what targets should run."""
    image = client.images.get(image_id)
    image.tag(registry.name, tag)
    auth = {"username": registry.username, "password": registry.password}
    digest = ""
    layers: dict[str, str] = {}
    try:
        for event in client.api.push(
            registry.name, tag, auth_config=auth, stream=True, decode=True
        ):
            if "error" in event:
                raise RegistryError(f"push to {registry.host}: {redact.text(str(event['error']))}")
            status, layer = event.get("status", ""), event.get("id", "")
            if (
                layer
                and status in ("Pushed", "Layer already exists", "Mounted from")
                and layers.get(layer) != status
            ):
                layers[layer] = status
                say(f"{layer}: {status.lower()}")
            digest = event.get("aux", {}).get("Digest", digest)
    except RegistryError:
        raise
    except Exception as exc:  # the engine could not reach the registry at all
        raise RegistryError(f"push to {registry.host}: {redact.text(str(exc))}") from exc
    finally:
        client.api.remove_image(registry.reference(tag), noprune=True)  # the image stays
    if not digest:
        raise RegistryError(f"push to {registry.host} ended without a digest")
    return f"{registry.name}@{digest}"
