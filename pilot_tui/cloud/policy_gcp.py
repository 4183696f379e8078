"""What the GCP deployer is granted, and where: a few project roles for what setup cannot
name, and one role on each resource setup makes from pilot.toml (Resources)."""

from __future__ import annotations

from dataclasses import dataclass

from pilot_tui.config.schema import AppSettings, CloudRunTarget, GcsCdnTarget, PilotConfig
from pilot_tui.naming import (
    CI_STATE_PREFIXES,
    preview_secret_id,
    secret_id,
    site_bucket,
    state_bucket,
)

# Project-level roles, only for what setup cannot name: the rest is granted on each
# resource (RESOURCE_ROLES), which setup makes from pilot.toml with the admin's credentials.
DEPLOYER_ROLES = (
    # Metadata only (no secret value): `app destroy` lists the app's secrets by label.
    "roles/secretmanager.viewer",
    # A Cloud Run service is made by its first deploy, so it cannot be named at setup;
    # run.developer cannot call setIamPolicy on it for the allUsers invoker binding (a
    # project policy refuses allUsers). run.admin adds only that: IAM on Cloud Run resources.
    "roles/run.admin",
    # Backend buckets, URL maps, addresses, certificates, proxies, forwarding rules.
    "roles/compute.loadBalancerAdmin",
    "roles/logging.viewer",  # `pilot-tui logs` for Cloud Run apps
)
# On one resource each: the project's Artifact Registry repository (push, delete images),
# each Cloud Run secret (add versions, let the runtime account read it, delete it), each
# site bucket (upload, make it public through bucket IAM, delete it) and the state bucket
# (release history). An app or secret added later needs setup again (`pilot-tui deployer
# create --cloud gcp`): the deployer can create no bucket or secret of its own.
RESOURCE_ROLES = {
    # (CI's account, pushing the Pilot Server's apps' images alone, holds REPOSITORY_PUSH:
    # the worker deletes their older images, and CI deploys no Cloud Run app's)
    "repository": "roles/artifactregistry.repoAdmin",
    "secret": "roles/secretmanager.admin",
    "bucket": "roles/storage.admin",
    "state": "roles/storage.objectAdmin",
}


REPOSITORY_PUSH = "roles/artifactregistry.writer"


def ci_state_condition(bucket: str) -> dict[str, str]:
    """The condition on CI's grant on the state bucket (IAM Conditions, which Cloud Storage
    evaluates on a bucket with uniform access, as Pilot makes it): objects under
    CI_STATE_PREFIXES, and listings of the bucket under them alone (a listing is asked of
    the bucket, its prefix an attribute: the server's backups grant is written alike)."""
    name = f"projects/_/buckets/{bucket}"
    listed = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
    allowed = [f'resource.name.startsWith("{name}/objects/{p}")' for p in CI_STATE_PREFIXES] + [
        f'(resource.name == "{name}" && {listed}.startsWith("{p}"))' for p in CI_STATE_PREFIXES
    ]
    return {
        "title": "pilot-ci-runs",
        "description": "What CI runs use: history, leases, deploy requests",
        "expression": " || ".join(allowed),
    }


# What a CI run's account may do besides its grants on the site buckets and the state
# bucket: put Cloud CDN in front of a site.
CI_ROLES = ("roles/compute.loadBalancerAdmin",)
# And when CI deploys Cloud Run apps, what the deployer holds for them: run.admin on the
# project (DEPLOYER_ROLES's reason: a service is made by its first deploy, and made public
# by an IAM binding; it also reaches the previews' services, as the deployer's does). Its
# other grants: acting as the apps' runtime account (a binding on that account alone),
# the repository and the apps' secrets (ci_resources).
CI_RUN_ROLES = ("roles/run.admin",)
ACCESSOR = "roles/secretmanager.secretAccessor"
# Granted on the Cloud Run runtime account only, not the project: project-wide it would let
# the deployer act as (deploy code running as) any service account, the admin's included.
ACT_AS = "roles/iam.serviceAccountUser"


