"""The Target contract for managed container platforms (Lambda, ECS on Fargate, Cloud Run):
the deploy and rollback of managed_flow.py, the status, logs and destroy every such kind
shares, and the ECR helpers of the AWS ones. Each kind's module subclasses ManagedContainer
with how to open its platform and where its images go."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import addresses, history, previews
from pilot_tui.deploy.context import Context, DeployContext, RunLog, Say
from pilot_tui.deploy.registry import REGISTRY_OVERRIDE, Registry, ecr_registry
from pilot_tui.deploy.targets.base import (
    AppStatus,
    LogLine,
    NoLogs,
    NoPreviews,
    WaypointApp,
    WaypointUse,
    emulators_stopped,
    not_deployed,
)
from pilot_tui.deploy.targets.log_follow import polled_stream
from pilot_tui.deploy.targets.managed import (
    ManagedTarget,
    TargetError,
    TargetStatus,
    aws_clients,
)
from pilot_tui.deploy.targets.managed_flow import deploy_managed, rollback_managed
from pilot_tui.naming import preview_repository, resource_name
from pilot_tui.wording import counted


def ecr_registry_for(ctx: Context, app: AppSettings) -> Registry:
    """The app's ECR repository (Lambda and ECS images), with a fresh login."""
    name = resource_name(ctx.project, app.name)
    return ecr_registry(aws_clients(ctx.config, ctx.state_dir)("ecr"), name, ctx.project)


def ecr_preview_registry_for(
    ctx: Context, owner: AppSettings, *, lambda_pulls: bool = True
) -> Registry:
    """The ECR repository of ``owner``'s previews' images (naming.preview_repository),
    which Lambda may pull from (registry.LAMBDA_PULLS) with ``lambda_pulls`` (not the
    Docker host's: the server's worker pulls those), with a fresh login."""
    runs = "an image app" if lambda_pulls else "an app"
    return ecr_registry(
        aws_clients(ctx.config, ctx.state_dir)("ecr"),
        preview_repository(ctx.project, owner.name),
        ctx.project,
        lambda_pulls=lambda_pulls,
        not_made_hint=(
            "a preview deploy from a machine with the project's deployer makes it; a pull "
            f"request's run needs `pilot-tui ci github` run again, once {owner.name} is "
            f"{runs} that runs previews"
        ),
    )


def delete_preview_ecr_images(ctx: Context, owner: AppSettings, name: str, say: Say) -> list[str]:
    """Preview ``name``'s images (their own tags, previews.image_tag), deleted from its
    app's previews' repository and from the app's own, where an earlier Pilot pushed them;
    what was. A refusal is a warning (what ran the preview is gone already), but the app's
    own repository's, which a pull request's role may not list: nothing of its is there."""
    from pilot_tui.deploy.registry import delete_ecr_tags

    ecr = aws_clients(ctx.config, ctx.state_dir)("ecr")
    done: list[str] = []
    for repository, legacy in (
        (preview_repository(ctx.project, owner.name), False),
        (resource_name(ctx.project, owner.name), True),  # an earlier Pilot's previews
    ):
        try:
            tags = delete_ecr_tags(
                ecr,
                repository,
                previews.image_tag_prefix(name),
                history.image_digests(ctx.state_dir, owner.name),  # the app's rollbacks need
            )
        except Exception as exc:  # RegistryError, botocore's: said, the removal goes on
            denied = "AccessDenied" in str(exc)
            if legacy and denied:
                continue
            hint = (
                " (a deployer or CI role made before Pilot removed previews' images: `pilot-tui "
                "deployer create`, or `pilot-tui ci github` for CI's, gives it the grant)"
                if denied
                else ""
            )
            say(
                f"warning: the images of preview {name} stay in ECR repository {repository}: "
                f"{exc}{hint}"
            )
            continue
        if tags:
            done.append(
                f"deleted {counted(len(tags), 'image tag')} of preview {name} from {repository}"
            )
            say(done[-1])
    return done


def refuse_unreachable_ecr(config: PilotConfig, app: AppSettings, hint: str = "") -> None:
    """In the sandbox, moto's ECR answers with a registry host that does not resolve, so an
    image could be built but never pushed: say so before the build (as Cloud Run is refused
    when its target opens), unless PILOT_REGISTRY names a local registry to push to."""
    if config.server.home != "sandbox" or os.environ.get(REGISTRY_OVERRIDE):
        return
    raise TargetError(
        f"app {app.name!r}: {app.target.kind} needs its image pushed to ECR, and the sandbox "
        "has no container registry (its simulated ECR names a host that does not resolve): "
        f"set {REGISTRY_OVERRIDE}=HOST:PORT to a registry on this machine (e.g. Debian's "
        "docker-registry on 127.0.0.1:5000)"
        + hint
        + ', or deploy it from a project on AWS (server.home = "aws")'
    )


