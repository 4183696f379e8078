"""Whether the sandbox's server is still there. The sandbox's local AWS API holds what an
apply made in its memory: stopped, or started again since, it holds none of it, while
Terraform's local state and .pilot/outputs still record it (found walking: `server status`
said "up", and a destroy waited six minutes on resources that were gone). Told by asking
that API for the VPC the state records, never by comparing clocks (a file's time may come
from another machine's clock: found reviewing)."""

from __future__ import annotations

import json
from pathlib import Path

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.provision.outputs import saved_record


def state_file(state_dir: Path) -> Path:
    """Terraform's local state of the sandbox's server."""
    return state_dir / "terraform" / "sandbox" / "terraform.tfstate"


SANDBOX_KEY = "sandbox_aws"  # in .pilot/outputs/server.json: the local AWS API it was made in


def sandbox_identity(state_dir: Path) -> dict[str, float] | None:
    """The running local AWS API as sandbox.json records it (its pid and start), or None."""
    aws = Sandbox(state_dir).running().get("aws")
    return None if aws is None else {"pid": aws.pid, "started": aws.started}


def forgotten(state_dir: Path) -> bool:
    """Whether the sandbox's local AWS API holds nothing of its last apply: it is not
    running; or the VPC the local state records is not in it; or, with no such state here
    (a state kept in the sandbox's own S3), it is not the one the outputs were saved from.
    False when none of these can tell."""
    aws = Sandbox(state_dir).running().get("aws")
    if aws is None:
        return True
    recorded = _recorded_vpc(state_file(state_dir))
    if recorded is None:
        made_in = saved_record(state_dir).get(SANDBOX_KEY)
        return isinstance(made_in, dict) and made_in != sandbox_identity(state_dir)
    vpc, region = recorded
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from pilot_tui.cloud.clients import emulator_aws

    # Asked from the app's screens too: a local API that hangs must not hold them.
    quick = Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1})
    try:
        emulator_aws(region, aws.url).client("ec2", config=quick).describe_vpcs(VpcIds=[vpc])
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") == "InvalidVpcID.NotFound"
    except BotoCoreError:  # it did not answer as asked: not known to be gone
        return False
    return False


def _recorded_vpc(path: Path) -> tuple[str, str] | None:
    """(VPC id, its region) as the state records the server's VPC, or None."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for resource in state.get("resources", []) if isinstance(state, dict) else []:
        if resource.get("type") != "aws_vpc":
            continue
        for instance in resource.get("instances", []):
            attributes = instance.get("attributes") or {}
            parts = str(attributes.get("arn", "")).split(":")  # arn:aws:ec2:REGION:...
            if attributes.get("id") and len(parts) > 3 and parts[3]:
                return str(attributes["id"]), parts[3]
    return None
