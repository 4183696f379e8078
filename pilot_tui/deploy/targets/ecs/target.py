"""Target kind "ecs": the app as an ECS service on Fargate behind a load balancer."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.config.schema import EcsTarget, PilotConfig
from pilot_tui.deploy.context import Context
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


class Ecs(ManagedContainer):
    kind: ClassVar[str] = "ecs"
    previews_refused: ClassVar[str | None] = (
        "an ECS preview would be a service, tasks and a load balancer rule of its own; not offered"
    )
    logs_name: ClassVar[str] = "CloudWatch Logs"
    made: ClassVar[str] = "service, load balancer and logs"

    def open(self, ctx: Context) -> ManagedTarget:
        from pilot_tui.deploy.targets.ecs.service import open_ecs

        return open_ecs(ctx.config, ctx.state_dir, ctx.root, self.app)

    def registry(self, ctx: Context) -> Registry:
        return ecr_registry_for(ctx, self.app)

    def delete_images(self, ctx: Context) -> str | None:
        return delete_ecr_images(ctx, self.app)

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        t = target_settings(self.app, EcsTarget)
        settings = {
            "region": config.aws.region,
            "memory": t.memory,
            "cpu": t.cpu,
            "service_port": t.port,
            "count": t.desired_count,
        }
        return WaypointApp(
            WaypointUse("aws-ecs", settings),
            registry=waypoint_ecr(config, self.app),
            ssm_secrets=True,  # where Pilot keeps an ECS app's secrets
        )

    def check_registry(self, config: PilotConfig) -> None:
        refuse_unreachable_ecr(config, self.app)
