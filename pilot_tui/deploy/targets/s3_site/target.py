"""Target kind "s3-cloudfront": a static site in a private, versioned S3 bucket served by
CloudFront; a rollback restores an earlier release's files inside the bucket."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.deploy.targets.site_flow import StaticSite


class S3CloudFront(StaticSite):
    kind: ClassVar[str] = "s3-cloudfront"
