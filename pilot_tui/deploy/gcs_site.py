"""Static sites on Google Cloud Storage (served through Cloud CDN): a bucket with uniform
access, uploads in parallel with the right content types and cache headers, unchanged files
(same MD5, type and cache header, all in the listing) skipped, removed files deleted.

Cloud CDN itself (backend bucket, URL map, proxy, managed certificate) has no emulator here;
its requests are built as data in cdn_requests()."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pilot_tui.deploy.site_files import Changes, Remote, SiteFile

WORKERS = 16


@dataclass
class GcsSite:
    client: Any  # google.cloud.storage.Client
    bucket: str
    location: str

    def ensure_bucket(self, index: str = "index.html") -> bool:
        from google.api_core.exceptions import NotFound

        try:
            bucket = self.client.get_bucket(self.bucket)
            created = False
        except NotFound:
            bucket = self.client.bucket(self.bucket)
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            bucket.configure_website(main_page_suffix=index, not_found_page="404.html")
            self.client.create_bucket(bucket, location=self.location)
            created = True
        return created

    def remote(self) -> dict[str, Remote]:
        out = {}
        for blob in self.client.list_blobs(self.bucket):
            md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else ""
            out[blob.name] = Remote(md5, blob.content_type or "", blob.cache_control or "")
        return out

    def apply(self, changes: Changes,
              progress: Callable[[int, int], None] = lambda done, total: None,
              workers: int = WORKERS) -> None:
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
        from google.api_core.exceptions import NotFound

        try:
            bucket = self.client.get_bucket(self.bucket)
        except NotFound:
            return []
        for blob in self.client.list_blobs(self.bucket):
            blob.delete()
        bucket.delete()
        return [f"deleted gs://{self.bucket}"]


def cdn_requests(project_id: str, name: str, bucket: str,
                 domain: str | None) -> list[dict[str, Any]]:
    """The Compute Engine API calls that put Cloud CDN in front of ``bucket``, as data:
    a backend bucket with CDN on, a URL map, an HTTP(S) proxy, a global address and a
    forwarding rule; with a domain, a Google-managed certificate and the HTTPS proxy."""
    base = f"projects/{project_id}/global"
    calls: list[dict[str, Any]] = [
        {"method": "backendBuckets.insert", "body": {
            "name": f"{name}-backend", "bucketName": bucket, "enableCdn": True,
            "cdnPolicy": {"cacheMode": "CACHE_ALL_STATIC", "defaultTtl": 3600}}},
        {"method": "urlMaps.insert", "body": {
            "name": f"{name}-urlmap",
            "defaultService": f"{base}/backendBuckets/{name}-backend"}},
        {"method": "globalAddresses.insert", "body": {"name": f"{name}-ip"}},
    ]
    if domain:
        calls += [
            {"method": "sslCertificates.insert", "body": {
                "name": f"{name}-cert", "type": "MANAGED", "managed": {"domains": [domain]}}},
            {"method": "targetHttpsProxies.insert", "body": {
                "name": f"{name}-https", "urlMap": f"{base}/urlMaps/{name}-urlmap",
                "sslCertificates": [f"{base}/sslCertificates/{name}-cert"]}},
            {"method": "globalForwardingRules.insert", "body": {
                "name": f"{name}-https-rule", "IPAddress": f"{base}/addresses/{name}-ip",
                "portRange": "443", "target": f"{base}/targetHttpsProxies/{name}-https",
                "loadBalancingScheme": "EXTERNAL_MANAGED"}},
        ]
    else:
        calls += [
            {"method": "targetHttpProxies.insert", "body": {
                "name": f"{name}-http", "urlMap": f"{base}/urlMaps/{name}-urlmap"}},
            {"method": "globalForwardingRules.insert", "body": {
                "name": f"{name}-http-rule", "IPAddress": f"{base}/addresses/{name}-ip",
                "portRange": "80", "target": f"{base}/targetHttpProxies/{name}-http",
                "loadBalancingScheme": "EXTERNAL_MANAGED"}},
        ]
    return calls


def dns_records(domain: str, address: str) -> list[str]:
    """What the person must create at their DNS provider for ``domain``."""
    return [f"{domain}. 300 IN A {address}"]
