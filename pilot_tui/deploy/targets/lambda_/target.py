"""Target kind "lambda": the app as an AWS Lambda function with a function URL, from its
image (with the Lambda Web Adapter) or, with target.package = "zip", from a zip of its
folder (no Docker, no registry). Each of its previews is a function of its own, with its
own function URL (function.py)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pilot_tui.cloud import aws_errors
from pilot_tui.config.schema import AppSettings, LambdaTarget, PilotConfig
from pilot_tui.deploy import history, previews
from pilot_tui.deploy.context import Context, DeployContext, RunLog, Say
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.registry import Registry
from pilot_tui.deploy.targets.base import (
    WaypointApp,
    WaypointUse,
    emulators_stopped,
    target_settings,
)
from pilot_tui.deploy.targets.container import (
    ManagedContainer,
    delete_ecr_images,
    delete_preview_ecr_images,
    ecr_preview_registry_for,
    ecr_registry_for,
    refuse_unreachable_ecr,
    waypoint_ecr,
)
from pilot_tui.deploy.targets.managed import ManagedTarget, TargetError
from pilot_tui.deploy.targets.managed_flow import StageError

if TYPE_CHECKING:
    from pilot_tui.deploy.targets.lambda_.function import LambdaFunction


@contextlib.contextmanager
def _refusal_said(what: str) -> Iterator[None]:
    """AWS's refusal inside the block as a TargetError: ``what``, then the call AWS refused
    in its own words (never a response body)."""
    try:
        yield
    except Exception as exc:
        refused = aws_errors.refusal(exc)
        if refused is None:
            raise
        raise TargetError(f"{what}: {refused}") from exc


class Lambda(ManagedContainer):
    kind: ClassVar[str] = "lambda"
    logs_name: ClassVar[str] = "CloudWatch Logs"
    made: ClassVar[str] = "function, its URL and logs"
    previews_refused: ClassVar[str | None] = None

    def preview(self, preview: Preview) -> LambdaPreview:
        return LambdaPreview(self.preview_app(preview.name), self.app, preview)

    def preview_app(self, name: str) -> AppSettings:
        # never watched: nothing of its own to go back to
        target = dataclasses.replace(target_settings(self.app, LambdaTarget), watch=0)
        return previews.preview_app(self.app, name, target)

    def preview_name_limits(self, project: str) -> dict[str, tuple[int, int]]:
        return {}  # its function's name is as long as the containers' (previews.name_room)

    def previews(self, ctx: Context) -> list[Preview]:
        from pilot_tui.deploy.targets.lambda_ import legacy_previews
        from pilot_tui.deploy.targets.lambda_.function import open_lambda

        if emulators_stopped(ctx):
            return []  # they lived in the stopped emulators
        with _refusal_said(f"the previews of {self.app.name} could not be listed"):
            fn = open_lambda(ctx.config, ctx.state_dir, ctx.root, self.app)
            made = fn.previews(ttl=self.app.previews.ttl_seconds())
            # An old alias preview redeployed since is that function now (listed once; its
            # removal takes both).
            names = {p.name for p in made}
            found = made + [p for p in legacy_previews.found(fn) if p.name not in names]
        return previews.with_live_releases(ctx.state_dir, found)

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
        from pilot_tui.deploy.targets.lambda_.image import wrap, wrapped_tag

        settings = target_settings(self.app, LambdaTarget)
        wrapped = wrapped_tag(tag, settings.port, settings.health_path)
        try:
            adapted = wrap(
                ctx.docker_client,
                tag,
                settings.port,
                settings.health_path,
                wrapped,
                log.line("build", self.app.name),
                ctx.cancel.is_set,
            )
        except Exception as exc:  # BuildError, or the adapter image cannot be pulled
            raise StageError("build", f"adding the Lambda Web Adapter: {exc}") from exc
        return adapted, wrapped


@dataclass
class LambdaPreview(Lambda):
    """A preview of ``owner``: ``app`` is its copy (previews.preview_app), deployed as a
    function of its own, pilot-PROJECT-APP--NAME, with its own URL: nothing of the owner's
    function is read or changed."""

    owner: AppSettings
    previewing: Preview

    def open(self, ctx: Context) -> LambdaFunction:
        from pilot_tui.deploy.targets.lambda_.function import open_lambda

        return open_lambda(ctx.config, ctx.state_dir, ctx.root, self.app, self.previewing)

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        """Deployed; then the agent on the Pilot Server brought up to date, so it removes
        the preview when its TTL runs out, laptop or not (on an AWS server that `server up`
        granted it: scheduling.lambda_previews)."""
        from pilot_tui.deploy.targets.docker_host.release import agent_for_previews

        release = super().deploy(ctx, log, force=force)
        say = log.line("deploy", self.app.name)
        agent_for_previews(ctx, say)
        if (why := self._not_removed_by_the_server(ctx)) is not None:
            say(why)
        return release

    def _not_removed_by_the_server(self, ctx: Context) -> str | None:
        """Why the Pilot Server's agent will not remove this preview when its TTL runs
        out, where one could: a server on AWS not (yet) granted this app's previews
        (`server up` grants them)."""
        from pilot_tui.provision.outputs import saved_outputs

        config = ctx.config
        if config.server.home != "aws":
            return None
        outputs = saved_outputs(ctx.state_dir)
        granted = outputs.get("lambda_previews")
        if not outputs or (isinstance(granted, list) and self.owner.name in granted):
            return None  # no server yet (nothing to say), or granted
        return (
            f"note: the Pilot Server may not remove {self.owner.name}'s previews when they "
            "expire (it was set up before they ran there): `pilot-tui server up` grants it; "
            "until then `pilot-tui preview prune` removes them"
        )

    def registry(self, ctx: Context) -> Registry:
        return ecr_preview_registry_for(ctx, self.owner)  # the owner's previews'

    def push_tag(self, tag: str) -> str:
        return previews.image_tag(self.previewing.name, super().push_tag(tag))

    def delete_images(self, ctx: Context) -> str | None:
        return None  # the owner's previews' repository stays with the owner

    def environment(self, ctx: DeployContext, log: RunLog) -> dict[str, str]:
        say = log.line("deploy", self.app.name)
        return previews.environment(ctx.state_dir, self.previewing, self.app, say)

    def runs_now(self, ctx: Context) -> bool:
        """Whether its function is there, asked by its name (the tagging API the previews
        are listed by can lag a new function by a minute)."""
        if emulators_stopped(ctx):
            return False
        with _refusal_said(f"whether the preview {self.app.name} exists could not be asked"):
            return self.open(ctx).current() is not None

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        from pilot_tui.deploy.targets.lambda_ import legacy_previews
        from pilot_tui.deploy.targets.lambda_.function import open_lambda

        if emulators_stopped(ctx):
            return []  # it lived in the stopped emulators
        with _refusal_said(f"the preview {self.app.name} was not all removed"):
            done = self.open(ctx).destroy(say)
            owner = open_lambda(ctx.config, ctx.state_dir, ctx.root, self.owner)
            if any(p.name == self.previewing.name for p in legacy_previews.found(owner)):
                # An earlier Pilot's preview, an alias of the app's function. Lambda hands
                # back the last version for an unchanged publish: one the app's own
                # releases name may have been published for it, and is kept.
                kept = frozenset(
                    str(r.revision)
                    for r in history.load(ctx.state_dir, self.owner.name)
                    if r.revision
                )
                done += legacy_previews.remove(owner, self.previewing.name, say, kept)
        if not self.zipped():  # its images, in the app's previews' repository
            done += delete_preview_ecr_images(ctx, self.owner, self.previewing.name, say)
        return done
