"""The four stages for a static site on a managed target (see sites.py), reported through
the engine's run log like a container deploy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.build import BuildError
from pilot_tui.deploy.events import (
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
)
from pilot_tui.deploy.shippable import private_paths
from pilot_tui.deploy.site_build import build_output, needs_builder
from pilot_tui.deploy.site_files import Changes, publishable, scan
from pilot_tui.deploy.site_files import plan as plan_changes
from pilot_tui.deploy.targets.docker_host.containers import Cancelled
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.deploy.targets.s3_site.bucket import S3Site, SiteError
from pilot_tui.deploy.targets.sites import SiteConfigError, open_site, site_digest, site_folder


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _gcs_cdn(engine: Any, app: Any, site: GcsSite, say: Any) -> tuple[str, str, str]:
    """Cloud CDN in front of the bucket (outside the sandbox): (url, detail, note with the
    DNS record to create)."""
    from pilot_tui.deploy.targets.gcs_site.cdn import open_cdn

    if site.cdn is None:  # sites.open_site gives it one outside the sandbox
        site.cdn = open_cdn(engine.config, engine.root, app, site.bucket)
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


def deploy_site(engine: Any, log: Any, app: Any, *, force: bool = False) -> history.Release:
    from pilot_tui.deploy.engine import DeployError

    name = app.name
    stage = "build"
    timer = Timer()
    built: Path | None = None  # a build command's output, removed when done
    private = private_paths(engine.root, engine.config)

    def warn(text: str) -> None:
        log.emit(Output(name, "build", text, warning=True))

    try:
        if needs_builder(app):
            engine.docker  # noqa: B018 - raises DeployError when no Docker host was opened
            log.emit(
                StageStarted(
                    name, "build", f"`{app.build.command}` in {app.build.image} on the Docker host"
                )
            )
            built = build_output(
                engine.client,
                app,
                engine.root,
                log.line("build", name),
                engine.cancelled,
                private,
                warn,
            )
            folder = built
        else:
            log.emit(StageStarted(name, "build", "collecting the site's files"))
            folder = site_folder(app, engine.root)
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
        if engine.config.server.home == "sandbox":
            from pilot_tui.sandbox import start_for_deploy

            start_for_deploy(engine.state_dir, log.line("push", name))
        site = open_site(engine.config, engine.state_dir, engine.root, app)
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
            None if force else history.live(history.load(engine.state_dir, name)),
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
            simulated = "simulated: " if engine.config.server.home == "sandbox" else ""
            detail = f"CloudFront {distribution} ({simulated}{domain})"
            if app.target.domain:
                say(f"point {app.target.domain} at {domain} (a CNAME at your DNS provider)")
        elif engine.config.server.home == "sandbox":  # the GCS emulator only
            distribution = ""
            url = f"https://storage.googleapis.com/{site.bucket}/{app.target.index}"
            detail = "bucket ready; Cloud CDN is not simulated in the sandbox"
        else:
            distribution, (url, detail, dns_note) = (
                "",
                _gcs_cdn(engine, app, site, log.line("deploy", name)),
            )
        where = addresses.for_app(engine.config, engine.state_dir, app, url)
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
        release_id = history.next_id(history.load(engine.state_dir, name))
        revision = site.keep_release(release_id, manifest) if isinstance(site, S3Site) else None
        record = addresses.placed(
            engine.config,
            engine.state_dir,
            app,
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
        )
        engine.record_release(log, name, record)
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
