"""Databases with ``on = "rds"``: Amazon RDS PostgreSQL beside the Pilot Server.

Terraform makes them with the server (terraform/aws/databases.tf); this module is what Pilot
adds around that, as data where it can be: the Terraform inputs from pilot.toml, the master
passwords (generated once, 0600 under .pilot/databases/, handed to Terraform in a 0600 file
of their own, never in pilot.toml or the inputs file), the URL the linked apps get, and the
two steps `server destroy --drop-database NAME` takes before Terraform deletes one: a final
snapshot named with the time, then deletion protection lifted.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.config.schema import PilotConfig, PostgresDatabase
from pilot_tui.data import passwords
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

USER = "pilot"
DATABASE = "postgres"  # the one RDS always makes (`db_name` differs across provider versions)
NOT_HERE = "not-on-this-machine"  # a stand-in for a password another machine holds
SNAPSHOT_WAIT_SECONDS = 3600.0  # a large database's snapshot can take most of an hour


class RdsError(PilotError):
    """An RDS database cannot be reached, snapshotted or released for deletion."""

    title = "RDS problem"


def on_rds(config: PilotConfig) -> list[PostgresDatabase]:
    """The databases pilot.toml puts on RDS."""
    return [db for db in config.databases_on("rds") if isinstance(db, PostgresDatabase)]


def identifier(project: str, name: str) -> str:
    """The instance's name in RDS (the template's ``${local.name}-${each.key}``)."""
    return f"pilot-{project}-{name}"


def terraform_inputs(config: PilotConfig) -> dict[str, dict[str, str | int]]:
    """The ``databases`` variable of terraform/aws/."""
    return {
        db.name: {
            "engine_version": str(db.version),
            "instance_class": db.managed.instance,
            "storage_gb": db.managed.storage_gb,
            "max_storage_gb": db.managed.max_storage_gb,
            "backup_days": db.backup.keep,
        }
        for db in on_rds(config)
    }


def terraform_passwords(
    config: PilotConfig, state_dir: Path, made: Callable[[str], bool]
) -> dict[str, str]:
    """The ``database_passwords`` variable: each one kept in .pilot/databases/, made for a
    database RDS does not have yet (``made``: whether it has it). One RDS has whose
    password is not on this machine gets a stand-in Terraform never sends (the template
    ignores changes to it), and nothing is written: a deploy here then says to copy the
    file, rather than hand the apps a password RDS does not know."""
    found = {}
    for db in on_rds(config):
        value = passwords.stored(state_dir, db.name)
        if value is None and made(db.name):
            value = NOT_HERE
        elif value is None:
            value = passwords.new()
            passwords.keep(state_dir, db.name, value)
        found[db.name] = value
    return found


@dataclass(frozen=True)
class Address:
    host: str
    port: int


def address(outputs: dict[str, object], name: str) -> Address | None:
    """Where database ``name`` answers, from the server's saved Terraform outputs."""
    made = outputs.get("databases")
    entry = made.get(name) if isinstance(made, dict) else None
    if not isinstance(entry, dict) or not entry.get("address"):
        return None
    return Address(str(entry["address"]), int(entry.get("port") or 5432))


def url(where: Address, password: str) -> str:
    """The URL the linked apps get: TLS required (RDS serves it; nothing else is sent)."""
    secret = urllib.parse.quote(password, safe="")
    return f"postgres://{USER}:{secret}@{where.host}:{where.port}/{DATABASE}?sslmode=require"


def linked_url(outputs: dict[str, object], state_dir: Path, db: PostgresDatabase) -> str:
    """The URL of ``db`` for its apps (``outputs``: the server's last apply's), or why
    there is none yet."""
    where = address(outputs, db.name)
    if where is None:
        raise RdsError(
            f'database "{db.name}" is on RDS, and the Pilot Server\'s last apply did not make '
            "it: run `pilot-tui server up` first"
        )
    password = passwords.stored(state_dir, db.name)
    if password is None:
        raise RdsError(
            f'the password of RDS database "{db.name}" is not on this machine '
            f"({passwords.password_file(state_dir, db.name)}): copy that file from the "
            "teammate who first ran `pilot-tui server up` with it"
        )
    return url(where, password)


def final_snapshot_name(project: str, name: str, now: float | None = None) -> str:
    """A name no earlier server of the project used: the database's, then the UTC time."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{identifier(project, name)}-final-{stamp}"


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
