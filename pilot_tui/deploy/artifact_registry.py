"""Artifact Registry for Cloud Run images: one docker-format repository per Pilot project
(pilot-PROJECT) in the region, one package per app. Requests as data (no emulator here);
the engine pushes with a short-lived OAuth access token (docker_login)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.cloud.gcp_api import ApiRequest, Transport, gone_ok, wait_operation
from pilot_tui.cloud.gcp_resources import REGISTRY_API, ensure_repository, repositories_url
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
    wait_operation(transport, operation, api=REGISTRY_API, timeout=300)
    return True


def package_url(gcp_project: str, region: str, project: str, app: str) -> str:
    return f"{repositories_url(gcp_project, region)}/{project_resource(project)}/packages/{app}"


def _tags(transport: Transport, package: str, version: str | None = None) -> list[dict[str, Any]]:
    """The package's tags (of ``version`` only, when given), every page."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"pageSize": "1000"}
    if version is not None:
        params["filter"] = f'version="{version}"'
    while True:
        page = gone_ok(transport, ApiRequest("GET", f"{package}/tags", params=dict(params)))
        if page is None:
            return found  # no such package: nothing was pushed for the app
        found += page.get("tags", [])
        token = page.get("nextPageToken")
        if not token:
            return found
        params["pageToken"] = str(token)


def delete_tagged(
    transport: Transport, gcp_project: str, region: str, project: str, app: str, prefix: str
) -> list[str]:
    """Delete the tags of the app's package that start with ``prefix``, and each image
    (version) left with no tag by that; the tags deleted. An image another tag still
    names (the app's own release of the same source) is kept."""
    package = package_url(gcp_project, region, project, app)
    deleted, versions = [], set()
    for tag in _tags(transport, package):
        name = str(tag.get("name", ""))
        short = name.rpartition("/tags/")[2]
        if not short.startswith(prefix):
            continue
        gone_ok(transport, ApiRequest("DELETE", f"{REGISTRY_API}{name}"))
        deleted.append(short)
        if tag.get("version"):
            versions.add(str(tag["version"]))
    for version in sorted(versions):
        if _tags(transport, package, version):
            continue  # still named by another tag
        operation = gone_ok(transport, ApiRequest("DELETE", f"{REGISTRY_API}{version}"))
        if operation is not None and not operation.get("done", True):
            wait_operation(transport, operation, api=REGISTRY_API, timeout=300)
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
