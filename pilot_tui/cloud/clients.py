"""AWS and Google clients for a project, in one place: the sandbox's emulators, or the
profile / key file that pilot.toml names (never keys themselves).

Used by the state bucket, the shared release history, static sites and the deployer
identity. The libraries are imported only when a client is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def aws_session(
    config: Any, state_dir: Path, *, sandbox: bool, start: bool = True
) -> tuple[Any, str | None] | None:
    """(boto3 session, endpoint URL or None). In the sandbox the emulators are started when
    ``start``, else None is returned when they are not running (nothing to talk to)."""
    if sandbox:
        from pilot_tui.cloud.sandbox import Sandbox
        from pilot_tui.cloud.sandbox import aws_session as emulator_session

        box = Sandbox(state_dir)
        emulators = box.ensure()[0] if start else box.running()
        if "aws" not in emulators:
            return None
        return emulator_session(config.aws.region), emulators["aws"].url
    import boto3

    return boto3.Session(profile_name=config.aws.profile, region_name=config.aws.region), None


def gcs_client(
    config: Any,
    state_dir: Path,
    root: Path,
    *,
    sandbox: bool,
    start: bool = True,
    key_file: str | None = None,
) -> Any | None:
    """A google-cloud-storage client: the emulator in the sandbox (None when it is not
    running and not ``start``), else ``key_file`` (the deployer's, for deploys), else
    gcp.credentials' key file, else the default ones."""
    if sandbox:
        from pilot_tui.cloud.sandbox import Sandbox
        from pilot_tui.cloud.sandbox import gcs_client as emulator_client

        box = Sandbox(state_dir)
        emulators = box.ensure()[0] if start else box.running()
        return emulator_client(emulators["gcs"].url) if "gcs" in emulators else None
    from google.cloud import storage

    if key_file or config.gcp.credentials:
        key = (root / Path(key_file or config.gcp.credentials).expanduser()).resolve()
        return storage.Client.from_service_account_json(str(key), project=config.gcp.project)
    return storage.Client(project=config.gcp.project)
