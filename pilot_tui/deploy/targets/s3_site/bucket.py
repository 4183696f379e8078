"""Static sites on S3 + CloudFront: a private bucket that only the site's CloudFront
distribution may read (Origin Access Control), uploads in parallel with the right content
types, unchanged files skipped, and a cache invalidation of what changed.

The bucket keeps a manifest (`.pilot/manifest.json`: key -> md5, content type, cache control,
version id) so a redeploy compares the whole site with one listing and one small download.
The bucket is versioned and keeps replaced files KEEP_DAYS days; each release's manifest is
kept too (`.pilot/releases/v3.json`), so a rollback is server-side copies (site_rollback.py).
Manifests stay in the bucket (teammates deploy and roll back from any checkout, whatever the
state backend), but under a prefix the bucket policy denies to CloudFront: the distribution
serves the site's files only, never the list of them with their versions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pilot_tui.cloud.aws_errors import code
from pilot_tui.deploy.build.site_files import Changes, Remote, SiteFile
from pilot_tui.errors import PilotError
from pilot_tui.naming import project_tags

PRIVATE = ".pilot/"  # Pilot's own keys in the bucket: never served (see _policy)
MANIFEST = f"{PRIVATE}manifest.json"
RELEASES = f"{PRIVATE}releases/"  # one manifest per release, what a rollback restores
KEEP_DAYS = 30  # replaced files (noncurrent versions) are restorable this long
LIFECYCLE_RULE = "pilot-keep-replaced-files"
WORKERS = 16
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy


class SiteError(PilotError):
    """The bucket or distribution could not be made or changed; the message says why."""

    title = "Site not changed"


class VersionGone(SiteError):
    """A file's recorded version no longer exists (expired after KEEP_DAYS, or deleted)."""

    def __init__(self, key: str, version: str) -> None:
        super().__init__(f"{key}: version {version or '(none recorded)'} no longer exists")
        self.key, self.version = key, version


class Keyed(Protocol):
    @property
    def key(self) -> str: ...


class Changed(Protocol):
    """What invalidate needs: the keys written and the keys deleted (a Changes, or a
    rollback's restore)."""

    @property
    def upload(self) -> Sequence[Keyed]: ...

    @property
    def delete(self) -> list[str]: ...


Manifest = dict[str, list[str]]  # key -> [md5, content type, cache control, version id]


def release_key(release_id: str) -> str:
    return f"{RELEASES}{release_id}.json"


@dataclass
class S3Site:
    emulator: ClassVar[str] = "aws"  # the sandbox emulator that holds it (moto)
    s3: Any
    cloudfront: Any
    bucket: str
    region: str
    project: str  # the distribution's project tag: the deployer may change only those

    # -- the bucket ----------------------------------------------------------------------
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
        from botocore.exceptions import ClientError

        rule = {
            "ID": LIFECYCLE_RULE,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": KEEP_DAYS},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        }
        try:
            rules = self.s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as exc:
            if code(exc) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        if rule in rules:
            return
        others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE]
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [*others, rule]}
        )

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

    @staticmethod
    def _parallel(
        work: Callable[[Any], tuple[str, str]],
        items: Sequence[Any],
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

    # -- the distribution ----------------------------------------------------------------
    def comment(self) -> str:
        return f"pilot {self.bucket}"

    def find_distribution(self) -> dict[str, Any] | None:
        for page in self.cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                if item.get("Comment") == self.comment():
                    return dict(item)
        return None

    def ensure_distribution(
        self, index: str = "index.html", aliases: tuple[str, ...] = ()
    ) -> tuple[str, str]:
        """(distribution id, its domain name), created with an Origin Access Control and a
        bucket policy letting only that distribution read."""
        found = self.find_distribution()
        if found is None:
            oac = self.cloudfront.create_origin_access_control(
                OriginAccessControlConfig={
                    "Name": f"{self.bucket}-oac"[:64],
                    "Description": "Pilot: the site's bucket",
                    "SigningProtocol": "sigv4",
                    "SigningBehavior": "always",
                    "OriginAccessControlOriginType": "s3",
                }
            )["OriginAccessControl"]["Id"]
            origin = f"{self.bucket}.s3.{self.region}.amazonaws.com"
            config: dict[str, Any] = {
                "CallerReference": f"{self.bucket}-{time.time_ns()}",
                "Comment": self.comment(),
                "Enabled": True,
                "DefaultRootObject": index,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "site",
                            "DomainName": origin,
                            "OriginAccessControlId": oac,
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "CachePolicyId": CACHING_OPTIMIZED,
                    "Compress": True,
                    "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
                },
                "PriceClass": "PriceClass_100",
                "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
            }
            # Tagged while made: the deployer's policy lets it tag no existing distribution.
            created = self.cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": project_tags(self.project)},
                }
            )
            found = created["Distribution"]
        assert found is not None
        self._policy(str(found["ARN"]))
        return str(found["Id"]), str(found["DomainName"])

    def _policy(self, distribution_arn: str) -> None:
        """Only the distribution reads the bucket, and never Pilot's manifests: the Allow
        names every object but those (NotResource; written on every deploy, so older
        buckets get it too). Not an explicit Deny: moto ignores a Deny's principal and
        would refuse Pilot its own manifests in the sandbox. The Allow stays narrow: one
        action, one service principal, this distribution only."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudFrontReadsTheSiteNotPilotsManifests",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "NotResource": f"arn:aws:s3:::{self.bucket}/{PRIVATE}*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                }
            ],
        }
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))

    def invalidate(self, distribution_id: str, changes: Changed) -> str | None:
        """Ask CloudFront to drop what changed (everything past 15 paths); its id."""
        keys = [f.key for f in changes.upload] + changes.delete
        if not keys:
            return None
        paths = (
            ["/*"]
            if len(keys) > 15
            else sorted({"/" + k for k in keys} | ({"/"} if "index.html" in keys else set()))
        )
        made = self.cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": f"pilot-{time.time_ns()}",
            },
        )
        return str(made["Invalidation"]["Id"])

    # -- removal -------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Empty and delete the bucket; disable, then delete, the distribution. What was
        done, for the log (CloudFront needs minutes between the two on AWS)."""
        from botocore.exceptions import ClientError

        done: list[str] = []
        found = self.find_distribution()
        if found is not None:
            current = self.cloudfront.get_distribution_config(Id=found["Id"])
            config, etag = current["DistributionConfig"], current["ETag"]
            if config.get("Enabled"):
                config["Enabled"] = False
                etag = self.cloudfront.update_distribution(
                    Id=found["Id"], IfMatch=etag, DistributionConfig=config
                )["ETag"]
                done.append(f"disabled distribution {found['Id']}")
            state = self.cloudfront.get_distribution(Id=found["Id"])["Distribution"]["Status"]
            if state == "Deployed":
                self.cloudfront.delete_distribution(Id=found["Id"], IfMatch=etag)
                done.append(f"deleted distribution {found['Id']}")
            else:
                done.append(
                    f"distribution {found['Id']} is still being disabled by "
                    "CloudFront (minutes); run the destroy again to delete it"
                )
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
        return done