@dataclass(frozen=True)
class Resources:
    """What deploys will use that setup can name now, from pilot.toml."""

    region: str
    # A Cloud Run app, or a Pilot Server app CI deploys (its runs push its images there):
    # the project's Artifact Registry repository.
    repository: bool = False
    # A Cloud Run app: CI's account deploys services (CI_RUN_ROLES), acting as their
    # runtime account. (The repository alone, for the server's apps, needs neither.)
    cloud_run: bool = False
    secrets: tuple[tuple[str, str], ...] = ()  # (app, Secret Manager id) of Cloud Run apps
    buckets: tuple[str, ...] = ()  # GCS site buckets
    state_bucket: str | None = None  # state.backend = "gcs": release history lives there
    previews: bool = False  # a Cloud Run app runs previews: their own runtime account
    # (app, Secret Manager id) of the secrets a Cloud Run app's previews share: only the
    # previews' account reads them, never the app's own runtime account.
    preview_secrets: tuple[tuple[str, str], ...] = ()


def cloud_run_preview_apps(config: PilotConfig) -> list[AppSettings]:
    """The Cloud Run apps that run previews (previews.max above 0): their own runtime
    account and secrets (setup), the server's listing of services (`server up`), the
    agent's removal of expired ones (scheduling.cloud_run_previews)."""
    return [a for a in config.apps if a.target.kind == CloudRunTarget.kind and a.previews.max > 0]


def ci_pushed_server_apps(config: PilotConfig) -> list[AppSettings]:
    """The Pilot Server's apps whose CI runs would push images to Artifact Registry: with
    the release history in GCS, a run acts on Google Cloud (deploy/from_ci.py). Whether CI
    runs at all is the workflow's to say (github_oidc.names_gcp_pool)."""
    if config.state.backend != "gcs":
        return []
    return [a for a in config.apps if a.target.cloud is None]


def resources_for(config: PilotConfig) -> Resources:
    project, runs = (
        config.project.name,
        [a for a in config.apps if a.target.kind == CloudRunTarget.kind],
    )
    previewed = cloud_run_preview_apps(config)
    return Resources(
        config.gcp.region,
        # (the server's apps' CI images: `ci github` grants the deployer the repository,
        # where the worker pulls them; a project without CI needs no repository for them)
        repository=bool(runs),
        cloud_run=bool(runs),
        secrets=tuple(
            (a.name, secret_id(project, a.name, n)) for a in runs for n in sorted(set(a.secrets))
        ),
        buckets=tuple(
            site_bucket(project, a.name) for a in config.apps if a.target.kind == GcsCdnTarget.kind
        ),
        state_bucket=state_bucket(project, config.state.bucket)
        if config.state.backend == "gcs"
        else None,
        previews=bool(previewed),
        preview_secrets=tuple(
            (a.name, preview_secret_id(project, a.name, n))
            for a in previewed
            for n in sorted(set(a.secrets))
        ),
    )


def ci_resources(config: PilotConfig, apps: list[str]) -> Resources:
    """What a CI run's account is granted on: the site buckets of ``apps`` (those CI
    deploys), the state bucket, the repository for the Cloud Run apps and the Pilot
    Server's among them, and the Cloud Run apps' secrets (the worker holds the server's);
    nothing of their previews (no pull request's run on Google Cloud)."""
    project = config.project.name
    runs = [a for a in config.apps if a.target.kind == CloudRunTarget.kind and a.name in apps]
    pushed = [a for a in ci_pushed_server_apps(config) if a.name in apps]
    return Resources(
        config.gcp.region,
        repository=bool(runs or pushed),
        cloud_run=bool(runs),
        secrets=tuple(
            (a.name, secret_id(project, a.name, n)) for a in runs for n in sorted(set(a.secrets))
        ),
        buckets=tuple(
            site_bucket(project, a.name)
            for a in config.apps
            if a.target.kind == GcsCdnTarget.kind and a.name in apps
        ),
        state_bucket=state_bucket(project, config.state.bucket)
        if config.state.backend == "gcs"
        else None,
    )
