"""Target kind "gcs-cdn": a static site in a GCS bucket behind Cloud CDN (the bucket alone
in the sandbox, whose GCS emulator has no CDN)."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import history
from pilot_tui.deploy.context import Context, DeployContext, DeployError, RunLog
from pilot_tui.deploy.events import StageFailed
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse
from pilot_tui.deploy.targets.docker_host.target import local_image
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite, open_gcs_site
from pilot_tui.deploy.targets.site_flow import StaticSite
from pilot_tui.naming import resource_name


class GcsCdn(StaticSite):
    kind: ClassVar[str] = "gcs-cdn"
    previews_refused: ClassVar[str | None] = (
        "a site's preview would be a bucket and a CDN backend of its own; not offered"
    )
    emulator: ClassVar[str] = GcsSite.emulator

    def open_site(self, ctx: Context) -> GcsSite:
        return open_gcs_site(ctx.config, ctx.state_dir, ctx.root, self.app)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        """Not yet: the bucket keeps no earlier release's files."""
        message = (
            "rolling back a GCS site is not supported yet: check out the "
            "earlier commit and deploy it"
        )
        log.emit(StageFailed(self.app.name, "release", message))
        raise DeployError("release", message)

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        bucket = f"{resource_name(config.project.name, self.app.name)}-site"
        sync = [
            "gcloud",
            "storage",
            "rsync",
            "--recursive",
            "--delete-unmatched-destination-objects",
            ".",
            f"gs://{bucket}",
        ]
        # An image only if its build is not static (auto): kept where it was built.
        registry = local_image(config, self.app)
        return WaypointApp(WaypointUse("exec", {"command": sync}), registry=registry, site=True)
