"""`pilot-tui deployer create|rotate|remove`: the least-privilege AWS identity deploys use.
Only the user's ARN and the key's id are ever printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Protocol

from pilot_tui.cli.common import error, load_valid
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project


class Deployer(Protocol):
    """What these commands ask of either cloud's deployer (identity_aws, identity_gcp)."""

    def ensure(self) -> str: ...

    def rotate(self, keys_dir: Path) -> str: ...

    def remove(self, keys_dir: Path) -> None: ...


def _deployer(ns: argparse.Namespace) -> tuple[Deployer, PilotConfig, Project] | None:
    """(the cloud's deployer, the config, the project), or None after saying why."""
    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded
    project = Project(pf.path)
    if getattr(ns, "cloud", "aws") == "gcp":
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.cloud.identity_gcp import GcpDeployer, resources_for

        if config.server.home == "sandbox" or not config.gcp.project:
            error(
                "the GCP deployer needs gcp.project and a real Google Cloud project (the "
                "sandbox has no IAM emulator)"
            )
            return None
        transport = google_transport(config, project.root, role="admin")
        return (
            GcpDeployer(
                transport, config.project.name, config.gcp.project, resources=resources_for(config)
            ),
            config,
            project,
        )
    from pilot_tui.cloud.identity_aws import aws_deployer

    sandbox = config.server.home == "sandbox"  # load_valid applied --sandbox
    # Only `create` starts stopped emulators (it makes what they hold), and says so.
    start = getattr(ns, "deployer_action", "") == "create"
    if sandbox and start:
        from pilot_tui.cloud.sandbox import Sandbox

        if len(Sandbox(project.state_dir).running()) < 2:
            sys.stderr.write("starting the sandbox's local AWS API and GCS emulator\n")
    return aws_deployer(config, project.state_dir, sandbox=sandbox, start=start), config, project


def _run(ns: argparse.Namespace, action: str) -> int:
    from pilot_tui.cloud.clients import AWS_KEY_FILE, GCP_KEY_FILE
    from pilot_tui.cloud.identity_aws import IdentityError

    ns.deployer_action = action
    found = _deployer(ns)  # an IdentityError (the sandbox's emulators are stopped) goes to main
    if found is None:
        return EXIT_INVALID
    deployer, _, project = found
    keys = project.state_dir / "keys"
    key_file = GCP_KEY_FILE if getattr(ns, "cloud", "aws") == "gcp" else AWS_KEY_FILE
    try:
        if action == "create":
            who = deployer.ensure()
            key_id = deployer.rotate(keys)
            print(who)
            sys.stderr.write(
                f"key {key_id} stored in {keys / key_file} (0600); the secret is never shown\n"
            )
        elif action == "rotate":
            key_id = deployer.rotate(keys)
            sys.stderr.write(f"new key {key_id} stored; the previous one is deleted\n")
        else:
            deployer.remove(keys)
            sys.stderr.write("removed the deployer, its keys and the local key file\n")
    except Exception as exc:  # botocore / Google API errors: the account said no
        from pilot_tui import redact

        raise IdentityError(f"{action} failed: {redact.clip(str(exc), 300)}") from exc
    return EXIT_OK


def create(ns: argparse.Namespace) -> int:
    return _run(ns, "create")


def rotate(ns: argparse.Namespace) -> int:
    return _run(ns, "rotate")


def remove(ns: argparse.Namespace) -> int:
    return _run(ns, "remove")
