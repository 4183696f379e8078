"""Deploying a static site to a managed target (S3 + CloudFront, GCS): which files, which
bucket, and the four stages as for a container: build (collect the files), push (upload
what changed, in parallel), deploy (the distribution), release (invalidate, record).

The clients follow the project: the sandbox's emulators, or the profile / key file in
pilot.toml, whatever cloud the Pilot Server itself is on (a GCP server can deploy to S3)."""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilot_tui.cloud import clients
from pilot_tui.deploy.context import Context
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.s3_site.bucket import WORKERS, S3Site
from pilot_tui.errors import PilotError
from pilot_tui.naming import site_bucket


class SiteConfigError(PilotError):
    """The site cannot be deployed as configured; the message names the key."""

    title = "Site misconfigured"


def site_folder(app: Any, root: Path) -> Path:
    """The folder whose files are published (a static build without a command)."""
    folder = (root / app.path).resolve()
    if app.build.kind == "static":  # (with a command: site_build runs it first)
        folder = (folder / app.build.output).resolve()
    if not folder.is_dir():
        raise SiteConfigError(
            f"app {app.name!r}: {folder} does not exist (apps.{app.name}.path / build.output)"
        )
    return folder


def open_site(config: Any, state_dir: Path, root: Path, app: Any) -> S3Site | GcsSite:
    bucket = site_bucket(config.project.name, app.name)
    sandbox = config.server.home == "sandbox"
    if app.target.kind == "s3-cloudfront":
        from botocore.config import Config

        from pilot_tui.deploy.targets.managed import aws_clients

        make = aws_clients(config, state_dir)  # the emulator, the deployer, or the profile
        pool = Config(max_pool_connections=WORKERS + 4)  # one connection per upload worker
        return S3Site(
            make("s3", config=pool),
            make("cloudfront"),
            bucket,
            config.aws.region,
            config.project.name,
        )
    cdn = None
    if not sandbox:  # the sandbox has no Compute emulator: no CDN
        from pilot_tui.deploy.targets.gcs_site.cdn import open_cdn

        cdn = open_cdn(config, root, app, bucket)
    client = clients.project_gcs(
        config, state_dir, root, sandbox=sandbox, start=False, role="deployer"
    )  # a deploy starts the emulators first
    if client is None:
        from pilot_tui.cloud.sandbox import STOPPED

        raise SiteConfigError(f"{STOPPED}; a deploy or `pilot-tui server up` starts them")
    return GcsSite(client, bucket, config.gcp.region.upper(), cdn)


def site_digest(files: list[Any], target: Any) -> str:
    """What the release published and how it is served: one hash over every key, MD5 and
    type, and the target's settings (a redeploy with an equal one changes nothing)."""
    digest = hashlib.sha256()
    for item in files:
        digest.update(f"{item.key}\0{item.md5}\0{item.content_type}\n".encode())
    digest.update(repr(target).encode())
    return "sha256:" + digest.hexdigest()


def local_url(ctx: Context, app: Any, emulator: str, bucket: str) -> Callable[[], str]:
    """Finds the site's index on the sandbox's ``emulator``, path-style ("" with none)."""

    def find() -> str:
        from pilot_tui.cloud.sandbox import Sandbox

        found = Sandbox(ctx.state_dir).load().get(emulator)
        if found is None:
            return ""
        return f"{found.url}/{bucket}/{urllib.parse.quote(app.target.index)}"

    return find
