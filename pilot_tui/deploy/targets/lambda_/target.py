"""Target kind "lambda": the app as an AWS Lambda function with a function URL, from its
image (with the Lambda Web Adapter) or, with target.package = "zip", from a zip of its
folder (no Docker, no registry)."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import LambdaTarget, PilotConfig
from pilot_tui.deploy.context import Context, DeployContext, RunLog
from pilot_tui.deploy.registry import Registry
from pilot_tui.deploy.targets.base import WaypointApp, WaypointUse, target_settings
from pilot_tui.deploy.targets.container import (
    ManagedContainer,
    delete_ecr_images,
    ecr_registry_for,
    refuse_unreachable_ecr,
    waypoint_ecr,
)
from pilot_tui.deploy.targets.managed import ManagedTarget
from pilot_tui.deploy.targets.managed_flow import StageError


class Lambda(ManagedContainer):
    kind: ClassVar[str] = "lambda"
    logs_name: ClassVar[str] = "CloudWatch Logs"
    made: ClassVar[str] = "function, its URL and logs"

    def zipped(self) -> bool:
        return bool(target_settings(self.app, LambdaTarget).package == "zip")

    def needs_docker(self) -> bool:
        return not self.zipped()

    def open(self, ctx: Context) -> ManagedTarget:
        from pilot_tui.deploy.targets.lambda_.function import open_lambda

        return open_lambda(ctx.config, ctx.state_dir, ctx.root, self.app)

    def registry(self, ctx: Context) -> Registry:
        return ecr_registry_for(ctx, self.app)

    def delete_images(self, ctx: Context) -> str | None:
        return delete_ecr_images(ctx, self.app)

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        t = target_settings(self.app, LambdaTarget)
        return WaypointApp(
            WaypointUse(
                "aws-lambda",
                {"region": config.aws.region, "memory": t.memory, "timeout": t.timeout},
            ),
            release=WaypointUse("lambda-function-url"),
            registry=waypoint_ecr(config, self.app),
            unsupported=(
                f"app {self.app.name!r} left out: Waypoint's aws-lambda plugin deploys "
                f"container images only; set apps.{self.app.name}.target.package = "
                '"image", or deploy it with server.engine = "pilot"'
                if self.zipped()
                else None
            ),
        )

    def check_registry(self, config: PilotConfig) -> None:
        refuse_unreachable_ecr(config, self.app, ', use target.package = "zip"')

    def adapt_image(
        self, ctx: DeployContext, log: RunLog, image_id: str, tag: str
    ) -> tuple[str, str]:
        """The app's image with the Lambda Web Adapter added (its web server on $PORT)."""
        from pilot_tui.deploy.targets.lambda_.image import wrap

        wrapped = f"{tag}-lambda"
        try:
            adapted = wrap(
                ctx.docker_client,
                tag,
                target_settings(self.app, LambdaTarget).port,
                wrapped,
                log.line("build", self.app.name),
                ctx.cancel.is_set,
            )
        except Exception as exc:  # BuildError, or the adapter image cannot be pulled
            raise StageError("build", f"adding the Lambda Web Adapter: {exc}") from exc
        return adapted, wrapped
