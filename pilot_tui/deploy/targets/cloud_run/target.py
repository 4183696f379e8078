"""Target kind "cloud-run": the app as a Google Cloud Run service, its images in Artifact
Registry, its secrets in Secret Manager."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import CloudRunTarget, PilotConfig
from pilot_tui.deploy.context import Context
from pilot_tui.deploy.registry import Registry
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse, target_settings
from pilot_tui.deploy.targets.container import ManagedContainer
from pilot_tui.deploy.targets.managed import ManagedTarget, TargetError


class CloudRun(ManagedContainer):
    kind: ClassVar[str] = "cloud-run"
    logs_name: ClassVar[str] = "Cloud Logging"
    made: ClassVar[str] = "Cloud Run service"

    def open(self, ctx: Context) -> ManagedTarget:
        from pilot_tui.deploy.targets.cloud_run.service import open_cloud_run

        return open_cloud_run(ctx.config, ctx.state_dir, ctx.root, self.app)

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
