"""Rolling a static site on S3 + CloudFront back (or forward) to another release, reported
in the four stages like a deploy.

The bucket is versioned and keeps replaced files s3_site.KEEP_DAYS days, and every release's
manifest (key -> md5, content type, cache control, version id) is kept in it, so a rollback
is server-side copies of the files that differ from that release: no build, no upload."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.build.site_files import Remote
from pilot_tui.deploy.context import DeployContext, DeployError, RunLog
from pilot_tui.deploy.events import Released, StageFailed, StageFinished, StageStarted, Timer
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.deploy.targets.s3_site.bucket import KEEP_DAYS, S3Site, SiteError, VersionGone
from pilot_tui.deploy.targets.sites import SiteConfigError, local_url, open_site


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


def rollback_site(ctx: DeployContext, log: RunLog, app: Any, wanted: str | None) -> history.Release:
    name = app.name
    stage = "release"
    timer = Timer()
    earlier: history.Release | None = None
    try:
        if app.target.kind != "s3-cloudfront":
            raise SiteError(
                "rolling back a GCS site is not supported yet: check out the "
                "earlier commit and deploy it"
            )
        releases = history.load(ctx.state_dir, name)
        earlier = history.rollback_candidate(releases, wanted)
        redeploy = f"check out the commit {earlier.id} was deployed from and deploy it"
        if not earlier.revision:
            raise SiteError(
                f"{earlier.id} was deployed before Pilot kept each release's "
                f"files in the bucket: {redeploy}"
            )
        stage = "build"
        log.emit(StageStarted(name, "build", f"skipped: rolling back to {earlier.id}"))
        log.emit(StageFinished(name, "build", f"reusing the files of {earlier.id}"))
        stage, timer = "push", Timer()
        site = open_site(ctx.config, ctx.state_dir, ctx.root, app)
        assert isinstance(site, S3Site)
        where = f"s3://{site.bucket}"
        log.emit(StageStarted(name, "push", f"{where}, back to {earlier.id}"))
        kept = site.manifest(earlier.revision)
        if kept is None:
            raise SiteError(
                f"the bucket has no record of {earlier.id}'s files "
                f"({where}/{earlier.revision}): {redeploy}"
            )
        current = site.manifest() or {}
        changes = plan(kept, site.remote())
        say = log.line("push", name)
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
        log.emit(
            StageFinished(
                name,
                "push",
                f"{len(changes.upload)} restored from "
                f"{earlier.id} (copied in the bucket), {len(changes.delete)} "
                f"deleted, {changes.unchanged} unchanged",
                timer.seconds(),
            )
        )
        stage, timer = "deploy", Timer()
        log.emit(StageStarted(name, "deploy"))
        aliases = (app.target.domain,) if app.target.domain else ()
        distribution, domain = site.ensure_distribution(app.target.index, aliases)
        url = f"https://{app.target.domain or domain}/"
        log.emit(
            StageFinished(name, "deploy", f"CloudFront {distribution} ({domain})", timer.seconds())
        )
        stage, timer = "release", Timer()
        log.emit(StageStarted(name, "release"))
        invalidation = site.invalidate(distribution, changes)
        release_id = history.next_id(history.load(ctx.state_dir, name))
        # Kept like a deploy's, so rolling forward again (or back to this one) works.
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
            ),
            local_url(ctx, app, site.emulator, site.bucket),
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
    except VersionGone as exc:
        assert earlier is not None
        message = _gone(earlier, exc)
        log.emit(StageFailed(name, stage, message))
        raise DeployError(stage, message) from exc
    except (SiteConfigError, SiteError, TargetError, history.HistoryError) as exc:
        log.emit(StageFailed(name, stage, str(exc)))
        raise DeployError(stage, str(exc)) from exc
    except DeployError:
        raise
    except Exception as exc:  # botocore errors: the cloud said no
        message = f"{type(exc).__name__}: {str(exc)[:300]}"
        log.emit(StageFailed(name, stage, message))
        raise DeployError(stage, message) from exc
