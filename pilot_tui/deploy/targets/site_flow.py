"""The four stages for a static site on a managed target, reported through the engine's run
log like a container deploy: build (collect the files, or run the build command), push
(upload what changed, in parallel), deploy (the CDN), release (invalidate, record). Each
kind's StaticSite opens its Site (sites.py); nothing here asks which kind it is."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, cast

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig, StaticBuild
from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.build.recipe import BuildError
from pilot_tui.deploy.build.shippable import private_paths
from pilot_tui.deploy.build.site_build import build_output, needs_builder
from pilot_tui.deploy.build.site_builder import builder_network
from pilot_tui.deploy.build.site_files import Changes, SiteFile, publishable, scan
from pilot_tui.deploy.build.site_files import plan as plan_changes
from pilot_tui.deploy.context import Cancelled, Context, DeployContext, DeployError, RunLog, Say
from pilot_tui.deploy.events import (
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
)
from pilot_tui.deploy.release_contents import settings_record
from pilot_tui.deploy.targets.base import (
    AppStatus,
    LogLine,
    NoLogs,
    NoPreviews,
    emulators_stopped,
    not_deployed,
)
from pilot_tui.deploy.targets.log_follow import polled_stream
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.deploy.targets.sites import (
    Manifest,
    Served,
    Site,
    SiteConfigError,
    SiteError,
    local_url,
    release_live,
    site_digest,
    site_folder,
    site_settings,
)
from pilot_tui.naming import site_bucket
from pilot_tui.wording import counted, size


def deploy_site(
    ctx: DeployContext, log: RunLog, app: AppSettings, opener: Opener, *, force: bool = False
) -> history.Release:
    """The four stages for ``app``'s site, its bucket and CDN opened by ``opener`` (the
    kind's StaticSite.open_site); failures are a DeployError naming the stage."""
    run = _SiteDeploy(ctx, log, app)
    try:
        files, folder = run.collect()
        return run.publish(files, folder, opener, force)
    except (SiteConfigError, SiteError, TargetError, BuildError) as exc:
        log.emit(StageFailed(app.name, run.stage, str(exc)))
        raise DeployError(run.stage, str(exc)) from exc
    except (DeployError, Cancelled):
        raise
    except Exception as exc:  # botocore / google errors: the cloud said no
        message = f"{type(exc).__name__}: {redact.clip(str(exc), 300)}"
        log.emit(StageFailed(app.name, run.stage, message))
        raise DeployError(run.stage, message) from exc
    finally:
        if run.built is not None:
            shutil.rmtree(run.built, ignore_errors=True)


Opener = Callable[[Context], Site]