def delete_ecr_images(ctx: Context, app: AppSettings) -> str | None:
    """Delete the ECR repositories Pilot pushed the app's images to (its previews' too);
    what was deleted."""
    from pilot_tui.deploy.registry import delete_ecr_repository

    ecr = aws_clients(ctx.config, ctx.state_dir)("ecr")
    repositories = (resource_name(ctx.project, app.name), preview_repository(ctx.project, app.name))
    deleted = [name for name in repositories if delete_ecr_repository(ecr, name)]
    if deleted:
        return f"deleted ECR {'repositories' if len(deleted) > 1 else 'repository'} " + (
            " and ".join(deleted)
        )
    return None


def waypoint_ecr(config: PilotConfig, app: AppSettings) -> WaypointUse:
    """Waypoint's registry stanza for an image in the app's ECR repository."""
    repository = resource_name(config.project.name, app.name)
    return WaypointUse(
        "aws-ecr", {"region": config.aws.region, "repository": repository, "tag": "latest"}
    )


def platform_status(kind: ManagedContainer, ctx: Context) -> TargetStatus:
    """The app's state on its cloud; an unreachable cloud is 'unknown (why)', not a crash.
    In the sandbox, stopped emulators mean stopped apps (their state lived in memory): they
    are not started just to be asked."""
    if emulators_stopped(ctx):
        return TargetStatus("stopped (the sandbox's emulators are not running; deploy again)", "-")
    try:
        return kind.open(ctx).status()
    except TargetError as exc:
        return TargetStatus(f"unknown ({exc})", "-")
    except Exception as exc:  # botocore / google.auth: no credentials, no network
        return TargetStatus(f"unknown ({type(exc).__name__}: {redact.clip(str(exc), 120)})", "-")


@dataclass
class ManagedContainer(NoPreviews, ABC):
    """The Target contract for a managed container platform (Lambda, ECS, Cloud Run): the
    flow above, shared; each kind's module says how to open its platform and where its
    images go."""

    kind: ClassVar[str]
    on_docker_host: ClassVar[bool] = False
    has_logs: ClassVar[bool] = True
    logs_name: ClassVar[str]  # where its log lines come from, e.g. "CloudWatch Logs"
    made: ClassVar[str]  # what `app destroy` removes, e.g. "function, its URL and logs"

    app: AppSettings

    @abstractmethod
    def open(self, ctx: Context) -> ManagedTarget:
        """The platform's side of the app, with clients for its cloud (sandbox emulators,
        the deployer's key, or the profile / key file pilot.toml names)."""

    @abstractmethod
    def registry(self, ctx: Context) -> Registry:
        """The app's repository on the platform's registry, with a fresh login."""

    @abstractmethod
    def delete_images(self, ctx: Context) -> str | None:
        """Delete the images Pilot pushed for the app; what was deleted, if anything."""

    @abstractmethod
    def waypoint(self, config: PilotConfig) -> WaypointApp:
        """The app as Waypoint's plugins would deploy it (see base.Target.waypoint)."""

    def push_tag(self, tag: str) -> str:
        """The tag the built image ``tag`` (repository:tag) is pushed as."""
        return tag.rpartition(":")[2]

    def check_registry(self, config: PilotConfig) -> None:
        """Refuse, before the build, a deploy whose image could never be pushed."""
        return None

    def adapt_image(
        self, ctx: DeployContext, log: RunLog, image_id: str, tag: str
    ) -> tuple[str, str]:
        """The (image id, tag) to push, made from the app's built image."""
        return image_id, tag

    def needs_docker(self) -> bool:
        return True

    def builds_image(self) -> bool:
        return self.needs_docker()  # (a zip Lambda needs neither)

    def environment(self, ctx: DeployContext, log: RunLog) -> dict[str, str]:
        """What the app runs with: its env and secrets."""
        return ctx.environment(self.app)

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        return deploy_managed(self, ctx, log, force=force)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        return rollback_managed(self, ctx, log, wanted)

    def status(self, ctx: Context) -> AppStatus:
        app = self.app
        live = history.live_release(ctx.state_dir, app.name)
        if live is None and emulators_stopped(ctx):  # never deployed into them: nothing
            return not_deployed(app.name, ctx.state_dir)
        state = platform_status(self, ctx)
        where = addresses.for_app(ctx.config, "" if state.url == "-" else state.url)
        return AppStatus(
            app.name, live.id if live else "-", state.health, where.url or "-", where.simulated
        )

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]:
        return list(self.open(ctx).logs(since=since, limit=limit))

    def stream(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        return polled_stream(self, ctx, say, tail=tail, follow=follow)

    def requests(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        raise NoLogs(
            f"{self.app.name} runs on {self.kind}, not behind Pilot's edge: its requests are "
            f"in {self.logs_name}"
        )

    def log_source(self, config: PilotConfig) -> str:
        return self.logs_name

    def destroy_question(self, config: PilotConfig) -> str:
        return f"Delete {self.app.name}'s {self.made} on {self.kind}? (history is kept)"

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        if emulators_stopped(ctx):
            from pilot_tui.cloud.sandbox import STOPPED

            say(f"{STOPPED}: nothing of {self.app.name} is left to remove")  # not started
            return []  # just to find nothing
        done = list(self.open(ctx).destroy(say))
        deleted = self.delete_images(ctx)
        if deleted:
            done.append(deleted)
            say(deleted)
        return done
