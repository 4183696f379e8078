"""The project-wide Google resources setup makes for deploys, as requests: the project's
Artifact Registry repository (one docker-format repository, pilot-PROJECT, per region) and
the Cloud Run apps' Secret Manager secrets (made empty: their values are the deploys').

Setup (identity_gcp) makes them with the admin's credentials and grants the deployer on
each; the Cloud Run target (deploy/artifact_registry.py, deploy/cloudrun_secrets.py) uses
them. No emulator exists for either, so every call is built as data and sent by a
gcp_api.Transport."""

from __future__ import annotations

from pilot_tui.cloud.gcp_api import ApiRequest, Transport, exists_ok, gone_ok, wait_operation
from pilot_tui.naming import labels, project_resource

REGISTRY_API = "https://artifactregistry.googleapis.com/v1/"
SECRETS_API = "https://secretmanager.googleapis.com/v1/"


# -- Artifact Registry -----------------------------------------------------------------
def repositories_url(gcp_project: str, region: str) -> str:
    return f"{REGISTRY_API}projects/{gcp_project}/locations/{region}/repositories"


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
    wait_operation(transport, operation, api=REGISTRY_API, timeout=300)
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
