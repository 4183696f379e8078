"""Artifact Registry for Cloud Run images: one docker-format repository per Pilot project
(pilot-PROJECT) in the region, one package per app. Requests as data (no emulator here);
the engine pushes with a short-lived OAuth access token (docker_login)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.cloud.gcp_api import (
    ApiError,
    ApiRequest,
    Transport,
    every_page,
    gone_ok,
    wait_operation,
)
from pilot_tui.cloud.gcp_resources import (
    ensure_repository,
    registry_api,
    repositories_url,
)
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.naming import project_resource

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    from pilot_tui.deploy.registry import Registry

USERNAME = "oauth2accesstoken"  # what Artifact Registry expects with an access token


def registry_host(region: str) -> str:
    return f"{region}-docker.pkg.dev"


def image_path(region: str, gcp_project: str, project: str, app: str) -> str:
    return f"{registry_host(region)}/{gcp_project}/{project_resource(project)}/{app}"


def delete_package_request(gcp_project: str, region: str, project: str, app: str) -> ApiRequest:
    """The app's images (one package per app in the project's repository)."""
    return ApiRequest("DELETE", package_url(gcp_project, region, project, app))


def delete_images(
    transport: Transport, gcp_project: str, region: str, project: str, app: str
) -> bool:
    """Delete the app's images; False when there were none."""
    operation = gone_ok(transport, delete_package_request(gcp_project, region, project, app))
    if operation is None:
        return False
    wait_operation(transport, operation, api=registry_api(), timeout=300)
    return True


def package_url(gcp_project: str, region: str, project: str, app: str) -> str:
    return f"{repositories_url(gcp_project, region)}/{project_resource(project)}/packages/{app}"


def _tags(transport: Transport, package: str, version: str | None = None) -> list[dict[str, Any]]:
    """The package's tags (of ``version`` only, when given), every page."""
    params: dict[str, str] = {"pageSize": "1000"}
    if version is not None:
        params["filter"] = f'version="{version}"'
    try:
        return every_page(transport, f"{package}/tags", params, "tags")
    except ApiError as exc:
        if exc.status == 404:
            return []  # no such package: nothing was pushed for the app
        raise


def delete_tagged(
    transport: Transport,
    gcp_project: str,
    region: str,
    project: str,
    app: str,
    prefix: str,
    keep: frozenset[str] = frozenset(),
) -> list[str]:
    """Delete the tags of the app's package that start with ``prefix``, never one of an
    image whose digest is in ``keep`` (a release of the app names it); the tags deleted.
    An image (version) only such tags name goes with them, in one delete (so a failure
    leaves the tags, found again by the next try); one another tag names (the app's own
    release of the same source) is kept, and only the preview's tags go."""
    package = package_url(gcp_project, region, project, app)
    ours: dict[str, list[str]] = {}  # version -> the preview's tags (full names) on it
    for tag in _tags(transport, package):
        name, version = str(tag.get("name", "")), str(tag.get("version", ""))
        digest = version.rpartition("/versions/")[2]
        if name.rpartition("/tags/")[2].startswith(prefix) and digest and digest not in keep:
            ours.setdefault(version, []).append(name)
    deleted: list[str] = []
    for version, names in sorted(ours.items()):
        others = [
            t for t in _tags(transport, package, version) if str(t.get("name", "")) not in names
        ]
        if others:  # named by another tag too: the preview's tags alone go
            for name in names:
                gone_ok(transport, ApiRequest("DELETE", f"{registry_api()}{name}"))
        else:
            request = _delete_version(version)
            operation = gone_ok(transport, request)
            if operation is not None:  # (a running one's answer has no "done" yet)
                wait_operation(transport, operation, api=registry_api(), timeout=300)
        deleted += [name.rpartition("/tags/")[2] for name in names]
    return sorted(deleted)


DELETED_AT_ONCE = 10  # older versions deleted per release: each delete waits on Google


