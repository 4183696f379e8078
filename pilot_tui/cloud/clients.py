"""Every AWS and Google client Pilot makes, in one place: who they act as is decided here.

- the sandbox's emulators (a local AWS API and GCS emulator, with placeholder credentials),
- the deployer (the least-privilege key `pilot-tui deployer create` stored in .pilot/keys/,
  or in a GitHub Actions run set up by `pilot-tui ci github`, its short-lived credentials),
- or the admin: the profile / key file pilot.toml names (never keys themselves);
- on the Pilot Server itself (the CI worker's container, ``ON_SERVER_ENV``), the server's
  instance role, whatever profile pilot.toml names (a person's machine's).

Setup, credentials checks, the state bucket and `destroy` act as the admin; deploys act as
the deployer when one was made. The libraries are imported only when a client is made."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pilot_tui import redact
from pilot_tui.cloud.gcp_api import Transport, authorized_transport, key_path
from pilot_tui.cloud.sandbox import ACCESS_KEY, SECRET_KEY, Sandbox
from pilot_tui.config.schema import PilotConfig

if TYPE_CHECKING:
    import boto3
    from google.auth.credentials import Credentials
    from google.cloud import storage

Role = Literal["admin", "deployer"]
# The deployers' keys in .pilot/keys/ (0600), written by identity_aws / identity_gcp.
AWS_KEY_FILE = "aws-deployer.json"
GCP_KEY_FILE = "gcp-deployer.json"


# Set in the CI worker's process on the Pilot Server (`server worker --on-server`): its AWS
# credentials are the server's instance role, from the default chain.
ON_SERVER_ENV = "PILOT_ON_SERVER"


def on_pilot_server() -> bool:
    import os

    return os.environ.get(ON_SERVER_ENV) == "1"


@dataclass(frozen=True)
class Aws:
    """A boto3 session and where its clients go: the sandbox's local AWS API, or AWS (None)."""

    session: boto3.Session
    endpoint: str | None = None

    def client(self, service: str, **options: object) -> Any:
        # Any service by name: the stubs type only a literal one, so the caller names its type.
        make: Callable[..., Any] = self.session.client
        return make(service, endpoint_url=self.endpoint, **options)


# -- AWS ---------------------------------------------------------------------------------
def emulator_aws(region: str, endpoint: str | None = None) -> Aws:
    """The sandbox's local AWS API, with its placeholder credentials (moto accepts any)."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=region
    )
    return Aws(session, endpoint)


def profile_aws(profile: str | None, region: str, endpoint: str | None = None) -> Aws:
    """An AWS profile (None: the default chain): the admin's credentials. On the Pilot
    Server the default chain always (its instance role): the profile is a laptop's."""
    import boto3

    if on_pilot_server():
        profile = None
    return Aws(boto3.Session(profile_name=profile, region_name=region), endpoint)


def deployer_aws(config: PilotConfig, state_dir: Path) -> Aws:
    """What deploys use: in a GitHub Actions run set up by `pilot-tui ci github`, the
    role's short-lived credentials; else the deployer's key when `pilot-tui deployer
    create` made one; else the profile in pilot.toml (your own credentials)."""
    from pilot_tui.cloud import oidc_exchange

    if oidc_exchange.in_github_actions():  # acting on Google Cloud only: said so
        return Aws(oidc_exchange.assumed_session(config.aws.region))
    key_file = state_dir / "keys" / AWS_KEY_FILE
    if not key_file.is_file():
        return profile_aws(config.aws.profile, config.aws.region)
    import boto3

    stored = json.loads(key_file.read_text(encoding="utf-8"))
    redact.register([stored["secret_access_key"]])
    return Aws(
        boto3.Session(
            aws_access_key_id=stored["access_key_id"],
            aws_secret_access_key=stored["secret_access_key"],
            region_name=config.aws.region,
        )
    )


