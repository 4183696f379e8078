"""Pushing an image from the Pilot Server's Docker to a managed target's registry.

Pilot logs the engine in for each push only: the credentials travel with the push request
(X-Registry-Auth), so nothing is left in the server's ~/.docker/config.json. ECR's token comes
from ecr:GetAuthorizationToken (12 hours); Artifact Registry's from the Google credentials
(artifact_registry.docker_login). Either works from a server on the other cloud: the token is
fetched here, by whoever deploys, and handed to the engine.

``PILOT_REGISTRY`` (host:port) replaces the registry host ECR or Artifact Registry names, for
emulators: moto has ECR's API but no registry behind it, and nothing of Artifact Registry
runs here, so tests push to a real `docker-registry` on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.cloud.aws_errors import converted
from pilot_tui.errors import PilotError
from pilot_tui.naming import project_tags
from pilot_tui.netinfo import LOOPBACK_HOST_PORT
from pilot_tui.wording import counted

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


LOOPBACK_HOST = re.compile(LOOPBACK_HOST_PORT)


def loopback_override() -> str | None:
    """The registry PILOT_REGISTRY names (host:port) when it is on this machine; None when
    unset. RegistryError for one elsewhere: where a Google access token would go."""
    host = os.environ.get(REGISTRY_OVERRIDE)
    if not host:
        return None
    if not LOOPBACK_HOST.fullmatch(host):
        raise RegistryError(
            f"{REGISTRY_OVERRIDE} is {host!r}: for Artifact Registry it may name a registry on "
            "this machine only (127.0.0.1:PORT), since the push carries a Google access token",
            hint=f"unset {REGISTRY_OVERRIDE} to push to Google's registry",
        )
    return host


def registry_host_or_override(found: str) -> str:
    """The registry host ``found`` (ECR's proxy endpoint, Artifact Registry's host), or
    the local registry PILOT_REGISTRY names."""
    return os.environ.get(REGISTRY_OVERRIDE) or found.removeprefix("https://")


# The statement Lambda itself adds to a same-account repository it pulls an image from
# (when its caller may set the repository's policy): set as Lambda writes it, so Lambda
# finds its own statement there and a caller without ecr:SetRepositoryPolicy (a pull
# request's role) can still make a function from the repository's images. Another
# account's functions get nothing from it: a cross-account pull needs that account
# granted too.
LAMBDA_PULLS = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
NOT_MADE_HINT = "a deploy from a machine with the project's deployer makes it"


def _denied(exc: Exception) -> bool:
    return "AccessDenied" in str(exc)


def _repository_policy(ecr: ECRClient, repository: str) -> dict[str, Any] | None:
    """The repository's policy; None when it has none."""
    try:
        text = ecr.get_repository_policy(repositoryName=repository)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None
    found = json.loads(text)
    return found if isinstance(found, dict) else None


def _lets_lambda_pull(policy: dict[str, Any] | None) -> bool:
    """Whether ``policy`` holds Lambda's statement (LAMBDA_PULLS)."""
    statements = (policy or {}).get("Statement", [])
    return any(s.get("Sid") == LAMBDA_PULLS["Sid"] for s in statements)


def _let_lambda_pull(ecr: ECRClient, repository: str, policy: dict[str, Any] | None) -> None:
    """Lambda's statement set beside any other of ``policy``, the repository's."""
    from botocore.exceptions import ClientError

    policy = dict(policy or {"Version": "2012-10-17"})
    policy["Statement"] = [
        s for s in policy.get("Statement", []) if s.get("Sid") != LAMBDA_PULLS["Sid"]
    ] + [LAMBDA_PULLS]
    try:
        ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(policy))
    except ClientError as exc:
        if not _denied(exc):
            raise
        raise RegistryError(
            f"ECR repository {repository} needs a policy letting Lambda pull its images, "
            "and these credentials may not set it",
            hint="a deployer made before Pilot set it needs `pilot-tui deployer create`; a "
            "pull request's run needs `pilot-tui ci github` run again from a laptop",
        ) from exc


def ensure_ecr_repository(
    ecr: ECRClient,
    repository: str,
    project: str,
    *,
    lambda_pulls: bool = False,
    not_made_hint: str = NOT_MADE_HINT,
) -> bool:
    """The ECR repository ``repository``, made (scanned on push, tagged with the project)
    when missing; with ``lambda_pulls`` its policy has Lambda's own statement
    (LAMBDA_PULLS), set when made and put back when missing. Whether it was made. One
    these credentials may not make or look at is a RegistryError with ``not_made_hint``."""
    from botocore.exceptions import ClientError

    try:
        ecr.describe_repositories(repositoryNames=[repository])
        made = False
    except ecr.exceptions.RepositoryNotFoundException:
        made = True
    except ClientError as exc:
        if not _denied(exc):
            raise
        raise RegistryError(
            f"these credentials may not use ECR repository {repository}", hint=not_made_hint
        ) from exc
    if made:
        try:
            ecr.create_repository(
                repositoryName=repository,
                imageScanningConfiguration={"scanOnPush": True},
                tags=project_tags(project),
            )
        except ClientError as exc:
            if not _denied(exc):
                raise
            raise RegistryError(
                f"ECR repository {repository} does not exist, and these credentials may not "
                "make it",
                hint=not_made_hint,
            ) from exc
    policy = None if made or not lambda_pulls else _repository_policy(ecr, repository)
    if lambda_pulls and not _lets_lambda_pull(policy):
        try:
            _let_lambda_pull(ecr, repository, policy)
        except Exception:
            if made:  # not left without it (a next deploy makes it again, policy and all)
                ecr.delete_repository(repositoryName=repository, force=True)
            raise
    return made


def ecr_registry(
    ecr: ECRClient,
    repository: str,
    project: str,
    *,
    lambda_pulls: bool = False,
    not_made_hint: str = NOT_MADE_HINT,
) -> Registry:
    """The ECR repository ``repository`` (ensure_ecr_repository) and a token for it. ``ecr``
    is a boto3 ECR client."""
    from botocore.exceptions import ClientError

    try:
        ensure_ecr_repository(
            ecr, repository, project, lambda_pulls=lambda_pulls, not_made_hint=not_made_hint
        )
        data = ecr.get_authorization_token()["authorizationData"][0]
    except ClientError as exc:
        raise converted(f"ECR repository {repository}", exc, error=RegistryError) from exc
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    redact.register([password, data["authorizationToken"]])
    return Registry(registry_host_or_override(data["proxyEndpoint"]), repository, user, password)


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
                f"ECR kept {counted(len(refused), 'image tag')} of {repository} "
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
