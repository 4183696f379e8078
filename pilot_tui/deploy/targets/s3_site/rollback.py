"""Rolling a static site on S3 + CloudFront back (or forward) to another release, reported
in the four stages like a deploy.

The bucket is versioned and keeps replaced files s3_site.KEEP_DAYS days, and every release's
manifest (key -> md5, content type, cache control, version id) is kept in it, so a rollback
is server-side copies of the files that differ from that release: no build, no upload."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.build.site_files import Remote
from pilot_tui.deploy.context import DeployContext, DeployError, RunLog
from pilot_tui.deploy.events import StageFailed, StageFinished, StageStarted, Timer
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.deploy.targets.s3_site.bucket import KEEP_DAYS, S3Site, VersionGone, open_s3_site
from pilot_tui.deploy.targets.sites import (
    Manifest,
    SiteConfigError,
    SiteError,
    local_url,
    release_live,
    site_settings,
)


@dataclass(frozen=True)
class Restored:
    key: str


@dataclass(frozen=True)
class Restore:
    """What a rollback changes, shaped like site_files.Changes for S3Site.invalidate."""

    upload: list[Restored]
    delete: list[str]
    unchanged: int


def plan(kept: dict[str, list[str]], remote: dict[str, Remote]) -> Restore:
    """Keys whose content or headers differ from the release's (or that are missing) are
    restored; keys the release did not have are deleted."""
    restore = [Restored(k) for k in sorted(kept) if remote.get(k) != Remote(*kept[k][:3])]
    delete = sorted(k for k in remote if k not in kept)
    return Restore(restore, delete, len(kept) - len(restore))


def _gone(release: history.Release, exc: VersionGone) -> str:
    return (
        f"{release.id} can no longer be restored: its copy of {exc.key} is gone (S3 keeps "
        f"replaced files {KEEP_DAYS} days, then expires them); nothing was changed. "
        f"Check out the commit {release.id} was deployed from and deploy it instead"
    )


def rollback_site(
    ctx: DeployContext, log: RunLog, app: AppSettings, wanted: str | None
) -> history.Release:
    """Put the files of release ``wanted`` (default: the one before the live one) back, as a
    new release; failures are a DeployError naming the stage."""
    run = _Rollback(ctx, log, app)
    try:
        earlier = run.earlier = _restorable(ctx, app.name, wanted)
        run.next("build")
        log.emit(StageStarted(app.name, "build", f"skipped: rolling back to {earlier.id}"))
        log.emit(StageFinished(app.name, "build", f"reusing the files of {earlier.id}"))
        run.next("push")
        site = open_s3_site(ctx.config, ctx.state_dir, app)
        manifest, changes = run.restore(site, earlier)
        run.next("deploy")
        distribution, url = run.serve(site)
        run.next("release")
        return run.release(site, distribution, url, changes, manifest, earlier)
    except VersionGone as exc:
        assert run.earlier is not None
        message = _gone(run.earlier, exc)
        log.emit(StageFailed(app.name, run.stage, message))
        raise DeployError(run.stage, message) from exc
    except (SiteConfigError, SiteError, TargetError, history.HistoryError) as exc:
        log.emit(StageFailed(app.name, run.stage, str(exc)))
        raise DeployError(run.stage, str(exc), exit_code=exc.exit_code) from exc
    except DeployError:
        raise
    except Exception as exc:  # botocore errors: the cloud said no
        message = f"{type(exc).__name__}: {redact.clip(str(exc), 300)}"
        log.emit(StageFailed(app.name, run.stage, message))
        raise DeployError(run.stage, message) from exc


def _redeploy(release: history.Release) -> str:
    return f"check out the commit {release.id} was deployed from and deploy it"


def _restorable(ctx: DeployContext, name: str, wanted: str | None) -> history.Release:
    """The release to go back to, if the bucket kept its files."""
    earlier = history.rollback_candidate(history.load(ctx.state_dir, name), wanted, name)
    if not earlier.revision:
        raise SiteError(
            f"{earlier.id} was deployed before Pilot kept each release's "
            f"files in the bucket: {_redeploy(earlier)}"
        )
    return earlier


@dataclass
class _Rollback:
    """One rollback, stage by stage; ``stage`` is the one running (for failures)."""

    ctx: DeployContext
    log: RunLog
    app: AppSettings
    stage: str = "rollback"  # finding the release to go back to
    timer: Timer = field(default_factory=Timer)
    earlier: history.Release | None = None

    def next(self, stage: str) -> None:
        self.stage, self.timer = stage, Timer()

    def restore(self, site: S3Site, earlier: history.Release) -> tuple[Manifest, Restore]:
        """push: copy the release's versions of what differs, delete what it did not have;
        the manifest now true of the bucket, and what changed."""
        name = self.app.name
        where = site.address()
        self.log.emit(StageStarted(name, "push", f"{where}, back to {earlier.id}"))
        kept = site.manifest(earlier.revision) if earlier.revision else None
        if kept is None:
            lost = (
                " (the sandbox's cloud lives in memory: stopping its emulators loses every "
                "release's files)"
                if self.ctx.config.server.home == "sandbox"
                else ""
            )
            raise SiteError(
                f"the bucket has no record of {earlier.id}'s files "
                f"({where}/{earlier.revision}): {_redeploy(earlier)}{lost}"
            )
        current = site.manifest() or {}
        changes = plan(kept, site.remote())
        say = self.log.line("push", name)
        step = max(1, len(changes.upload) // 10)

        def progress(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                say(f"restored {done}/{total}")

        copied = site.restore({r.key: kept[r.key] for r in changes.upload}, progress)
        site.delete(changes.delete)
        # Unchanged files keep their current version: the one that stays restorable longest.
        versions = {
            **site.current_versions([k for k in kept if k not in copied], current),
            **copied,
        }
        manifest = {k: [*kept[k][:3], versions[k]] for k in kept}
        site.save_manifest(manifest)
        self.log.emit(
            StageFinished(
                name,
                "push",
                f"{len(changes.upload)} restored from "
                f"{earlier.id} (copied in the bucket), {len(changes.delete)} "
                f"deleted, {changes.unchanged} unchanged",
                self.timer.seconds(),
            )
        )
        return manifest, changes

    def serve(self, site: S3Site) -> tuple[str, str]:
        """deploy: the distribution (made again if it is gone); (its id, the site's URL)."""
        app, settings = self.app, site_settings(self.app)
        self.log.emit(StageStarted(app.name, "deploy"))
        aliases = (settings.domain,) if settings.domain else ()
        distribution, domain = site.ensure_distribution(settings.index, aliases)
        simulated = "simulated: " if self.ctx.config.server.home == "sandbox" else ""
        served = f"CloudFront {distribution} ({simulated}{domain})"  # as a deploy says it
        self.log.emit(StageFinished(app.name, "deploy", served, self.timer.seconds()))
        return distribution, f"https://{settings.domain or domain}/"

    def release(
        self,
        site: S3Site,
        distribution: str,
        url: str,
        changes: Restore,
        manifest: Manifest,
        earlier: history.Release,
    ) -> history.Release:
        """release: invalidate what changed; record the rollback as a new release, its
        manifest kept like a deploy's (so rolling forward again, or back to it, works)."""
        ctx, log, name = self.ctx, self.log, self.app.name
        log.emit(StageStarted(name, "release"))
        invalidation = site.invalidate(distribution, changes)
        release_id = history.next_id(history.load(ctx.state_dir, name))
        record = addresses.placed(
            ctx.config,
            dataclasses.replace(
                earlier,
                id=release_id,
                created=history.now(),
                status=history.LIVE,
                url=url,
                note=f"rollback to {earlier.id}",
                revision=site.keep_release(release_id, manifest),
                by=None,  # who rolls back, not who made it
            ),
            local_url(ctx, self.app, site.emulator, site.bucket),
        )
        return release_live(ctx, log, name, record, invalidation, self.timer.seconds())
