"""The server templates' input variables, from pilot.toml and where the server lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_tui.cloud.policy_aws import lambda_preview_apps
from pilot_tui.cloud.policy_gcp import resources_for
from pilot_tui.config.schema import PilotConfig, default_size
from pilot_tui.data import cloud_sql, rds
from pilot_tui.provision.backends import bucket_name


def variables(
    config: PilotConfig, home: str, root: Path, public_key: str, allowed_cidrs: list[str]
) -> dict[str, Any]:
    """What terraform/HOME/ is rendered with (``root``: the project's, for relative paths)."""
    cloud = "aws" if home in ("aws", "sandbox") else "gcp"
    values: dict[str, Any] = {
        "project": config.project.name,
        "allowed_cidrs": allowed_cidrs,
        "ssh_public_key": public_key,
        "docker_access": config.server.docker_access,
        "engine": config.server.engine,
        "web_ports": web_ports(config),
        "instance_type" if cloud == "aws" else "machine_type": config.server.size
        or default_size(cloud),
    }
    if cloud == "aws":
        values["region"] = config.aws.region
        values["aws_profile"] = config.aws.profile if home == "aws" else None
        # The backup agent's role writes backups/ there (none with another state backend).
        values["state_bucket"] = bucket_name(config) if config.state.backend == "s3" else None
        # Only when there are some: an ejected template from before databases.tf has no
        # such variable (its passwords go in a file of their own: see Server.prepare).
        values["databases"] = rds.terraform_inputs(config) or None
        # The agent's removal of expired Lambda previews (none: an ejected template from
        # before it has no such variable).
        values["lambda_preview_apps"] = [a.name for a in lambda_preview_apps(config)] or None
        # The CI worker on the server (none: an ejected template from before it has no
        # such variable).
        values["ci_worker_policy"] = ci_worker_policy(config)
        if home == "sandbox":
            values["ubuntu_release"] = "16.04"  # the Canonical image the local API knows
    else:
        creds = config.gcp.credentials
        values.update(
            region=config.gcp.region,
            gcp_project=config.gcp.project,
            # The backup agent's grant on backups/ (none with another state backend).
            state_bucket=bucket_name(config) if config.state.backend == "gcs" else None,
            # The agent's listing of Cloud Run services, to remove expired previews.
            cloud_run_previews=resources_for(config).previews,
            # Only when there are some, as on AWS.
            databases=cloud_sql.terraform_inputs(config) or None,
            credentials_file=str((root / Path(creds).expanduser()).resolve()) if creds else None,
        )
    return values


def web_ports(config: PilotConfig) -> list[int]:
    """The ports open to everyone: the apps' HTTP port, and HTTPS's beside it when the edge
    serves HTTPS (public by design, like 80)."""
    server = config.server
    return [server.http_port, *([server.https_port] if server.tls_on else [])]


def ci_worker_policy(config: PilotConfig) -> str | None:
    """The server role's grants for the CI worker on it (server.ci_worker), as JSON with
    ACCOUNT_ID where the template puts the account; None when there is none."""
    import json

    from pilot_tui.deploy.worker_container import ACCOUNT_PLACEHOLDER, refusal, role_policy

    if not config.server.ci_worker or refusal(config) is not None:
        return None
    bucket = bucket_name(config)
    return json.dumps(
        role_policy(config.project.name, bucket, config.aws.region, ACCOUNT_PLACEHOLDER)
    )
