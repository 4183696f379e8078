"""A site's CloudFront half: the distribution in front of its bucket, reading it through an
Origin Access Control; a bucket policy lets only that distribution read, and never Pilot's
own keys; invalidations of what a deploy or rollback changed; disabling, then deleting it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy.context import Context, RunLog
from pilot_tui.deploy.targets.sites import Served, site_settings
from pilot_tui.naming import project_tags

PRIVATE = ".pilot/"  # Pilot's own keys in the bucket: never served (see _policy)
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy


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


def distribution_config(
    bucket: str, region: str, oac: str, comment: str, index: str, aliases: tuple[str, ...]
) -> dict[str, Any]:
    """A new distribution serving ``bucket`` (read through the access control ``oac``)."""
    origin = f"{bucket}.s3.{region}.amazonaws.com"
    return {
        "CallerReference": f"{bucket}-{time.time_ns()}",
        "Comment": comment,
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


@dataclass
class Distribution:
    """An S3 site's clients and names, and its CloudFront methods (S3Site adds the
    bucket's)."""

    s3: Any
    cloudfront: Any
    bucket: str
    region: str
    project: str  # the distribution's project tag: the deployer may change only those

    def serving(self) -> bool:
        return self.find_distribution() is not None

    def serve(self, ctx: Context, app: AppSettings, log: RunLog) -> Served:
        """The distribution (made once) in front of the bucket, on the app's domain if any."""
        settings = site_settings(app)
        aliases = (settings.domain,) if settings.domain else ()
        distribution, domain = self.ensure_distribution(settings.index, aliases)
        simulated = "simulated: " if ctx.config.server.home == "sandbox" else ""
        if settings.domain:
            say = log.line("push", app.name)  # (as it always was: the upload's line)
            say(f"point {settings.domain} at {domain} (a CNAME at your DNS provider)")
        return Served(
            distribution,
            f"https://{settings.domain or domain}/",
            f"CloudFront {distribution} ({simulated}{domain})",
        )

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
        found = self.find_distribution() or self._create_distribution(index, aliases)
        self._policy(str(found["ARN"]))
        return str(found["Id"]), str(found["DomainName"])

    def _create_distribution(self, index: str, aliases: tuple[str, ...]) -> dict[str, Any]:
        oac = self.cloudfront.create_origin_access_control(
            OriginAccessControlConfig={
                "Name": f"{self.bucket}-oac"[:64],
                "Description": "Pilot: the site's bucket",
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )["OriginAccessControl"]["Id"]
        config = distribution_config(self.bucket, self.region, oac, self.comment(), index, aliases)
        # Tagged while made: the deployer's policy lets it tag no existing distribution.
        created = self.cloudfront.create_distribution_with_tags(
            DistributionConfigWithTags={
                "DistributionConfig": config,
                "Tags": {"Items": project_tags(self.project)},
            }
        )
        return dict(created["Distribution"])

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

    def destroy_distribution(self, done: list[str]) -> None:
        """Disable the distribution, then delete it once CloudFront has (minutes on AWS)."""
        found = self.find_distribution()
        if found is None:
            return
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
