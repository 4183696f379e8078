"""Target kind "gcs-cdn": a static site in a GCS bucket behind Cloud CDN (the bucket alone
in the sandbox, whose GCS emulator has no CDN)."""

from __future__ import annotations

from typing import ClassVar

from pilot_tui.deploy.targets.site_flow import StaticSite


class GcsCdn(StaticSite):
    kind: ClassVar[str] = "gcs-cdn"
