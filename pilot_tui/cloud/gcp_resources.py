"""The project-wide Google resources setup makes for deploys, as requests: the project's
Artifact Registry repository (one docker-format repository, pilot-PROJECT, per region) and
the Cloud Run apps' Secret Manager secrets (made empty: their values are the deploys').

Setup (identity_gcp) makes them with the admin's credentials and grants the deployer on
each; the Cloud Run target (deploy/artifact_registry.py, deploy/cloudrun_secrets.py) uses
them. No emulator exists for either, so every call is built as data and sent by a
gcp_api.Transport."""

from __future__ import annotations

import os
import re

from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import ApiRequest, Transport, exists_ok, gone_ok, wait_operation
from pilot_tui.naming import labels, project_resource
from pilot_tui.netinfo import LOOPBACK_HOST_PORT

REGISTRY_API = "https://artifactregistry.googleapis.com/v1/"
SECRETS_API = "https://secretmanager.googleapis.com/v1/"
# A stand-in of Artifact Registry's API on this machine (none of Google's runs offline):
# http://127.0.0.1:PORT/v1/. Loopback only: the deployer's token goes with each request.
REGISTRY_API_OVERRIDE = "PILOT_ARTIFACT_REGISTRY_API"
LOOPBACK_API = re.compile(rf"http://{LOOPBACK_HOST_PORT}/[A-Za-z0-9/._-]*")


# -- Artifact Registry -----------------------------------------------------------------
def registry_api() -> str:
    """The base of Artifact Registry's API: Google's, or the local stand-in
    REGISTRY_API_OVERRIDE names (CloudError for one not on this machine)."""
    override = os.environ.get(REGISTRY_API_OVERRIDE)
    if not override:
        return REGISTRY_API
    if not LOOPBACK_API.fullmatch(override):
        raise CloudError(
            f"{REGISTRY_API_OVERRIDE} is {override!r}: it may name a stand-in on this machine "
            "only (http://127.0.0.1:PORT/v1/), since the deployer's token goes with each "
            "request",
            hint=f"unset {REGISTRY_API_OVERRIDE} to use Google's",
        )
    return override.rstrip("/") + "/"


def repositories_url(gcp_project: str, region: str) -> str:
    return f"{registry_api()}projects/{gcp_project}/locations/{region}/repositories"


def repository_url(gcp_project: str, region: str, project: str) -> str:
    return f"{repositories_url(gcp_project, region)}/{project_resource(project)}"


def get_repository_request(gcp_project: str, region: str, project: str) -> ApiRequest:
    return ApiRequest("GET", repository_url(gcp_project, region, project))


def create_repository_request(gcp_project: str, region: str, project: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        repositories_url(gcp_project, region),
        body={
            "format": "DOCKER",
            "description": f"Pilot images of {project}",
            "labels": labels(project),
        },
        params={"repositoryId": project_resource(project)},
    )


def ensure_repository(transport: Transport, gcp_project: str, region: str, project: str) -> bool:
    """Create the repository when missing; True when it was created. Read first: pushing
    needs only artifactregistry.writer, creating needs more, so later deploys never ask
    for the create permission. A concurrent create (409) is fine."""
    if gone_ok(transport, get_repository_request(gcp_project, region, project)) is not None:
        return False
    operation = exists_ok(transport, create_repository_request(gcp_project, region, project))
    if operation is None:
        return False
    wait_operation(transport, operation, api=registry_api(), timeout=300)
    return True


# -- Secret Manager --------------------------------------------------------------------
def secrets_url(gcp_project: str) -> str:
    return f"{SECRETS_API}projects/{gcp_project}/secrets"


def secret_url(gcp_project: str, secret: str) -> str:
    return f"{secrets_url(gcp_project)}/{secret}"


def create_secret_request(gcp_project: str, secret: str, labels: dict[str, str]) -> ApiRequest:
    """An empty secret (no version yet); Google picks where its copies live."""
    return ApiRequest(
        "POST",
        secrets_url(gcp_project),
        params={"secretId": secret},
        body={"replication": {"automatic": {}}, "labels": labels},
    )
