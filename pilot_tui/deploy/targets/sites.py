"""What static-site kinds share (S3 + CloudFront, GCS + CDN): which folder is published,
the Site each kind opens (its bucket and CDN) for the four stages of site_flow.py, the
release's fingerprint and its address on the sandbox.

The clients follow the project: the sandbox's emulators, or the profile / key file in
pilot.toml, whatever cloud the Pilot Server itself is on (a GCP server can deploy to S3)."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, NamedTuple, Protocol, cast

from pilot_tui.config import schema
from pilot_tui.config.schema import AppSettings, GcsCdnTarget, S3CloudFrontTarget
from pilot_tui.deploy import history
from pilot_tui.deploy.build.site_files import Changes, Remote, SiteFile
from pilot_tui.deploy.context import Context, DeployContext, RunLog
from pilot_tui.deploy.events import Released, StageFinished, release_note
from pilot_tui.errors import PilotError

Manifest = dict[str, list[str]]  # key -> [md5, content type, cache control, version id]


class SiteConfigError(PilotError):
    """The site cannot be deployed as configured; the message names the key."""

    title = "Site misconfigured"


class SiteError(PilotError):
    """The bucket or distribution could not be made or changed; the message says why."""

    title = "Site not changed"


class Served(NamedTuple):
    """Where a deployed site is served from, as the deploy stage reports it."""

    distribution: str  # what the release stage invalidates ("" when nothing)
    url: str
    detail: str
    dns_note: str = ""  # a DNS record to create, kept in the release's note


class Site(Protocol):
    """A site's bucket and its CDN, as each kind opens them (`StaticSite.open_site`): what the
    shared stages (site_flow.py) and `app destroy` ask, never which kind it is."""

    emulator: ClassVar[str]  # the sandbox emulator that holds the bucket
    bucket: str

    def address(self) -> str:
        """The bucket as its cloud's tools name it (s3://..., gs://...)."""
        ...

    def ensure_bucket(self) -> bool: ...
    def remote(self) -> dict[str, Remote]: ...

    def serving(self) -> bool:
        """False when the CDN a live release was served from is gone (deploy again)."""
        ...

    def publish(
        self, changes: Changes, files: list[SiteFile], progress: Callable[[int, int], None]
    ) -> Manifest:
        """Upload and delete; the manifest a rollback restores ({} when none is kept)."""
        ...

    def serve(self, ctx: Context, app: AppSettings, log: RunLog) -> Served:
        """Put (or find) the CDN in front of the bucket."""
        ...

    def invalidate(self, distribution_id: str, changes: Changes) -> str | None:
        """Have the CDN drop what changed; the invalidation's id, or None."""
        ...

    def keep_release(self, release_id: str, manifest: Manifest) -> str | None:
        """Keep the release's manifest for a rollback; its key (None: not kept)."""
        ...

    def destroy(self) -> list[str]: ...


def site_settings(app: AppSettings) -> S3CloudFrontTarget | GcsCdnTarget:
    """``app.target`` as a site kind's settings (the registry chose the kind by it). Not
    checked at run time: what the shared stages read (index, domain) is all they need."""
    return cast(S3CloudFrontTarget | GcsCdnTarget, app.target)


def site_folder(app: AppSettings, root: Path) -> Path:
    """The folder whose files are published (a static build without a command)."""
    folder = (root / app.path).resolve()
    if app.build.kind == "static":  # (with a command: site_build runs it first)
        folder = (folder / app.build.output).resolve()
    if not folder.is_dir():
        raise SiteConfigError(
            f"app {app.name!r}: {folder} does not exist (apps.{app.name}.path / build.output)"
        )
    return folder


def site_digest(files: list[SiteFile], target: schema.Target) -> str:
    """What the release published and how it is served: one hash over every key, MD5 and
    type, and the target's settings (a redeploy with an equal one changes nothing)."""
    digest = hashlib.sha256()
    for item in files:
        digest.update(f"{item.key}\0{item.md5}\0{item.content_type}\n".encode())
    digest.update(repr(target).encode())
    return "sha256:" + digest.hexdigest()


def local_url(ctx: Context, app: AppSettings, emulator: str, bucket: str) -> Callable[[], str]:
    """Finds the site's index on the sandbox's ``emulator``, path-style ("" with none)."""

    def find() -> str:
        from pilot_tui.cloud.sandbox import Sandbox

        found = Sandbox(ctx.state_dir).load().get(emulator)
        if found is None:
            return ""
        return f"{found.url}/{bucket}/{urllib.parse.quote(site_settings(app).index)}"

    return find


def release_live(
    ctx: DeployContext,
    log: RunLog,
    name: str,
    record: history.Release,
    invalidation: str | None,
    seconds: float,
) -> history.Release:
    """Record a site's new release (a deploy's or a rollback's) and say it is live."""
    ctx.record_release(log, name, record)
    done = f"invalidation {invalidation}" if invalidation else "nothing to invalidate"
    log.emit(StageFinished(name, "release", done, seconds))
    log.emit(
        Released(
            name,
            record.id,
            record.url or "",
            log.timer.seconds(),
            record.simulated_url or "",
            release_note(record.note),
        )
    )
    return record