@dataclass
class _SiteDeploy:
    """One deploy of a site, stage by stage; ``stage`` is the one running (for failures)."""

    ctx: DeployContext
    log: RunLog
    app: AppSettings
    stage: str = "build"
    timer: Timer = field(default_factory=Timer)
    built: Path | None = None  # a build command's output, removed when done

    def _next(self, stage: str) -> None:
        self.stage, self.timer = stage, Timer()

    def _warn(self, text: str) -> None:
        self.log.emit(Output(self.app.name, "build", text, warning=True))

    def collect(self) -> tuple[list[SiteFile], Path]:
        """build: run the build command (on the Docker host, or a CI runner's) or take the
        folder; the files
        that may be published, the index among them."""
        ctx, log, app, name = self.ctx, self.log, self.app, self.app.name
        private = private_paths(ctx.root, ctx.config)
        if needs_builder(app):
            ctx.docker  # noqa: B018 - raises DeployError when no Docker host was opened
            build = cast(StaticBuild, app.build)  # needs_builder: a static build's command
            log.emit(
                StageStarted(
                    name, "build", f"`{build.command}` in {build.image} on {ctx.docker.address}"
                )
            )
            self.built = build_output(
                ctx.docker_client,
                app,
                ctx.root,
                log.line("build", name),
                ctx.cancel.is_set,
                private,
                self._warn,
                builder_network(ctx.config.server.home),
            )
            folder = self.built
        else:
            log.emit(StageStarted(name, "build", "collecting the site's files"))
            folder = site_folder(app, ctx.root)
        shipped = publishable(folder, private)
        for skipped in shipped.skipped:
            self._warn(skipped.message())
        files = scan(folder, shipped)
        index = site_settings(app).index
        if not any(f.key == index for f in files):
            raise SiteConfigError(
                f"app {name!r}: {folder} has no {index} (apps.{name}.target.index)"
            )
        return files, folder

    def publish(
        self, files: list[SiteFile], folder: Path, opener: Opener, force: bool
    ) -> history.Release:
        """push, then (when anything changed) deploy and release."""
        ctx, log, name = self.ctx, self.log, self.app.name
        log.emit(
            StageFinished(
                name,
                "build",
                f"{len(files)} file{'s' if len(files) != 1 else ''}, "
                f"{size(sum(f.size for f in files))} from {folder}",
                self.timer.seconds(),
            )
        )
        self._next("push")
        if ctx.config.server.home == "sandbox":
            from pilot_tui.cloud.sandbox import start_for_deploy

            start_for_deploy(ctx.state_dir, log.line("push", name))
        ctx.pull(log, name)  # a teammate (or a CI run) may have released since
        site = opener(ctx)
        changes, made_of, current, manifest = self.push(site, files, force)
        if current is not None:  # as on the other targets: no new release
            log.emit(StageStarted(name, "deploy"))
            log.emit(StageFinished(name, "deploy", f"nothing changed: {current.id} is live"))
            log.emit(
                Released(name, current.id, current.url or "", simulated=current.simulated_url or "")
            )
            return current
        served, local = self.serve(site)
        return self.release(site, served, local, changes, made_of, manifest)

    def push(
        self, site: Site, files: list[SiteFile], force: bool
    ) -> tuple[Changes, str, history.Release | None, Manifest]:
        """Upload what changed; (the changes, the release's fingerprint, the live release
        when nothing changed, the manifest kept for a rollback)."""
        ctx, log, app, name = self.ctx, self.log, self.app, self.app.name
        log.emit(StageStarted(name, "push", site.address()))
        if site.ensure_bucket():
            log.line("push", name)(f"created {site.address()} (private)")
        changes = plan_changes(files, site.remote())
        made_of = site_digest(files, app.target)
        live = None if force else history.live(history.load(ctx.state_dir, name))
        current = _unchanged(site, changes, made_of, live)
        say = log.line("push", name)
        step = max(1, len(changes.upload) // 10)

        def progress(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                say(f"uploaded {done}/{total}")

        manifest: Manifest = {}
        if current is None:  # else nothing to write, not even the manifest
            manifest = site.publish(changes, files, progress)
        log.emit(
            StageFinished(
                name,
                "push",
                f"{len(changes.upload)} uploaded "
                f"({size(changes.bytes)}), {len(changes.delete)} deleted, "
                f"{changes.unchanged} unchanged",
                self.timer.seconds(),
            )
        )
        return changes, made_of, current, manifest

    def serve(self, site: Site) -> tuple[Served, Callable[[], str]]:
        """deploy: the CDN in front of the bucket; (where it is served, the local address
        finder)."""
        ctx, log, app, name = self.ctx, self.log, self.app, self.app.name
        self._next("deploy")
        log.emit(StageStarted(name, "deploy"))
        served = site.serve(ctx, app, log)
        local = local_url(ctx, app, site.emulator, site.bucket)
        where = addresses.for_app(ctx.config, served.url, local)
        if where.simulated:
            log.line("deploy", name)(
                "the sandbox's cloud is simulated on this machine: the site answers at "
                f"{where.url or '(no emulator recorded)'} (its local bucket); "
                f"{where.simulated} is simulated: nothing answers there"
            )
        log.emit(StageFinished(name, "deploy", served.detail, self.timer.seconds()))
        return served, local

    def release(
        self,
        site: Site,
        served: Served,
        local: Callable[[], str],
        changes: Changes,
        made_of: str,
        manifest: Manifest,
    ) -> history.Release:
        """release: invalidate what changed, keep the manifest, record the release."""
        ctx, log, name = self.ctx, self.log, self.app.name
        self._next("release")
        log.emit(StageStarted(name, "release"))
        invalidation = site.invalidate(served.distribution, changes)
        release_id = history.next_id(history.load(ctx.state_dir, name))
        record = addresses.placed(
            ctx.config,
            history.Release(
                release_id,
                name,
                site.address(),
                made_of,
                history.now(),
                history.LIVE,
                url=served.url,
                note=f"{counted(len(changes.upload) + len(changes.delete), 'file')} changed"
                f"{served.dns_note}",  # uploads and deletions both (found walking)
                revision=site.keep_release(release_id, manifest),
                settings=settings_record(self.app),
            ),
            local,
        )
        return release_live(ctx, log, name, record, invalidation, self.timer.seconds())


def _unchanged(
    site: Site, changes: Changes, made_of: str, live: history.Release | None
) -> history.Release | None:
    """The live release when this deploy would change nothing: the same files and settings
    (its fingerprint), nothing to upload or delete, and its CDN still there."""
    if live is None or live.image_id != made_of or changes.upload or changes.delete:
        return None
    if not site.serving():
        return None
    return live


@dataclass
class StaticSite(NoPreviews):
    """The Target contract for a static site in a cloud bucket behind its CDN: the four
    stages above, shared; each kind's module names itself (S3 + CloudFront, GCS + CDN)."""

    kind: ClassVar[str]
    emulator: ClassVar[str]  # the sandbox emulator that holds its bucket
    on_docker_host: ClassVar[bool] = False
    has_logs: ClassVar[bool] = False

    app: AppSettings

    def needs_docker(self) -> bool:
        """Only to run a build command first; the files go straight to the bucket."""
        return needs_builder(self.app)

    def builds_image(self) -> bool:
        return False  # its files go to the bucket (a build command runs in a container first)

    def open_site(self, ctx: Context) -> Site:
        """The app's bucket and CDN, with the project's clients."""
        raise NotImplementedError

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        return deploy_site(ctx, log, self.app, self.open_site, force=force)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        raise NotImplementedError

    def status(self, ctx: Context) -> AppStatus:
        """A real bucket is served by its CDN (not asked); in the sandbox the site's local
        address is asked, as a browser on this machine would."""
        app = self.app
        live = history.live_release(ctx.state_dir, app.name)
        if live is None:
            return not_deployed(app.name, ctx.state_dir)
        where = addresses.of_release(live)
        if not where.simulated:
            return AppStatus(app.name, live.id, "managed target", where.url or "-")
        from pilot_tui.cloud.sandbox import Sandbox

        if self.emulator not in Sandbox(ctx.state_dir).running():
            return AppStatus(
                app.name,
                live.id,
                "stopped (the sandbox's emulators are not running; deploy again)",
                "-",
                where.simulated,
            )
        return AppStatus(app.name, live.id, _answers(where.url), where.url or "-", where.simulated)

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]:
        raise NoLogs(f"{self.app.name} is a static site on {self.kind}: it has no app logs")

    def stream(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        return polled_stream(self, ctx, say, tail=tail, follow=follow)  # says it has none

    def requests(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        raise NoLogs(
            f"{self.app.name} is a static site on {self.kind}, not behind Pilot's edge: its "
            "CDN logs its requests"
        )

    def log_source(self, config: PilotConfig) -> str:
        return self.kind

    def destroy_question(self, config: PilotConfig) -> str:
        bucket = site_bucket(config.project.name, self.app.name)
        return (
            f"Delete {self.app.name}'s bucket {bucket} and everything in it, and its CDN? "
            "(history is kept)"
        )

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        if emulators_stopped(ctx):
            from pilot_tui.cloud.sandbox import STOPPED

            say(f"{STOPPED}: nothing of {self.app.name} is left to remove")  # not started
            return []  # just to find nothing
        done = self.open_site(ctx).destroy()
        for line in done:
            say(line)
        return done


def _answers(url: str) -> str:
    """healthy when ``url`` answers 2xx/3xx, else why not."""
    if not url:
        return "unhealthy (no address on this machine: deploy again)"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return "healthy"
    except urllib.error.HTTPError as exc:
        return f"unhealthy (HTTP {exc.code} at {url})"
    except OSError as exc:
        return f"unhealthy ({exc} at {url})"
