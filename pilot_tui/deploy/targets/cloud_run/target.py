"""Target kind "cloud-run": the app as a Google Cloud Run service, its images in Artifact
Registry, its secrets in Secret Manager. Each of its previews is a service of its own
(service.py), its image in the app's repository."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pilot_tui.config.schema import AppSettings, CloudRunTarget, PilotConfig
from pilot_tui.deploy import history, previews
from pilot_tui.deploy.context import Context, DeployContext, RunLog, Say
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.registry import Registry
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse, target_settings
from pilot_tui.deploy.targets.container import ManagedContainer
from pilot_tui.deploy.targets.managed import ManagedTarget, TargetError
from pilot_tui.naming import CLOUD_RUN_SERVICE_MAX, resource_name
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from pilot_tui.deploy.targets.cloud_run.service import CloudRunService


class CloudRun(ManagedContainer):
    kind: ClassVar[str] = "cloud-run"
    logs_name: ClassVar[str] = "Cloud Logging"
    made: ClassVar[str] = "Cloud Run service"
    previews_refused: ClassVar[str | None] = None

    def open(self, ctx: Context) -> ManagedTarget:
        from pilot_tui.deploy.targets.cloud_run.service import open_cloud_run

        return open_cloud_run(ctx.config, ctx.state_dir, ctx.root, self.app)

    def preview(self, preview: Preview) -> CloudRunPreview:
        return CloudRunPreview(self.preview_app(preview.name), self.app, preview)

    def preview_app(self, name: str) -> AppSettings:
        settings = target_settings(self.app, CloudRunTarget)
        # No instance kept warm: an expired one costs nothing until the agent removes it;
        # never watched: nothing of its own to go back to.
        target = dataclasses.replace(
            settings,
            min_instances=0,
            max_instances=min(settings.max_instances, previews.PREVIEW_INSTANCES),
            watch=0,
        )
        return previews.preview_app(self.app, name, target)

    def preview_name_limits(self, project: str) -> dict[str, tuple[int, int]]:
        service = resource_name(project, self.app.name)
        return {
            f"the Cloud Run service name {service}--NAME": (len(service), CLOUD_RUN_SERVICE_MAX)
        }

    def previews(self, ctx: Context) -> list[Preview]:
        from pilot_tui.cloud.errors import CloudError
        from pilot_tui.deploy.targets.cloud_run.service import open_cloud_run

        if ctx.config.server.home == "sandbox":
            return []  # Cloud Run has no emulator: nothing of it runs in the sandbox
        service = open_cloud_run(ctx.config, ctx.state_dir, ctx.root, self.app)
        try:
            found = service.previews(ttl=self.app.previews.ttl_seconds())
        except CloudError as exc:  # an API's refusal, or credentials: said as the app's
            said = f"the previews of {self.app.name} could not be listed: {exc}"
            raise TargetError(said) from exc
        return previews.with_live_releases(ctx.state_dir, found)

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        """The app's service and images, and its previews' services: `server destroy`
        removes Cloud Run apps through here, and a preview never outlives its app."""
        done = []
        for preview in self.previews(ctx):
            done += self.preview(preview).destroy(ctx, say)
        return done + super().destroy(ctx, say)

    def registry(self, ctx: Context) -> Registry:
        from pilot_tui.deploy import artifact_registry

        registry: Registry = artifact_registry.registry_for(ctx.config, ctx.root, self.app)
        return registry

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        from pilot_tui.deploy.artifact_registry import image_path

        t = target_settings(self.app, CloudRunTarget)
        memory = int(t.memory[:-2]) * (1024 if t.memory.endswith("Gi") else 1)
        image = image_path(
            config.gcp.region,
            config.gcp.project or "GCP_PROJECT",
            config.project.name,
            self.app.name,
        )  # the repository Pilot's own engine pushes to
        return WaypointApp(
            WaypointUse(
                "google-cloud-run",
                {
                    "project": config.gcp.project,
                    "location": config.gcp.region,
                    "port": t.port,
                    "capacity": {"memory": memory, "cpu_count": t.cpu},
                    "auto_scaling": {"max": t.max_instances},
                },
            ),
            release=WaypointUse("google-cloud-run"),
            registry=WaypointUse("docker", {"image": image, "tag": "latest"}),
        )

    def delete_images(self, ctx: Context) -> str | None:
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy.artifact_registry import delete_images

        config, app = ctx.config, self.app
        if not config.gcp.project:  # open() refused it before: the destroy never gets here
            raise TargetError(f"app {app.name!r}: Cloud Run needs gcp.project in pilot.toml")
        transport = google_transport(config, ctx.root)
        if delete_images(
            transport, config.gcp.project, config.gcp.region, config.project.name, app.name
        ):
            return f"deleted {app.name}'s images in Artifact Registry"
        return None


@dataclass
class CloudRunPreview(CloudRun):
    """A preview of ``owner``: ``app`` is its copy (previews.preview_app), deployed as a
    service of its own, pilot-PROJECT-APP--NAME, with its own URL; its image goes to the
    owner's repository. Nothing of the owner's service is read or changed."""

    owner: AppSettings
    previewing: Preview

    def open(self, ctx: Context) -> CloudRunService:
        from pilot_tui.deploy.targets.cloud_run.service import open_cloud_run

        return open_cloud_run(ctx.config, ctx.state_dir, ctx.root, self.app, self.previewing)

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        """Deployed; then the agent on the Docker host (which built its image) brought up
        to date, so it removes the preview when its TTL runs out, laptop or not."""
        from pilot_tui.deploy.targets.docker_host.release import agent_for_previews

        release = super().deploy(ctx, log, force=force)
        agent_for_previews(ctx, log.line("deploy", self.app.name))
        return release

    def registry(self, ctx: Context) -> Registry:
        from pilot_tui.deploy import artifact_registry

        registry: Registry = artifact_registry.registry_for(ctx.config, ctx.root, self.owner)
        return registry

    def delete_images(self, ctx: Context) -> str | None:
        return None  # the owner's repository stays with the owner

    def push_tag(self, tag: str) -> str:
        return previews.image_tag(self.previewing.name, super().push_tag(tag))

    def environment(self, ctx: DeployContext, log: RunLog) -> dict[str, str]:
        """Its env and its secrets from the previews' own file (or CI's PREVIEW_ names):
        the service keeps them in the app's previews' Secret Manager secrets, which only
        the previews' account may read (service.py), never in its env."""
        return previews.environment(
            ctx.state_dir, self.previewing, self.app, log.line("deploy", self.app.name)
        )

    def runs_now(self, ctx: Context) -> bool:
        """Whether its service is there, asked by its name (a neighbour project's service
        of that name, or another app's preview, is not: never removed for it)."""
        if ctx.config.server.home == "sandbox":
            return False
        try:
            return self.open(ctx).current() is not None
        except TargetError:
            return False

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        """Its service, then its images in the app's repository (their own tags,
        previews.image_tag: an image the app's releases tag too is kept)."""
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy.artifact_registry import delete_tagged

        if ctx.config.server.home == "sandbox":
            return []
        done = self.open(ctx).destroy(say)
        config, name = ctx.config, self.previewing.name
        try:
            tags = delete_tagged(
                google_transport(config, ctx.root),
                str(config.gcp.project),
                config.gcp.region,
                config.project.name,
                self.owner.name,
                previews.image_tag_prefix(name),
                history.image_digests(ctx.state_dir, self.owner.name),  # its rollbacks need
            )
        except Exception as exc:  # ApiError, google-auth's: said, the removal goes on
            say(f"warning: the images of preview {name} stay in Artifact Registry: {exc}")
            return done
        if tags:
            done.append(f"deleted {counted(len(tags), 'image tag')} of preview {name}")
            say(done[-1])
        return done
