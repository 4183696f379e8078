"""Target kind "s3-cloudfront": a static site in a private, versioned S3 bucket served by
CloudFront; a rollback restores an earlier release's files inside the bucket."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import history
from pilot_tui.deploy.context import Context, DeployContext, RunLog
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse
from pilot_tui.deploy.targets.docker_host.target import local_image
from pilot_tui.deploy.targets.s3_site.bucket import S3Site, open_s3_site
from pilot_tui.deploy.targets.s3_site.rollback import rollback_site
from pilot_tui.deploy.targets.site_flow import StaticSite
from pilot_tui.naming import resource_name


class S3CloudFront(StaticSite):
    kind: ClassVar[str] = "s3-cloudfront"
    previews_refused: ClassVar[str | None] = (
        "a site's preview would be a bucket and a CloudFront distribution of its own; not offered"
    )
    emulator: ClassVar[str] = S3Site.emulator

    def open_site(self, ctx: Context) -> S3Site:
        return open_s3_site(ctx.config, ctx.state_dir, self.app)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        ctx.pull(log, self.app.name)  # the newest shared history decides what "previous" is
        return rollback_site(ctx, log, self.app, wanted)

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        bucket = f"{resource_name(config.project.name, self.app.name)}-site"
        sync = ["aws", "s3", "sync", "--delete", ".", f"s3://{bucket}"]
        # An image only if its build is not static (auto): kept where it was built.
        registry = local_image(config, self.app)
        return WaypointApp(WaypointUse("exec", {"command": sync}), registry=registry, site=True)
