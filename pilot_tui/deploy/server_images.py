"""Where CI runs' images of the Pilot Server's apps go: the registry of the cloud the runs
act on (ci_cloud: the state bucket's), one class per cloud, chosen in one place
(server_images).

A run pushes the image it built there; the deploy worker pulls it by digest (it builds
nothing) and expires what no release needs any more; `app destroy` deletes what is left.
A preview's images are tagged with its name (previews.image_tag), so its removal deletes
its own and never its app's.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import previews

if TYPE_CHECKING:
    from pilot_tui.deploy.context import Context, DeployContext
    from pilot_tui.deploy.registry import Registry

# The cloud a run acts on, by where the release history is shared.
CLOUD_OF_BACKEND = {"s3": "aws", "gcs": "gcp"}
KEPT_IMAGES = 20  # the CI runs' images of an app kept in its repository (rollbacks' too)


def _owner(config: PilotConfig, name: str) -> tuple[AppSettings | None, str | None]:
    """(the app ``name`` is, or whose preview it is (None: not in pilot.toml); the
    preview's name, or None)."""
    parts = previews.split(name)
    if parts is None:
        return config.app(name), None
    return config.app(parts[0]), parts[1]


class ServerImages(ABC):
    """One cloud's registry for the images CI runs build for the Docker host's apps."""

    cloud: ClassVar[str]
    where: ClassVar[str]  # the registry's name, as messages say it: "ECR"

    @abstractmethod
    def registry(self, ctx: Context, app: AppSettings) -> Registry:
        """The repository ``app``'s images (a preview's: its app's previews') are pushed to
        and pulled from, with a fresh login (made when missing)."""

    def check(self, config: PilotConfig, app: AppSettings) -> None:
        """Refuse, before anything is built, a push that could never be made."""
        return None

    def ci_pushes(self, root: Path) -> bool:
        """Whether CI runs of the project at ``root`` may have pushed images here (what
        `app destroy` then looks for)."""
        return True

    @abstractmethod
    def expire(self, ctx: DeployContext, name: str) -> None:
        """Expire ``name``'s images no release needs any more (the newest KEPT_IMAGES of
        the app's are kept, its rollbacks' among them). Raises what the registry said on
        failure."""

    @abstractmethod
    def delete_preview(self, ctx: Context, owner: AppSettings, preview: str) -> list[str]:
        """The preview's images (its own tags) deleted: what was, e.g. "image REPO:TAG"."""

    @abstractmethod
    def delete_all(self, ctx: Context, app: AppSettings) -> str | None:
        """Every image CI runs pushed of ``app`` and its previews deleted; what was."""


class EcrImages(ServerImages):
    """AWS: the app's own ECR repository (pilot-PROJECT-APP), its previews' beside it
    (`ci github` makes that one: a pull request's run may push there and nowhere else)."""

    cloud = "aws"
    where = "ECR"

    def registry(self, ctx: Context, app: AppSettings) -> Registry:
        from pilot_tui.deploy.targets.container import ecr_preview_registry_for, ecr_registry_for

        owner, preview = _owner(ctx.config, app.name)
        if preview is None or owner is None:
            return ecr_registry_for(ctx, app)
        return ecr_preview_registry_for(ctx, owner, lambda_pulls=False)

    def check(self, config: PilotConfig, app: AppSettings) -> None:
        from pilot_tui.deploy.targets.container import refuse_unreachable_ecr

        refuse_unreachable_ecr(config, app)  # the sandbox's ECR has no registry

    def expire(self, ctx: DeployContext, name: str) -> None:
        """ECR's lifecycle policy, set on each release (each commit, each push to a pull
        request, pushes one). The app's repository keeps its newest KEPT_IMAGES. Its
        previews' keeps those pushed within the previews' TTL and a day: a preview expires
        a TTL after its last release, and its removal deletes its images, but a pull
        request closed while its run failed, or a preview removed by the server's agent,
        leaves them."""
        from pilot_tui.deploy.targets.managed import aws_clients
        from pilot_tui.naming import preview_repository, resource_name

        owner, preview = _owner(ctx.config, name)
        if owner is None:
            return  # not an app of pilot.toml: all kept
        if preview is None:
            repository = resource_name(ctx.project, owner.name)
            selection: dict[str, object] = {
                "countType": "imageCountMoreThan",
                "countNumber": KEPT_IMAGES,
            }
            kept = f"the newest {KEPT_IMAGES} images of CI runs"
        else:
            repository = preview_repository(ctx.project, owner.name)
            days = -(-owner.previews.ttl_seconds() // 86400) + 1  # whole days, rounded up
            selection = {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": days}
            kept = f"previews' images pushed in the last {days} days"
        rule = {
            "rulePriority": 1,
            "description": f"{kept} (Pilot)",
            "selection": {"tagStatus": "any", **selection},
            "action": {"type": "expire"},
        }
        aws_clients(ctx.config, ctx.state_dir)("ecr").put_lifecycle_policy(
            repositoryName=repository, lifecyclePolicyText=json.dumps({"rules": [rule]})
        )

    def delete_preview(self, ctx: Context, owner: AppSettings, preview: str) -> list[str]:
        from pilot_tui.deploy.registry import delete_ecr_tags
        from pilot_tui.deploy.targets.managed import aws_clients
        from pilot_tui.naming import preview_repository

        repository = preview_repository(ctx.project, owner.name)
        ecr = aws_clients(ctx.config, ctx.state_dir)("ecr")
        tags = delete_ecr_tags(ecr, repository, previews.image_tag_prefix(preview))
        return [f"image {repository}:{tag}" for tag in tags]

    def delete_all(self, ctx: Context, app: AppSettings) -> str | None:
        from pilot_tui.deploy.targets.container import delete_ecr_images

        return delete_ecr_images(ctx, app)


class ArtifactImages(ServerImages):
    """Google Cloud: the project's Artifact Registry repository (pilot-PROJECT, as Cloud
    Run's images), one package per app; a preview's images in its app's package, tagged
    with its name. Artifact Registry has no count-based expiry of one package's images:
    the worker deletes the older versions itself. (No pull request's run pushes here: should
    one ever, its previews need a package of their own, as ECR's previews' repository is,
    for the worker's check that a request's image is the app's own to mean anything.)"""

    cloud = "gcp"
    where = "Artifact Registry"

    def registry(self, ctx: Context, app: AppSettings) -> Registry:
        """(PILOT_REGISTRY, a registry on this machine, stands in for Google's host in
        tests: the token goes with each push, so only a loopback one is taken.)"""
        from pilot_tui.deploy import artifact_registry
        from pilot_tui.deploy.registry import loopback_override

        owner, _ = _owner(ctx.config, app.name)
        found = artifact_registry.registry_for(ctx.config, ctx.root, owner or app)
        host = loopback_override()
        return found if host is None else dataclasses.replace(found, host=host)

    def ci_pushes(self, root: Path) -> bool:
        from pilot_tui.cloud.github_oidc import names_gcp_pool

        return names_gcp_pool(root)

    def check(self, config: PilotConfig, app: AppSettings) -> None:
        from pilot_tui.deploy.targets.managed import TargetError

        if not config.gcp.project:
            raise TargetError(
                f"app {app.name!r}: a CI run pushes its image to Artifact Registry, which "
                "needs gcp.project in pilot.toml"
            )

    def expire(self, ctx: DeployContext, name: str) -> None:
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy import artifact_registry, history

        owner, _ = _owner(ctx.config, name)
        if owner is None:
            return  # not an app of pilot.toml: all kept
        gcp = ctx.config.gcp
        artifact_registry.delete_older_versions(
            google_transport(ctx.config, ctx.root),
            str(gcp.project),
            gcp.region,
            ctx.project,
            owner.name,
            KEPT_IMAGES,
            history.image_digests(ctx.state_dir, owner.name) | _pulled_digests(ctx, owner.name),
        )

    def delete_preview(self, ctx: Context, owner: AppSettings, preview: str) -> list[str]:
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy import artifact_registry, history

        gcp = ctx.config.gcp
        tags = artifact_registry.delete_tagged(
            google_transport(ctx.config, ctx.root),
            str(gcp.project),
            gcp.region,
            ctx.project,
            owner.name,
            previews.image_tag_prefix(preview),
            history.image_digests(ctx.state_dir, owner.name),
        )
        where = artifact_registry.image_path(gcp.region, str(gcp.project), ctx.project, owner.name)
        return [f"image {where}:{tag}" for tag in tags]

    def delete_all(self, ctx: Context, app: AppSettings) -> str | None:
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy import artifact_registry

        gcp = ctx.config.gcp
        if not gcp.project:
            return None
        transport = google_transport(ctx.config, ctx.root)
        if not artifact_registry.delete_images(
            transport, gcp.project, gcp.region, ctx.project, app.name
        ):
            return None
        where = artifact_registry.image_path(gcp.region, gcp.project, ctx.project, app.name)
        return f"deleted the Artifact Registry package {where}"


def _pulled_digests(ctx: DeployContext, app: str) -> frozenset[str]:
    """The registry digests of the images the app's releases run on this engine: a server
    app's release names its image by tag and id, which the engine knows it pulled by."""
    from pilot_tui.deploy import history

    try:
        releases = history.load(ctx.state_dir, app)
    except history.HistoryError:
        return frozenset()
    found: set[str] = set()
    for image_id in {r.image_id for r in releases if r.image_id}:
        try:
            digests = ctx.docker_client.images.get(image_id).attrs.get("RepoDigests") or []
        except Exception:  # gone from the engine (pruned): no digest to keep
            continue
        found.update(d.partition("@")[2] for d in digests if "@sha256:" in d)
    return frozenset(found)


CLOUDS: dict[str, ServerImages] = {kind.cloud: kind() for kind in (EcrImages, ArtifactImages)}


def ci_cloud(config: PilotConfig) -> str:
    """The cloud a CI run of ``config`` acts on: its state bucket's (AWS without one)."""
    return CLOUD_OF_BACKEND.get(config.state.backend, "aws")


def server_images(config: PilotConfig) -> ServerImages:
    """The registry CI runs of ``config`` push the server's apps' images to."""
    return CLOUDS[ci_cloud(config)]


def expire_quietly(ctx: DeployContext, name: str, say: Callable[[str], None]) -> None:
    """``name``'s older images expired; a failure is said, never a failed release."""
    try:
        server_images(ctx.config).expire(ctx, name)
    except Exception as exc:  # kept all: said, never a failed release
        say(f"warning: older images of {name} are not expired: {redact.clip(str(exc), 200)}")
