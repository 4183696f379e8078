"""Databases with ``on = "rds"``: Amazon RDS PostgreSQL beside the Pilot Server.

What every managed service shares (passwords, URLs, the destroy's three steps) is in
managed.py; this module is RDS's side of it: the Terraform inputs of
terraform/aws/databases.tf, and ``RdsDatabases``, whose final backup is an RDS snapshot
named with the time, kept after the destroy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pilot_tui.config.schema import MANAGED_SERVICES, PilotConfig, PostgresDatabase
from pilot_tui.data.managed import ManagedDatabases, ManagedError, Say, identifier, utc_stamp

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

SNAPSHOT_WAIT_SECONDS = 3600.0  # a large database's snapshot can take most of an hour


class RdsError(ManagedError):
    """An RDS database cannot be reached, snapshotted or released for deletion."""

    title = "RDS problem"


def on_rds(config: PilotConfig) -> list[PostgresDatabase]:
    """The databases pilot.toml puts on RDS."""
    return [db for db in config.databases_on("rds") if isinstance(db, PostgresDatabase)]


def terraform_inputs(config: PilotConfig) -> dict[str, dict[str, str | int]]:
    """The ``databases`` variable of terraform/aws/."""
    return {
        db.name: {
            "engine_version": str(db.version),
            "instance_class": db.machine,
            "storage_gb": db.managed.storage_gb,
            "max_storage_gb": db.managed.max_storage_gb,
            "backup_days": db.backup.keep,
        }
        for db in on_rds(config)
    }


class RdsDatabases(ManagedDatabases):
    """The project's RDS databases, through an RDS client."""

    service = MANAGED_SERVICES["rds"]

    def __init__(self, client: RDSClient, project: str) -> None:
        super().__init__(project)
        self.client = client

    def exists(self, name: str) -> bool:
        return exists(self.client, identifier(self.project, name))

    def final_backups(self, names: list[str], say: Say, stopped: Callable[[], bool]) -> list[str]:
        taken = take_final_snapshots(self.client, self.project, names, say, stopped=stopped)
        return [
            f"RDS snapshot {snapshot} (the final backup; restore it with `aws rds "
            f"restore-db-instance-from-db-snapshot`, delete it with `aws rds "
            f"delete-db-snapshot --db-snapshot-identifier {snapshot}`)"
            for snapshot in taken
        ]

    def lift_protection(self, names: list[str], say: Say) -> list[str]:
        return lift_protection(self.client, self.project, names, say)

    def protect_again(self, lifted: list[str], say: Say) -> None:
        protect_again(self.client, lifted, say)


def final_snapshot_name(project: str, name: str, now: float | None = None) -> str:
    """A name no earlier server of the project used: the database's, then the UTC time."""
    return f"{identifier(project, name)}-final-{utc_stamp(now)}"


def take_final_snapshots(
    rds: RDSClient,
    project: str,
    names: list[str],
    say: Callable[[str], None],
    *,
    stopped: Callable[[], bool] = lambda: False,
    wait_seconds: float = SNAPSHOT_WAIT_SECONDS,
) -> list[str]:
    """A final snapshot of each named database RDS has, all started first, then waited
    for (``stopped``: a person asked to stop). Returns their names; RdsError (nothing
    deleted yet, nothing lifted) when one does not become available."""
    taken = []
    for name in names:
        instance_id = identifier(project, name)
        if not exists(rds, instance_id):
            continue
        snapshot = final_snapshot_name(project, name)
        say(f"taking final snapshot {snapshot} of RDS database {name}")
        rds.create_db_snapshot(
            DBSnapshotIdentifier=snapshot,
            DBInstanceIdentifier=instance_id,
            Tags=[
                {"Key": "pilot:project", "Value": project},
                {"Key": "pilot:database", "Value": name},
                {"Key": "pilot:final-snapshot", "Value": "true"},
            ],
        )
        taken.append(snapshot)
    deadline = time.monotonic() + wait_seconds
    for snapshot in taken:
        _wait_available(rds, snapshot, deadline, stopped)
    return taken


def lift_protection(
    rds: RDSClient, project: str, names: list[str], say: Callable[[str], None]
) -> list[str]:
    """Deletion protection off for each named database RDS has (they were named, and their
    final snapshots taken); the identifiers lifted, for ``protect_again`` on a failure."""
    lifted = []
    for name in names:
        instance_id = identifier(project, name)
        if not exists(rds, instance_id):
            continue
        say(f"lifting deletion protection of RDS database {name}")
        rds.modify_db_instance(
            DBInstanceIdentifier=instance_id, DeletionProtection=False, ApplyImmediately=True
        )
        lifted.append(instance_id)
    return lifted


def protect_again(rds: RDSClient, identifiers: list[str], say: Callable[[str], None]) -> None:
    """Deletion protection back on each instance that is still there (a destroy that
    failed or was stopped after it was lifted)."""
    for instance_id in identifiers:
        if exists(rds, instance_id):
            rds.modify_db_instance(
                DBInstanceIdentifier=instance_id, DeletionProtection=True, ApplyImmediately=True
            )
            say(f"deletion protection of {instance_id} is on again")


def exists(rds: RDSClient, instance_id: str) -> bool:
    try:
        rds.describe_db_instances(DBInstanceIdentifier=instance_id)
    except rds.exceptions.DBInstanceNotFoundFault:
        return False
    return True


def _wait_available(
    rds: RDSClient, snapshot: str, deadline: float, stopped: Callable[[], bool]
) -> None:
    status = "?"
    while time.monotonic() < deadline and not stopped():
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
        status = found[0].get("Status", "?") if found else "missing"
        if status == "available":
            return
        if status in ("failed", "missing"):
            break
        time.sleep(2)
    why = "stopped while it was" if stopped() else "is"
    raise RdsError(
        f"the final snapshot {snapshot} {why} {status}, not available: no database was "
        "deleted and their deletion protection is still on"
    )
