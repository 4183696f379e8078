"""Static sites on S3 + CloudFront: a private bucket that only the site's CloudFront
distribution may read (Origin Access Control), uploads in parallel with the right content
types, unchanged files skipped, and a cache invalidation of what changed.

The bucket keeps a manifest (`.pilot/manifest.json`: key -> md5, content type, cache control,
version id) so a redeploy compares the whole site with one listing and one small download.
The bucket is versioned and keeps replaced files KEEP_DAYS days; each release's manifest is
kept too (`.pilot/releases/v3.json`), so a rollback is server-side copies (rollback.py).
Manifests stay in the bucket (teammates deploy and roll back from any checkout, whatever the
state backend), but under a prefix the bucket policy denies to CloudFront: the distribution
serves the site's files only, never the list of them with their versions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pilot_tui.cloud.aws_errors import code
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.build.site_files import Changes, Remote, SiteFile
from pilot_tui.deploy.targets.s3_site.distribution import PRIVATE, Distribution
from pilot_tui.deploy.targets.sites import Manifest, SiteError
from pilot_tui.naming import project_tags, site_bucket

MANIFEST = f"{PRIVATE}manifest.json"
RELEASES = f"{PRIVATE}releases/"  # one manifest per release, what a rollback restores
KEEP_DAYS = 30  # replaced files (noncurrent versions) are restorable this long
LIFECYCLE_RULE = "pilot-keep-replaced-files"
WORKERS = 16
Item = TypeVar("Item")  # what _parallel hands to each call of its work


class VersionGone(SiteError):
    """A file's recorded version no longer exists (expired after KEEP_DAYS, or deleted)."""

    def __init__(self, key: str, version: str) -> None:
        super().__init__(f"{key}: version {version or '(none recorded)'} no longer exists")
        self.key, self.version = key, version


def release_key(release_id: str) -> str:
    return f"{RELEASES}{release_id}.json"


