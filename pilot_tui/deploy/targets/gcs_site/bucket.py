"""Static sites on Google Cloud Storage (served through Cloud CDN): a bucket with uniform
access, uploads in parallel with the right content types and cache headers, unchanged files
(same MD5, type and cache header, all in the listing) skipped, removed files deleted.

Cloud CDN itself (backend bucket, URL map, proxy, managed certificate) has no emulator here:
gcs_cdn.py builds its requests as data and sends them through a gcp_api.Transport."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from pilot_tui.cloud.identity_gcp import NEEDS_SETUP
from pilot_tui.deploy.build.site_files import Changes, Remote, SiteFile
from pilot_tui.deploy.targets.gcs_site import cdn as gcs_cdn
from pilot_tui.deploy.targets.gcs_site.cdn import dns_records
from pilot_tui.deploy.targets.s3_site.bucket import SiteError

__all__ = ["GcsSite", "cdn_requests", "dns_records"]

WORKERS = 16


@dataclass
class GcsSite:
    emulator: ClassVar[str] = "gcs"  # the sandbox emulator that holds it
    client: Any  # google.cloud.storage.Client
    bucket: str
    location: str
    cdn: gcs_cdn.Cdn | None = None  # outside the sandbox: its CDN goes with it on destroy

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
