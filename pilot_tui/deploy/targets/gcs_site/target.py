"""Target kind "gcs-cdn": a static site in a GCS bucket behind Cloud CDN (the bucket alone
in the sandbox, whose GCS emulator has no CDN)."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse
from pilot_tui.deploy.targets.docker_host.target import local_image
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.site_flow import StaticSite
from pilot_tui.naming import resource_name


class GcsCdn(StaticSite):
    kind: ClassVar[str] = "gcs-cdn"
    emulator: ClassVar[str] = GcsSite.emulator

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