def project_aws(
    config: PilotConfig, state_dir: Path, *, sandbox: bool, start: bool = True, role: Role = "admin"
) -> Aws | None:
    """The project's AWS: in the sandbox its emulator, started when ``start`` (else None
    when it is not running: nothing to talk to); elsewhere the admin's profile or, for
    ``role="deployer"``, the deployer's key."""
    if sandbox:
        box = Sandbox(state_dir)
        emulators = box.ensure()[0] if start else box.running()
        if "aws" not in emulators:
            return None
        return emulator_aws(config.aws.region, emulators["aws"].url)
    if role == "deployer":
        return deployer_aws(config, state_dir)
    return profile_aws(config.aws.profile, config.aws.region)


# -- Google Cloud Storage ----------------------------------------------------------------
def emulator_gcs(url: str, project: str = "sandbox") -> storage.Client:
    """A google-cloud-storage client for the GCS emulator (it takes no credentials)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )


def key_gcs(project: str | None, key_file: str | Path | None) -> storage.Client:
    """A google-cloud-storage client with a service-account key file, else the default
    credentials (Application Default Credentials)."""
    from google.cloud import storage

    if key_file:
        return storage.Client.from_service_account_json(str(key_file), project=project)
    return storage.Client(project=project)


def project_gcs(
    config: PilotConfig,
    state_dir: Path,
    root: Path,
    *,
    sandbox: bool,
    start: bool = True,
    role: Role = "admin",
) -> storage.Client | None:
    """The project's google-cloud-storage client: the emulator in the sandbox (None when it
    is not running and not ``start``), else the deployer's key for ``role="deployer"``
    when setup made one, else gcp.credentials' key file, else the default ones."""
    if sandbox:
        box = Sandbox(state_dir)
        emulators = box.ensure()[0] if start else box.running()
        return emulator_gcs(emulators["gcs"].url) if "gcs" in emulators else None
    if role == "deployer" and google_in_ci():
        from google.cloud import storage

        return storage.Client(project=config.gcp.project, credentials=google_ci_credentials())
    key = (
        gcp_deploy_key(config, root, state_dir)
        if role == "deployer"
        else key_path(config.gcp.credentials, root)
    )
    return key_gcs(config.gcp.project, key)


# -- Google APIs -------------------------------------------------------------------------
def gcp_deploy_key(config: PilotConfig, root: Path, state_dir: Path | None = None) -> str | None:
    """The key file GCP deploys use: the deployer's when setup made one, else
    gcp.credentials (None: Application Default Credentials). The deployer's private key is
    registered with redact so it is masked should anything echo it."""
    from pilot_tui.project import STATE_DIR

    key = (state_dir or root / STATE_DIR) / "keys" / GCP_KEY_FILE
    if not key.is_file():
        return key_path(config.gcp.credentials, root)
    try:
        private_key = str(json.loads(key.read_text(encoding="utf-8"))["private_key"])
        redact.register([private_key, json.dumps(private_key)[1:-1]])
    except (OSError, KeyError, TypeError, ValueError):
        pass  # google-auth reports an unreadable key file when it loads it
    return str(key)


def google_transport(config: PilotConfig, root: Path, *, role: Role = "deployer") -> Transport:
    """A gcp_api.Transport on gcp.project: as the deployer (in a GitHub Actions run set up
    by `ci github`, through the workload identity pool; else its key when setup made one)
    or the admin (gcp.credentials; unset: Application Default Credentials)."""
    if role == "deployer" and google_in_ci():
        from google.auth.transport.requests import AuthorizedSession

        from pilot_tui.cloud.gcp_api import session_transport

        return session_transport(AuthorizedSession(google_ci_credentials()), config.gcp.project)
    key = (
        gcp_deploy_key(config, root)
        if role == "deployer"
        else key_path(config.gcp.credentials, root)
    )
    return authorized_transport(key, config.gcp.project)


def google_in_ci() -> bool:
    from pilot_tui.cloud import oidc_exchange

    return oidc_exchange.google_in_github_actions()


def google_ci_credentials() -> Credentials:
    """This run's credentials as the GCP deployer, their first token fetched (a refusal
    said as Pilot's)."""
    from pilot_tui.cloud import oidc_exchange

    credentials = oidc_exchange.google_credentials()
    if not credentials.valid:
        oidc_exchange.google_refresh(credentials)
    return credentials
