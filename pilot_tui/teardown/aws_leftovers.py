"""Removing from AWS what no target's destroy owns, by kind: an app's leftovers (a cluster
with no service, a repository or a log group of an app that is gone, a tagged bucket) and
the server's machine and network found by tag but not in Terraform's state. Each removal
is idempotent: gone already is done."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from pilot_tui.cloud import aws_errors
from pilot_tui.teardown.scan_aws import AwsClients
from pilot_tui.teardown.things import Say, Thing

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_rds import RDSClient


def _remove_bucket(aws: AwsClients, name: str) -> None:
    """A tagged bucket no target owns: every version, then it."""
    from pilot_tui.provision.backends import remove_s3_bucket

    remove_s3_bucket(aws("s3"), name)


# kind -> how one of them goes (aws, its name).
SWEEPERS: dict[str, Callable[[AwsClients, str], object]] = {
    "ECS cluster": lambda aws, name: aws("ecs").delete_cluster(cluster=name),
    "ECR repository": lambda aws, name: aws("ecr").delete_repository(
        repositoryName=name, force=True
    ),
    "log group": lambda aws, name: aws("logs").delete_log_group(logGroupName=name),
    "SSM parameter": lambda aws, name: aws("ssm").delete_parameter(Name=name),
    "S3 bucket": _remove_bucket,
}
GONE_CODES = ("ParameterNotFound", "ClusterNotFoundException", "NoSuchBucket")


def swept(thing: Thing) -> bool:
    """Removed by a sweep rather than a target's destroy (a site's bucket is its target's)."""
    return thing.kind in SWEEPERS and not (thing.kind == "S3 bucket" and thing.target)


def sweep_one(aws: AwsClients, thing: Thing, say: Say) -> None:
    from botocore.exceptions import ClientError

    try:
        SWEEPERS[thing.kind](aws, thing.name)
    except ClientError as exc:
        code = aws_errors.code(exc)
        if "NotFound" in code or code in GONE_CODES:
            return  # its target's destroy removed it already
        raise
    say(f"deleted {thing.kind} {thing.name}")


# -- the server's untracked machine and network --------------------------------------------
def terminate_instances(ec2: EC2Client, ids: list[str], say: Say) -> None:
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(
        InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
    )
    say(f"terminated {', '.join(ids)}")


def _delete_route_table(ec2: EC2Client, table: str, _name: str) -> None:
    found = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
    for association in found[0].get("Associations", []) if found else []:
        if not association.get("Main"):
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    ec2.delete_route_table(RouteTableId=table)


def _delete_gateway(ec2: EC2Client, gateway: str, _name: str) -> None:
    found = ec2.describe_internet_gateways(InternetGatewayIds=[gateway])["InternetGateways"]
    for attachment in found[0].get("Attachments", []) if found else []:
        ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=attachment["VpcId"])
    ec2.delete_internet_gateway(InternetGatewayId=gateway)


# After the instances, in dependency order as Terraform would: kind -> remove(ec2, id, name)
# (a thing's name is "ID NAME", or the id alone).
NETWORK_REMOVERS: tuple[tuple[str, Callable[[EC2Client, str, str], object]], ...] = (
    ("internet gateway", _delete_gateway),
    ("route table", _delete_route_table),
    ("subnet", lambda ec2, id_, _name: ec2.delete_subnet(SubnetId=id_)),
    ("security group", lambda ec2, id_, _name: ec2.delete_security_group(GroupId=id_)),
    ("VPC", lambda ec2, id_, _name: ec2.delete_vpc(VpcId=id_)),
    ("key pair", lambda ec2, _id, name: ec2.delete_key_pair(KeyName=name)),
)


def network_removals(ec2: EC2Client, things: list[Thing]) -> list[tuple[str, Callable[[], object]]]:
    """(the id, the call removing it) for each untracked network thing, in order."""
    return [
        (words[0], partial(remove, ec2, words[0], words[-1]))
        for kind, remove in NETWORK_REMOVERS
        for thing in things
        if thing.kind == kind
        for words in [thing.name.split(" ")]
    ]


def delete_databases(rds: RDSClient, identifiers: list[str], say: Say) -> None:
    """RDS instances Terraform lost track of (their final snapshot taken and protection
    lifted by the caller), each waited for until gone: their subnet group is next."""
    for identifier in identifiers:
        rds.delete_db_instance(
            DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )
        say(f"deleting RDS database {identifier}")
    for identifier in identifiers:
        rds.get_waiter("db_instance_deleted").wait(
            DBInstanceIdentifier=identifier, WaiterConfig={"Delay": 5, "MaxAttempts": 360}
        )
        say(f"deleted RDS database {identifier}")
