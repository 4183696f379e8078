"""`pilot-tui deployer create|rotate|remove`: the least-privilege AWS identity deploys use.
Only the user's ARN and the key's id are ever printed."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pilot_tui import cloud_clients
from pilot_tui.cli.config_cmds import error, load_valid
from pilot_tui.cli.main import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project


def _deployer(ns: argparse.Namespace) -> tuple[Any, Project] | None:
    from pilot_tui.identity import AwsDeployer

    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded
    project = Project(pf.path)
    made = cloud_clients.aws_session(
        config, project.state_dir,
        sandbox=config.server.home == "sandbox" or getattr(ns, "sandbox", False))
    assert made is not None  # the sandbox is started when needed
    session, endpoint = made
    return AwsDeployer(session.client("iam", endpoint_url=endpoint),
                       session.client("sts", endpoint_url=endpoint), config.project.name,
                       config.aws.region), project


def _run(ns: argparse.Namespace, action: str) -> int:
    found = _deployer(ns)
    if found is None:
        return EXIT_INVALID
    deployer, project = found
    keys = project.state_dir / "keys"
    try:
        if action == "create":
            arn = deployer.ensure()
            key_id = deployer.rotate(keys)
            print(arn)
            sys.stderr.write(f"access key {key_id} stored in {keys / 'aws-deployer.json'} "
                             "(0600); the secret is never shown\n")
        elif action == "rotate":
            key_id = deployer.rotate(keys)
            sys.stderr.write(f"new access key {key_id} stored; the previous one is deleted\n")
        else:
            deployer.remove(keys)
            sys.stderr.write("removed the deployer user, its keys and the local key file\n")
    except Exception as exc:  # botocore errors: the account said no
        from pilot_tui import redact

        error(f"{action} failed: {redact.text(str(exc))[:300]}")
        return EXIT_FAILED
    return EXIT_OK


def create(ns: argparse.Namespace) -> int:
    return _run(ns, "create")


def rotate(ns: argparse.Namespace) -> int:
    return _run(ns, "rotate")


def remove(ns: argparse.Namespace) -> int:
    return _run(ns, "remove")