@dataclass
class S3Site(Distribution):
    """The site's bucket (its fields and CloudFront half: distribution.Distribution)."""

    emulator: ClassVar[str] = "aws"  # the sandbox emulator that holds it (moto)

    # -- the bucket ----------------------------------------------------------------------
    def address(self) -> str:
        return f"s3://{self.bucket}"

    def ensure_bucket(self) -> bool:
        """Create the private bucket if missing (idempotent); True when it was created."""
        from botocore.exceptions import ClientError

        try:
            self.s3.head_bucket(Bucket=self.bucket)
            created = False
        except ClientError:
            args: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.s3.create_bucket(**args)
            self.s3.put_bucket_tagging(
                Bucket=self.bucket, Tagging={"TagSet": project_tags(self.project)}
            )
            created = True
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        self._ensure_lifecycle()
        return created

    def _ensure_lifecycle(self) -> None:
        """Replaced files expire after KEEP_DAYS (so do delete markers left with nothing
        behind them); other rules on the bucket are kept."""
        from pilot_tui.cloud.s3_lifecycle import ensure_rule

        rule = {
            "ID": LIFECYCLE_RULE,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": KEEP_DAYS},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        }
        ensure_rule(self.s3, self.bucket, rule)

    def manifest(self, key: str = MANIFEST) -> Manifest | None:
        """The manifest at ``key``; None when there is none (or it is not one)."""
        from botocore.exceptions import ClientError

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save_manifest(self, manifest: Manifest, key: str = MANIFEST) -> str:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(manifest).encode(),
            ContentType="application/json",
            CacheControl="no-store",
        )
        return key

    def keep_release(self, release_id: str, manifest: Manifest) -> str:
        """Keep the release's manifest for a later rollback; its key (the revision)."""
        return self.save_manifest(manifest, release_key(release_id))

    def remote(self) -> dict[str, Remote]:
        listed: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                if not item["Key"].startswith(PRIVATE):  # manifests: never site files
                    listed[item["Key"]] = str(item["ETag"]).strip('"')
        try:
            manifest = self.manifest() or {}
        except Exception:  # unreadable: compare by ETag (everything is uploaded again)
            manifest = {}
        out = {}
        for key, etag in listed.items():
            md5, ctype, cache = (manifest.get(key) or ["", "", ""])[:3]
            out[key] = Remote(etag, ctype, cache) if md5 == etag else Remote(etag, "", "")
        return out

    def apply(
        self,
        changes: Changes,
        local: list[SiteFile],
        progress: Callable[[int, int], None] = lambda done, total: None,
        workers: int = WORKERS,
    ) -> Manifest:
        """Upload and delete in parallel, then write the manifest (last: a crash in between
        only makes the next deploy upload a little more); the manifest written."""
        try:
            previous = self.manifest() or {}
        except Exception:  # as remote(): an unreadable manifest only costs version look-ups
            previous = {}

        def put(item: SiteFile) -> tuple[str, str]:
            made = self.s3.put_object(
                Bucket=self.bucket,
                Key=item.key,
                Body=item.local.read_bytes(),
                ContentType=item.content_type,
                CacheControl=item.cache_control,
                ContentMD5=item.md5_base64,
            )
            return item.key, str(made.get("VersionId") or "null")

        versions = dict(self._parallel(put, changes.upload, progress, workers))
        self.delete(changes.delete)
        versions.update(
            self.current_versions([f.key for f in local if f.key not in versions], previous)
        )
        manifest = {f.key: [f.md5, f.content_type, f.cache_control, versions[f.key]] for f in local}
        self.save_manifest(manifest)
        return manifest

    def publish(
        self, changes: Changes, files: list[SiteFile], progress: Callable[[int, int], None]
    ) -> Manifest:
        """apply: each release's manifest is kept, for a rollback."""
        return self.apply(changes, files, progress)

    @staticmethod
    def _parallel(
        work: Callable[[Item], tuple[str, str]],
        items: Sequence[Item],
        progress: Callable[[int, int], None],
        workers: int,
    ) -> list[tuple[str, str]]:
        out = []
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for result in pool.map(work, items):
                out.append(result)
                progress(len(out), len(items))
        return out

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )

    def current_versions(self, keys: list[str], manifest: Manifest) -> dict[str, str]:
        """The version ids of files not written now: from the manifest, else (one written
        before the bucket was versioned) from one listing of the bucket's versions."""
        out = {k: manifest[k][3] for k in keys if len(manifest.get(k) or ()) > 3}
        missing = [k for k in keys if not out.get(k)]
        if missing:
            latest: dict[str, str] = {}
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
                latest.update(
                    {
                        v["Key"]: str(v["VersionId"])
                        for v in page.get("Versions", [])
                        if v.get("IsLatest")
                    }
                )
            out.update({k: latest.get(k, "null") for k in missing})
        return out

    def restore(
        self,
        entries: Manifest,
        progress: Callable[[int, int], None] = lambda done, total: None,
        workers: int = WORKERS,
    ) -> dict[str, str]:
        """Make each key's content its recorded version again by server-side copies, in
        parallel (nothing is uploaded); the new version ids. Every version is checked first,
        so a VersionGone leaves the bucket as it was."""
        from botocore.exceptions import ClientError

        def version(key: str) -> str:
            entry = entries[key]
            return entry[3] if len(entry) > 3 else ""

        def check(key: str) -> tuple[str, str]:
            if not version(key):
                raise VersionGone(key, "")
            try:
                self.s3.head_object(Bucket=self.bucket, Key=key, VersionId=version(key))
            except ClientError as exc:
                if code(exc) in ("NoSuchVersion", "NoSuchKey", "404"):
                    raise VersionGone(key, version(key)) from exc
                raise
            return key, version(key)

        def copy(key: str) -> tuple[str, str]:
            _, ctype, cache = entries[key][:3]
            try:
                made = self.s3.copy_object(
                    Bucket=self.bucket,
                    Key=key,
                    ContentType=ctype,
                    CacheControl=cache,
                    CopySource={"Bucket": self.bucket, "Key": key, "VersionId": version(key)},
                    MetadataDirective="REPLACE",
                )
            except ClientError as exc:  # expired between the check and the copy
                if code(exc) in ("NoSuchVersion", "NoSuchKey"):
                    raise VersionGone(key, version(key)) from exc
                raise
            return key, str(made.get("VersionId") or "null")

        keys = sorted(entries)
        self._parallel(check, keys, lambda done, total: None, workers)
        return dict(self._parallel(copy, keys, progress, workers))

    # -- removal -------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Empty and delete the bucket; disable, then delete, the distribution. What was
        done, for the log (CloudFront needs minutes between the two on AWS)."""
        done: list[str] = []
        self.destroy_distribution(done)
        self._destroy_bucket(done)
        return done

    def _destroy_bucket(self, done: list[str]) -> None:
        from botocore.exceptions import ClientError

        try:
            # A versioned bucket is empty only without every version and delete marker.
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
                gone = [
                    {"Key": o["Key"], "VersionId": o["VersionId"]}
                    for o in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                for start in range(0, len(gone), 1000):
                    self.s3.delete_objects(
                        Bucket=self.bucket,
                        Delete={"Objects": gone[start : start + 1000], "Quiet": True},
                    )
            self.s3.delete_bucket(Bucket=self.bucket)
            done.append(f"deleted bucket {self.bucket}")
        except ClientError as exc:
            if code(exc) not in ("NoSuchBucket", "404"):
                raise SiteError(f"cannot delete bucket {self.bucket}: {exc}") from exc


def open_s3_site(config: PilotConfig, state_dir: Path, app: AppSettings) -> S3Site:
    """The S3 site of ``app`` with clients from aws_clients (the emulator, the deployer, or
    the profile)."""
    from botocore.config import Config

    from pilot_tui.deploy.targets.managed import aws_clients

    make = aws_clients(config, state_dir)
    pool = Config(max_pool_connections=WORKERS + 4)  # one connection per upload worker
    return S3Site(
        make("s3", config=pool),
        make("cloudfront"),
        site_bucket(config.project.name, app.name),
        config.aws.region,
        config.project.name,
    )
