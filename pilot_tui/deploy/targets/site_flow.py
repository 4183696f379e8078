"""The four stages for a static site on a managed target (see sites.py), reported through
the engine's run log like a container deploy."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.build.recipe import BuildError
from pilot_tui.deploy.build.shippable import private_paths
from pilot_tui.deploy.build.site_build import build_output, needs_builder
from pilot_tui.deploy.build.site_files import Changes, publishable, scan
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
from pilot_tui.deploy.targets.base import AppStatus, LogLine, NoLogs, emulators_stopped
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.deploy.targets.s3_site.bucket import S3Site, SiteError
from pilot_tui.deploy.targets.sites import (
    SiteConfigError,
    local_url,
    open_site,
    site_digest,
    site_folder,
)
from pilot_tui.naming import site_bucket


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _gcs_cdn(ctx: Context, app: Any, site: GcsSite, say: Say) -> tuple[str, str, str]:
    """Cloud CDN in front of the bucket (outside the sandbox): (url, detail, note with the
    DNS record to create)."""
    from pilot_tui.deploy.targets.gcs_site.cdn import open_cdn

    if site.cdn is None:  # sites.open_site gives it one outside the sandbox
        site.cdn = open_cdn(ctx.config, ctx.root, app, site.bucket)
    made = site.cdn.ensure(say)
    return made.url, made.detail, "".join(f"; DNS: {r}" for r in made.dns)


def _unchanged(
    site: S3Site | GcsSite, changes: Changes, made_of: str, live: history.Release | None
) -> history.Release | None:
    """The live release when this deploy would change nothing: the same files and settings
    (its fingerprint), nothing to upload or delete, and (S3) its distribution still there."""
    if live is None or live.image_id != made_of or changes.upload or changes.delete:
        return None
    if isinstance(site, S3Site) and site.find_distribution() is None:
        return None
    return live


def deploy_site(
    ctx: DeployContext, log: RunLog, app: Any, *, force: bool = False
) -> history.Release:
    name = app.name
    stage = "build"
    timer = Timer()
    built: Path | None = None  # a build command's output, removed when done
    private = private_paths(ctx.root, ctx.config)

    def warn(text: str) -> None:
        log.emit(Output(name, "build", text, warning=True))

    try:
        if needs_builder(app):
            ctx.docker  # noqa: B018 - raises DeployError when no Docker host was opened
            log.emit(
                StageStarted(
                    name, "build", f"`{app.build.command}` in {app.build.image} on the Docker host"
                )
            )
            built = build_output(
                ctx.client,
                app,
                ctx.root,
                log.line("build", name),
                ctx.cancel.is_set,
                private,
                warn,
            )
            folder = built
        else:
            log.emit(StageStarted(name, "build", "collecting the site's files"))
            folder = site_folder(app, ctx.root)
        shipped = publishable(folder, private)
        for skipped in shipped.skipped:
            warn(skipped.message())
        files = scan(folder, shipped)
        if not any(f.key == app.target.index for f in files):
            raise SiteConfigError(
                f"app {name!r}: {folder} has no {app.target.index} (apps.{name}.target.index)"
            )
        log.emit(
            StageFinished(
                name,
                "build",
                f"{len(files)} file{'s' if len(files) != 1 else ''}, "
                f"{_mb(sum(f.size for f in files))} from {folder}",
                timer.seconds(),
            )
        )
        stage, timer = "push", Timer()
        if ctx.config.server.home == "sandbox":
            from pilot_tui.cloud.sandbox import start_for_deploy

            start_for_deploy(ctx.state_dir, log.line("push", name))
        site = open_site(ctx.config, ctx.state_dir, ctx.root, app)
        bucket_url = f"s3://{site.bucket}" if isinstance(site, S3Site) else f"gs://{site.bucket}"
        log.emit(StageStarted(name, "push", bucket_url))
        if site.ensure_bucket():
            log.line("push", name)(f"created {bucket_url} (private)")
        changes = plan_changes(files, site.remote())
        made_of = site_digest(files, app.target)
        current = _unchanged(
            site,
            changes,
            made_of,
            None if force else history.live(history.load(ctx.state_dir, name)),
        )
        say = log.line("push", name)
        step = max(1, len(changes.upload) // 10)

        def progress(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                say(f"uploaded {done}/{total}")

        manifest: dict[str, list[str]] = {}  # S3: kept per release for a rollback
        if current is None:  # else nothing to write, not even the manifest
            if isinstance(site, S3Site):
                manifest = site.apply(changes, files, progress)
            else:
                site.apply(changes, progress)
        log.emit(
            StageFinished(
                name,
                "push",
                f"{len(changes.upload)} uploaded "
                f"({_mb(changes.bytes)}), {len(changes.delete)} deleted, "
                f"{changes.unchanged} unchanged",
                timer.seconds(),
            )
        )
        if current is not None:  # as on the other targets: no new release
            log.emit(StageStarted(name, "deploy"))
            log.emit(StageFinished(name, "deploy", f"nothing changed: {current.id} is live"))
            log.emit(
                Released(name, current.id, current.url or "", simulated=current.simulated_url or "")
            )
            return current
        stage, timer = "deploy", Timer()
        log.emit(StageStarted(name, "deploy"))
        dns_note = ""  # GCS behind Cloud CDN: the DNS record to create, kept in the release
        if isinstance(site, S3Site):
            aliases = (app.target.domain,) if app.target.domain else ()
            distribution, domain = site.ensure_distribution(app.target.index, aliases)
            url = f"https://{app.target.domain or domain}/"
            simulated = "simulated: " if ctx.config.server.home == "sandbox" else ""
            detail = f"CloudFront {distribution} ({simulated}{domain})"
            if app.target.domain:
                say(f"point {app.target.domain} at {domain} (a CNAME at your DNS provider)")
        elif ctx.config.server.home == "sandbox":  # the GCS emulator only
            distribution = ""
            url = f"https://storage.googleapis.com/{site.bucket}/{app.target.index}"
            detail = "bucket ready; Cloud CDN is not simulated in the sandbox"
        else:
            distribution, (url, detail, dns_note) = (
                "",
                _gcs_cdn(ctx, app, site, log.line("deploy", name)),
            )
        local = local_url(ctx, app, site.emulator, site.bucket)
        where = addresses.for_app(ctx.config, url, local)
        if where.simulated:
            log.line("deploy", name)(
                "the sandbox's cloud is simulated on this machine: the site answers at "
                f"{where.url or '(no emulator recorded)'} (its local bucket); "
                f"{where.simulated} is simulated: nothing answers there"
            )
        log.emit(StageFinished(name, "deploy", detail, timer.seconds()))
        stage, timer = "release", Timer()
        log.emit(StageStarted(name, "release"))
        if isinstance(site, S3Site):
            invalidation = site.invalidate(distribution, changes)
        else:
            invalidation = (
                site.cdn.invalidate(len(changes.upload) + len(changes.delete))
                if site.cdn is not None
                else None
            )
        release_id = history.next_id(history.load(ctx.state_dir, name))
        revision = site.keep_release(release_id, manifest) if isinstance(site, S3Site) else None
        record = addresses.placed(
            ctx.config,
            history.Release(
                release_id,
                name,
                bucket_url,
                made_of,
                history.now(),
                history.LIVE,
                url=url,
                note=f"{len(changes.upload)} file(s) changed{dns_note}",
                revision=revision,
            ),
            local,
        )
        ctx.record_release(log, name, record)
        log.emit(
            StageFinished(
                name,
                "release",
                f"invalidation {invalidation}" if invalidation else "nothing to invalidate",
                timer.seconds(),
            )
        )
        log.emit(
            Released(
                name, record.id, record.url or "", log.timer.seconds(), record.simulated_url or ""
            )
        )
        return record
    except (SiteConfigError, SiteError, TargetError, BuildError) as exc:
        log.emit(StageFailed(name, stage, str(exc)))
        raise DeployError(stage, str(exc)) from exc
    except (DeployError, Cancelled):
        raise
    except Exception as exc:  # botocore / google errors: the cloud said no
        message = f"{type(exc).__name__}: {str(exc)[:300]}"
        log.emit(StageFailed(name, stage, message))
        raise DeployError(stage, message) from exc
    finally:
        if built is not None:
            shutil.rmtree(built, ignore_errors=True)


@dataclass
class StaticSite:
    """The Target contract for a static site in a cloud bucket behind its CDN: the four
    stages above, shared; each kind's module names itself (S3 + CloudFront, GCS + CDN)."""

    kind: ClassVar[str]
    emulator: ClassVar[str]  # the sandbox emulator that holds its bucket
    on_docker_host: ClassVar[bool] = False
    has_logs: ClassVar[bool] = False

    app: Any  # AppSettings

    def needs_docker(self) -> bool:
        """Only to run a build command first; the files go straight to the bucket."""
        return needs_builder(self.app)

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        return deploy_site(ctx, log, self.app, force=force)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        from pilot_tui.deploy.targets.s3_site.rollback import rollback_site

        ctx.pull(log, self.app.name)  # the newest shared history decides what "previous" is
        return rollback_site(ctx, log, self.app, wanted)

    def status(self, ctx: Context) -> AppStatus:
        """A real bucket is served by its CDN (not asked); in the sandbox the site's local
        address is asked, as a browser on this machine would."""
        app = self.app
        live = history.live_release(ctx.state_dir, app.name)
        if live is None:
            return AppStatus(app.name, "-", "not deployed", "-")
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

    def log_source(self, config: Any) -> str:
        return self.kind

    def destroy_question(self, config: Any) -> str:
        bucket = site_bucket(config.project.name, self.app.name)
        return (
            f"Delete {self.app.name}'s bucket {bucket} and everything in it, and its CDN? "
            "(history is kept)"
        )

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        if ctx.config.server.home == "sandbox" and emulators_stopped(ctx):
            from pilot_tui.cloud.sandbox import STOPPED

            say(f"{STOPPED}: nothing of {self.app.name} is left to remove")  # not started
            return []  # just to find nothing
        done = open_site(ctx.config, ctx.state_dir, ctx.root, self.app).destroy()
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
