"""How to find and remove cloud resources that Terraform created but never recorded.

When Terraform is killed mid-apply, a resource whose creation call had already reached the
cloud exists there but not in Terraform's state; the next `server up` would create a second
one. Pilot's templates tag (AWS) or name (GCP) everything they make, so each one can be
found. Pure functions: the commands are data for the CLI and the app to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# resource type -> the `aws ec2` listing that shows it (filtered by Pilot's project tag).
AWS_LISTINGS = {
    "aws_instance": "describe-instances",
    "aws_vpc": "describe-vpcs",
    "aws_subnet": "describe-subnets",
    "aws_internet_gateway": "describe-internet-gateways",
    "aws_route_table": "describe-route-tables",
    "aws_route": "describe-route-tables",
    "aws_route_table_association": "describe-route-tables",
    "aws_security_group": "describe-security-groups",
}
# resource type -> the `gcloud` listing that shows it (filtered by Pilot's name prefix).
GCP_LISTINGS = {
    "google_compute_instance": "compute instances list",
    "google_compute_network": "compute networks list",
    "google_compute_subnetwork": "compute networks subnets list",
    "google_compute_firewall": "compute firewall-rules list",
    "google_compute_address": "compute addresses list",
    "google_service_account": "iam service-accounts list",
}


@dataclass(frozen=True)
class Where:
    """Where the project's server lives, as the cloud CLIs need it."""

    home: str  # aws | sandbox | gcp
    project: str  # pilot.toml's project.name
    region: str
    workdir: Path  # the Terraform working directory
    aws_profile: str | None = None
    gcp_project: str | None = None
    endpoint: str | None = None  # the sandbox's local AWS API


def find_commands(where: Where, resource_types: list[str]) -> list[str]:
    """One listing command per kind of resource, each showing only this project's."""
    commands: list[str] = []
    for rtype in resource_types:
        if where.home == "gcp":
            listing = GCP_LISTINGS.get(rtype)
            command = (
                f"gcloud {listing} --filter='name~^pilot-{where.project}'"
                + (f" --project {where.gcp_project}" if where.gcp_project else "")
                if listing
                else None
            )
        elif rtype == "aws_key_pair":
            command = (
                f"aws ec2 describe-key-pairs --key-names pilot-{where.project}-server"
                + _aws_flags(where)
            )
        else:
            listing = AWS_LISTINGS.get(rtype)
            command = (
                f"aws ec2 {listing} --filters Name=tag:pilot:project,"
                f"Values={where.project}" + _aws_flags(where)
                if listing
                else None
            )
        if command is None:
            command = _anything(where)
        if command not in commands:
            commands.append(command)
    return commands


def _aws_flags(where: Where) -> str:
    flags = f" --region {where.region}"
    if where.endpoint:
        flags += f" --endpoint-url {where.endpoint}"
    elif where.aws_profile:
        flags += f" --profile {where.aws_profile}"
    return flags


def _anything(where: Where) -> str:
    if where.home == "gcp":
        return f"gcloud asset search-all-resources --query='name:pilot-{where.project}'" + (
            f" --scope=projects/{where.gcp_project}" if where.gcp_project else ""
        )
    return (
        "aws resourcegroupstaggingapi get-resources --tag-filters "
        f"Key=pilot:project,Values={where.project}" + _aws_flags(where)
    )


def advice(where: Where, untracked: list[tuple[str, str]]) -> list[str]:
    """Lines telling the user what may be left outside Terraform's state and what to do."""
    if not untracked:
        return [
            "Terraform's state holds every resource it started to create: nothing is "
            "left outside it."
        ]
    lines = ["These may exist outside Terraform's state:"]
    lines += [
        f"  {address} ({'creating' if action == 'create' else 'replacing'})"
        for address, action in untracked
    ]
    lines.append("Find them (each is tagged or named for this project):")
    types = [address.split("[")[0].split(".")[-2] for address, _ in untracked]
    lines += [f"  {command}" for command in find_commands(where, types)]
    lines += [
        "Then either delete each one, or adopt it so the next run does not make a second one:",
        f"  terraform -chdir={where.workdir} import ADDRESS ID",
        "and run `pilot-tui server up` again.",
    ]
    return lines
