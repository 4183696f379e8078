"""Static sites on S3 + CloudFront: a private bucket that only the site's CloudFront
distribution may read (Origin Access Control), uploads in parallel with the right content
types, unchanged files skipped, and a cache invalidation of what changed.

The bucket keeps a manifest (`.pilot/manifest.json`: key -> md5, content type, cache control)
so a redeploy compares the whole site with one listing and one small download.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pilot_tui.deploy.site_files import Changes, Remote, SiteFile

MANIFEST = ".pilot/manifest.json"
WORKERS = 16
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy


class SiteError(Exception):
    """The bucket or distribution could not be made or changed; the message says why."""


def bucket_for(project: str, app: str) -> str:
    return f"pilot-{project}-{app}-site"[:63].rstrip("-")


@dataclass
class S3Site:
    s3: Any
    cloudfront: Any
    bucket: str
    region: str

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
            created = True
        self.s3.put_public_access_block(Bucket=self.bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        return created

    def remote(self) -> dict[str, Remote]:
        listed: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                listed[item["Key"]] = str(item["ETag"]).strip('"')
        listed.pop(MANIFEST, None)
        manifest: dict[str, list[str]] = {}
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=MANIFEST)["Body"].read()
            manifest = json.loads(body)
        except Exception:  # no manifest yet (first deploy) or unreadable: compare by ETag
            manifest = {}
        out = {}
        for key, etag in listed.items():
            md5, ctype, cache = (manifest.get(key) or ["", "", ""])[:3]
            out[key] = Remote(etag, ctype, cache) if md5 == etag else Remote(etag, "", "")
        return out

    def apply(self, changes: Changes, local: list[SiteFile],
              progress: Callable[[int, int], None] = lambda done, total: None,
              workers: int = WORKERS) -> None:
        """Upload and delete in parallel, then write the manifest (last: a crash in between
        only makes the next deploy upload a little more)."""
        total = len(changes.upload)
        done = 0

        def put(item: SiteFile) -> None:
            self.s3.put_object(Bucket=self.bucket, Key=item.key, Body=item.local.read_bytes(),
                               ContentType=item.content_type, CacheControl=item.cache_control,
                               ContentMD5=item.md5_base64)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(put, changes.upload):
                done += 1
                progress(done, total)
        for start in range(0, len(changes.delete), 1000):
            batch = changes.delete[start:start + 1000]
            self.s3.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in batch], "Quiet": True})
        manifest = {f.key: [f.md5, f.content_type, f.cache_control] for f in local}
        self.s3.put_object(Bucket=self.bucket, Key=MANIFEST, Body=json.dumps(manifest).encode(),
                           ContentType="application/json", CacheControl="no-store")

    # -- the distribution ----------------------------------------------------------------
    def comment(self) -> str:
        return f"pilot {self.bucket}"

    def find_distribution(self) -> dict[str, Any] | None:
        for page in self.cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                if item.get("Comment") == self.comment():
                    return dict(item)
        return None

    def ensure_distribution(self, index: str = "index.html",
                            aliases: tuple[str, ...] = ()) -> tuple[str, str]:
        """(distribution id, its domain name), created with an Origin Access Control and a
        bucket policy letting only that distribution read."""
        found = self.find_distribution()
        if found is None:
            oac = self.cloudfront.create_origin_access_control(OriginAccessControlConfig={
                "Name": f"{self.bucket}-oac"[:64], "Description": "Pilot: the site's bucket",
                "SigningProtocol": "sigv4", "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
            origin = f"{self.bucket}.s3.{self.region}.amazonaws.com"
            config: dict[str, Any] = {
                "CallerReference": f"{self.bucket}-{time.time_ns()}",
                "Comment": self.comment(), "Enabled": True, "DefaultRootObject": index,
                "Origins": {"Quantity": 1, "Items": [{
                    "Id": "site", "DomainName": origin, "OriginAccessControlId": oac,
                    "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https",
                    "CachePolicyId": CACHING_OPTIMIZED, "Compress": True,
                    "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}},
                "PriceClass": "PriceClass_100",
                "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
            }
            created = self.cloudfront.create_distribution(DistributionConfig=config)
            found = created["Distribution"]
        assert found is not None
        self._policy(str(found["ARN"]))
        return str(found["Id"]), str(found["DomainName"])

    def _policy(self, distribution_arn: str) -> None:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "CloudFrontReadsTheSite", "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{self.bucket}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}]}
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))

    def invalidate(self, distribution_id: str, changes: Changes) -> str | None:
        """Ask CloudFront to drop what changed (everything past 15 paths); its id."""
        keys = [f.key for f in changes.upload] + changes.delete
        if not keys:
            return None
        paths = ["/*"] if len(keys) > 15 else sorted({"/" + k for k in keys} |
                                                     ({"/"} if "index.html" in keys else set()))
        made = self.cloudfront.create_invalidation(DistributionId=distribution_id,
                                                   InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"pilot-{time.time_ns()}"})
        return str(made["Invalidation"]["Id"])

    # -- removal -------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Empty and delete the bucket; disable, then delete, the distribution. What was
        done, for the log (CloudFront needs minutes between the two on AWS)."""
        from botocore.exceptions import ClientError

        done = []
        found = self.find_distribution()
        if found is not None:
            current = self.cloudfront.get_distribution_config(Id=found["Id"])
            config, etag = current["DistributionConfig"], current["ETag"]
            if config.get("Enabled"):
                config["Enabled"] = False
                etag = self.cloudfront.update_distribution(
                    Id=found["Id"], IfMatch=etag, DistributionConfig=config)["ETag"]
                done.append(f"disabled distribution {found['Id']}")
            state = self.cloudfront.get_distribution(Id=found["Id"])["Distribution"]["Status"]
            if state == "Deployed":
                self.cloudfront.delete_distribution(Id=found["Id"], IfMatch=etag)
                done.append(f"deleted distribution {found['Id']}")
            else:
                done.append(f"distribution {found['Id']} is still being disabled by "
                            "CloudFront (minutes); run the destroy again to delete it")
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": keys, "Quiet": True})
            self.s3.delete_bucket(Bucket=self.bucket)
            done.append(f"deleted bucket {self.bucket}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchBucket", "404"):
                raise SiteError(f"cannot delete bucket {self.bucket}: {exc}") from exc
        return done