def _delete_version(version: str) -> ApiRequest:
    """The request deleting ``version`` (its relative name) with every tag on it."""
    return ApiRequest("DELETE", f"{registry_api()}{version}", params={"force": "true"})


def _created(version: dict[str, Any]) -> tuple[str, str]:
    """A version's createTime as a sortable key (RFC 3339 with 0 to 9 fraction digits)."""
    stamp = str(version.get("createTime", "")).removesuffix("Z")
    whole, _, fraction = stamp.partition(".")
    return whole, fraction.ljust(9, "0")


def delete_older_versions(
    transport: Transport,
    gcp_project: str,
    region: str,
    project: str,
    app: str,
    kept: int,
    keep: frozenset[str] = frozenset(),
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Delete the versions (images) of the app's package but its newest ``kept`` and
    those whose digest is in ``keep`` (a release names it: its rollback needs it), with
    their tags; the digests deleted. Artifact Registry's cleanup policies act on a whole
    repository, which Cloud Run's images share, so the app's older images are deleted here."""
    package = package_url(gcp_project, region, project, app)
    try:
        versions = every_page(transport, f"{package}/versions", {"pageSize": "1000"}, "versions")
    except ApiError as exc:
        if exc.status == 404:
            return []  # nothing pushed for the app yet
        raise
    newest_first = sorted(versions, key=_created, reverse=True)
    deleted: list[str] = []
    for version in reversed(newest_first[kept:]):  # the oldest first
        if len(deleted) >= DELETED_AT_ONCE:  # the rest at the next release (never a long wait)
            break
        name = str(version.get("name", ""))
        digest = name.rpartition("/versions/")[2]
        if not digest or digest in keep:
            continue
        operation = gone_ok(transport, _delete_version(name))
        if operation is not None:
            wait_operation(transport, operation, api=registry_api(), timeout=300, sleep=sleep)
        deleted.append(digest)
    return deleted


def access_token(credentials: Credentials) -> str:
    """A fresh OAuth access token from google-auth ``credentials`` (about an hour), masked
    in every log from now on."""
    from google.auth.transport.requests import Request

    credentials.refresh(Request())
    token = str(credentials.token)
    redact.register([token])
    return token


def docker_login(credentials_path: str | None, root: Path, region: str) -> tuple[str, str, str]:
    """(registry host, username, password) for a push to the region's Artifact Registry.
    ``credentials_path`` is gcp.credentials as written in pilot.toml (relative to
    ``root``); unset means Application Default Credentials. In a GitHub Actions run set up
    by `ci github`: the run's own (the CI account's, through the workload identity pool)."""
    from pilot_tui.cloud import clients
    from pilot_tui.cloud.gcp_api import google_credentials, key_path

    if clients.google_in_ci():
        credentials = clients.google_ci_credentials()
    else:
        credentials = google_credentials(key_path(credentials_path, root))
    return registry_host(region), USERNAME, access_token(credentials)


def ensure_registry(
    transport: Transport,
    credentials_path: str | None,
    root: Path,
    gcp_project: str,
    region: str,
    project: str,
    app: str,
) -> Registry:
    """The ready-to-push registry.Registry for ``app``: the repository ensured, a token
    fetched."""
    from pilot_tui.deploy.registry import Registry

    ensure_repository(transport, gcp_project, region, project)
    host, user, token = docker_login(credentials_path, root, region)
    return Registry(host, f"{gcp_project}/{project_resource(project)}/{app}", user, token)


def registry_for(config: PilotConfig, root: Path, app: AppSettings) -> Registry:
    """ensure_registry with pilot.toml's gcp settings (what managed_deploy calls)."""
    from pilot_tui.cloud.clients import gcp_deploy_key, google_transport
    from pilot_tui.deploy.targets.managed import TargetError

    if not config.gcp.project:
        raise TargetError(f"app {app.name!r}: Artifact Registry needs gcp.project in pilot.toml")
    key, transport = gcp_deploy_key(config, root), google_transport(config, root)
    return ensure_registry(
        transport, key, root, config.gcp.project, config.gcp.region, config.project.name, app.name
    )
