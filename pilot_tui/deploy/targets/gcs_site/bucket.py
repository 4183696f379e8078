"""Static sites on Google Cloud Storage (served through Cloud CDN): a bucket with uniform
access, uploads in parallel with the right content types and cache headers, unchanged files
(same MD5, type and cache header, all in the listing) skipped, removed files deleted.

Cloud CDN itself (backend bucket, URL map, proxy, managed certificate) has no emulator here:
cdn.py builds its requests as data and sends them through a gcp_api.Transport."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pilot_tui.cloud import clients
from pilot_tui.cloud.identity_gcp import NEEDS_SETUP
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.build.site_files import Changes, Remote, SiteFile
from pilot_tui.deploy.context import Context, RunLog
from pilot_tui.deploy.targets.gcs_site import cdn as gcs_cdn
from pilot_tui.deploy.targets.gcs_site.cdn import dns_records
from pilot_tui.deploy.targets.sites import (
    Manifest,
    Served,
    SiteConfigError,
    SiteError,
    site_settings,
)
from pilot_tui.naming import site_bucket

if TYPE_CHECKING:
    from google.cloud import storage

__all__ = ["GcsSite", "cdn_requests", "dns_records"]

WORKERS = 16


@dataclass
class GcsSite:
    emulator: ClassVar[str] = "gcs"  # the sandbox emulator that holds it
    client: storage.Client
    bucket: str
    location: str
    cdn: gcs_cdn.Cdn | None = None  # outside the sandbox: its CDN goes with it on destroy

    def address(self) -> str:
        return f"gs://{self.bucket}"

    def ensure_bucket(self, index: str = "index.html") -> bool:
        from google.api_core.exceptions import Forbidden, NotFound

        try:
            bucket = self.client.get_bucket(self.bucket)
            created = False
        except NotFound:
            bucket = self.client.bucket(self.bucket)
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            bucket.configure_website(main_page_suffix=index, not_found_page="404.html")
            try:
                self.client.create_bucket(bucket, location=self.location)
            except Forbidden:  # the deployer: granted on the buckets setup made, no other
                raise SiteError(
                    f"bucket {self.bucket} does not exist and these credentials "
                    f"may not create it; {NEEDS_SETUP}"
                ) from None
            created = True
        return created

    def remote(self) -> dict[str, Remote]:
        out = {}
        for blob in self.client.list_blobs(self.bucket):
            md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else ""
            out[blob.name] = Remote(md5, blob.content_type or "", blob.cache_control or "")
        return out

    def apply(
        self,
        changes: Changes,
        progress: Callable[[int, int], None] = lambda done, total: None,
        workers: int = WORKERS,
    ) -> None:
        bucket = self.client.bucket(self.bucket)
        total = len(changes.upload)
        done = 0

        def put(item: SiteFile) -> None:
            blob = bucket.blob(item.key)
            blob.cache_control = item.cache_control
            blob.md5_hash = item.md5_base64  # the service checks the bytes against it
            blob.upload_from_filename(str(item.local), content_type=item.content_type)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(put, changes.upload):
                done += 1
                progress(done, total)
        for key in changes.delete:
            bucket.blob(key).delete()

    def serving(self) -> bool:
        return True  # the CDN is asked again on every deploy (cdn.Cdn.ensure)

    def publish(
        self, changes: Changes, files: list[SiteFile], progress: Callable[[int, int], None]
    ) -> Manifest:
        """apply; no manifest is kept (a GCS site cannot be rolled back yet)."""
        self.apply(changes, progress)
        return {}

    def serve(self, ctx: Context, app: AppSettings, log: RunLog) -> Served:
        """Cloud CDN in front of the bucket outside the sandbox (whose GCS emulator has no
        CDN: the bucket alone), with the DNS record to create."""
        if ctx.config.server.home == "sandbox":
            url = f"https://storage.googleapis.com/{self.bucket}/{site_settings(app).index}"
            return Served("", url, "bucket ready; Cloud CDN is not simulated in the sandbox")
        if self.cdn is None:  # open_gcs_site gives it one outside the sandbox
            self.cdn = gcs_cdn.open_cdn(ctx.config, ctx.root, app, self.bucket)
        made = self.cdn.ensure(log.line("deploy", app.name))
        return Served("", made.url, made.detail, "".join(f"; DNS: {r}" for r in made.dns))

    def invalidate(self, distribution_id: str, changes: Changes) -> str | None:
        """Have Cloud CDN drop the cached site (none in the sandbox)."""
        if self.cdn is None:
            return None
        return self.cdn.invalidate(len(changes.upload) + len(changes.delete))

    def keep_release(self, release_id: str, manifest: Manifest) -> str | None:
        return None  # no rollback yet: nothing to keep

    def destroy(self) -> list[str]:
        """The CDN first (its backend bucket refers to the bucket), then the bucket."""
        from google.api_core.exceptions import NotFound

        done = self.cdn.destroy(lambda _: None) if self.cdn is not None else []
        try:
            bucket = self.client.get_bucket(self.bucket)
        except NotFound:
            return done
        for blob in self.client.list_blobs(self.bucket):
            blob.delete()
        bucket.delete()
        return [*done, f"deleted gs://{self.bucket}"]


def open_gcs_site(config: PilotConfig, state_dir: Path, root: Path, app: AppSettings) -> GcsSite:
    """The GCS site of ``app``: the bucket through the deployer's (or the emulator's)
    client, and outside the sandbox its Cloud CDN."""
    bucket = site_bucket(config.project.name, app.name)
    sandbox = config.server.home == "sandbox"
    cdn = None
    if not sandbox:  # the sandbox has no Compute emulator: no CDN
        cdn = gcs_cdn.open_cdn(config, root, app, bucket)
    client = clients.project_gcs(
        config, state_dir, root, sandbox=sandbox, start=False, role="deployer"
    )  # a deploy starts the emulators first
    if client is None:
        from pilot_tui.cloud.sandbox import STOPPED

        raise SiteConfigError(f"{STOPPED}; a deploy or `pilot-tui server up` starts them")
    return GcsSite(client, bucket, config.gcp.region.upper(), cdn)


def cdn_requests(
    project_id: str, name: str, bucket: str, domain: str | None
) -> list[dict[str, Any]]:
    """gcs_cdn.insert_requests as {"method": "backendBuckets.insert", "body": ...}: an
    older summary of the same calls, kept for its callers."""
    renamed = {"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules"}
    out = []
    for request in gcs_cdn.insert_requests(project_id, name, bucket, domain):
        collection = request.url.rsplit("/", 1)[-1]
        out.append(
            {"method": f"{renamed.get(collection, collection)}.insert", "body": request.body}
        )
    return out
