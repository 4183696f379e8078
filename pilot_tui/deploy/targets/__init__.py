"""Deploy target kinds: one module or folder per kind, each implementing the Target contract
(base.py), registered once in the table below (see docs/adding-a-target.md).

The kinds themselves come from the schema (config.schema.TARGET_KINDS); the table is read
lazily, so importing one kind's module does not import every cloud's."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pilot_tui.config.schema import TARGET_KINDS, AppSettings
from pilot_tui.deploy.targets.base import Target


def registry() -> dict[str, Callable[[AppSettings], Target]]:
    """Each target kind -> the class that implements it."""
    from pilot_tui.deploy.targets.cloud_run.target import CloudRun
    from pilot_tui.deploy.targets.docker_host.target import DockerHost
    from pilot_tui.deploy.targets.ecs.target import Ecs
    from pilot_tui.deploy.targets.gcs_site.target import GcsCdn
    from pilot_tui.deploy.targets.lambda_.target import Lambda
    from pilot_tui.deploy.targets.s3_site.target import S3CloudFront

    table: dict[str, Callable[[AppSettings], Target]] = {
        DockerHost.kind: DockerHost,
        Lambda.kind: Lambda,
        Ecs.kind: Ecs,
        CloudRun.kind: CloudRun,
        S3CloudFront.kind: S3CloudFront,
        GcsCdn.kind: GcsCdn,
    }
    assert sorted(table) == sorted(TARGET_KINDS), "a target kind of the schema has no class"
    return table


def target_for(app: AppSettings) -> Target:
    """The Target for ``app`` (an AppSettings), chosen by its target.kind: the one place
    anything looks at the kind."""
    return registry()[app.target.kind](app)


def on_docker_host(apps: Iterable[AppSettings]) -> list[str]:
    """The names of the apps that run on the Docker host (status, logs and destroy of
    these need it open)."""
    return [app.name for app in apps if target_for(app).on_docker_host]
