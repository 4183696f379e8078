"""Databases with ``on = "cloud-sql"``: Google Cloud SQL for PostgreSQL beside the Pilot
Server, on a private address in its network (terraform/gcp/databases.tf).

Cloud SQL's side of managed.py: the Terraform inputs, and ``CloudSqlDatabases``, which
reaches the Cloud SQL Admin API (v1) through a gcp_api.Transport, as every Google call here
does: requests are built as data by pure functions, and tests drive them through a
recording transport (no Cloud SQL emulator exists).

Its final backup is an **export to the project's state bucket**
(``gs://BUCKET/backups/NAME/final-UTCTIME.sql.gz``), not an on-demand backup: Cloud SQL
deletes an instance's backups with the instance, and the state bucket is the team's own,
outlives the server, and is where Pilot's other backups are. The template lets the
instance's own service account write there, under ``backups/NAME/`` only.

An instance is found by its labels (``pilot-project``, ``pilot-database``), not by its
name: the template adds a random suffix, since Cloud SQL refuses a name used in the past
week (a server destroyed and made again would fail for a week otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import (
    ApiError,
    ApiRequest,
    Transport,
    every_page,
    gone_ok,
    wait_operation,
)
from pilot_tui.config.schema import MANAGED_SERVICES, PilotConfig, PostgresDatabase
from pilot_tui.data.managed import DATABASE, ManagedDatabases, ManagedError, Say, utc_stamp

API = "https://sqladmin.googleapis.com/v1/"
EXPORT_WAIT_SECONDS = 3600.0  # a large database's export can take most of an hour
CHANGE_WAIT_SECONDS = 600.0  # a settings change (protection on or off), a delete
POLL_SECONDS = 5.0
# Google's words when an API is off in a project ("... has not been used in project P
# before or it is disabled").
NEVER_USED = "has not been used in project"


class CloudSqlError(ManagedError):
    """A Cloud SQL database cannot be reached, exported or released for deletion."""

    title = "Cloud SQL problem"


def on_cloud_sql(config: PilotConfig) -> list[PostgresDatabase]:
    """The databases pilot.toml puts on Cloud SQL."""
    return [db for db in config.databases_on("cloud-sql") if isinstance(db, PostgresDatabase)]


def terraform_inputs(config: PilotConfig) -> dict[str, dict[str, str | int]]:
    """The ``databases`` variable of terraform/gcp/."""
    return {
        db.name: {
            "version": f"POSTGRES_{db.version}",
            "tier": db.machine,
            "disk_gb": db.managed.storage_gb,
            "max_disk_gb": db.managed.max_storage_gb,
            "backups_kept": db.backup.keep,
        }
        for db in on_cloud_sql(config)
    }


# -- requests, as data --------------------------------------------------------------------
def instances_request(gcp_project: str, project: str) -> ApiRequest:
    """The project's instances, by the label every one the template makes carries (the
    first page: gcp_api.every_page asks the rest)."""
    params = {"filter": f"settings.userLabels.pilot-project:{project}"}
    return ApiRequest("GET", f"{API}projects/{gcp_project}/instances", params=params)


def export_request(gcp_project: str, instance: str, uri: str) -> ApiRequest:
    """A plain SQL dump of the ``postgres`` database to ``uri`` (gzip: it ends in .gz)."""
    return ApiRequest(
        "POST",
        f"{API}projects/{gcp_project}/instances/{instance}/export",
        body={
            "exportContext": {
                "kind": "sql#exportContext",
                "fileType": "SQL",
                "uri": uri,
                "databases": [DATABASE],
            }
        },
    )


def protection_request(gcp_project: str, instance: str, *, on: bool) -> ApiRequest:
    """Cloud SQL's own deletion protection on or off (a PATCH changes only what it names)."""
    return ApiRequest(
        "PATCH",
        f"{API}projects/{gcp_project}/instances/{instance}",
        body={"settings": {"deletionProtectionEnabled": on}},
    )


def delete_request(gcp_project: str, instance: str) -> ApiRequest:
    return ApiRequest("DELETE", f"{API}projects/{gcp_project}/instances/{instance}")


def final_export_uri(bucket: str, name: str, instance: str, now: float | None = None) -> str:
    """Under backups/NAME/, where the instance's account may write; named by the time and
    the instance (two may carry one database's name)."""
    return f"gs://{bucket}/backups/{name}/final-{utc_stamp(now)}-{instance}.sql.gz"


# -- the client ---------------------------------------------------------------------------
class CloudSqlDatabases(ManagedDatabases):
    """The project's Cloud SQL instances, through the admin's credentials. ``bucket``: the
    state bucket final exports go to (None: the project keeps no state in GCS, so there is
    nowhere of the team's own to put one)."""

    service = MANAGED_SERVICES["cloud-sql"]

    def __init__(
        self,
        transport: Transport,
        gcp_project: str,
        project: str,
        bucket: str | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wait_seconds: float = EXPORT_WAIT_SECONDS,
    ) -> None:
        super().__init__(project)
        self.transport = transport
        self.gcp_project = gcp_project
        self.bucket = bucket
        self.sleep = sleep
        self.clock = clock
        self.wait_seconds = wait_seconds

    def instances(self) -> list[tuple[str, str]]:
        """(pilot.toml name, instance name) of each instance Cloud SQL has for this project.
        A database may have two: one Terraform lost track of, and the one it made again."""
        listing = instances_request(self.gcp_project, self.project)
        try:
            items = every_page(self.transport, listing.url, listing.params or {}, "items")
        except ApiError as exc:
            if exc.status == 403 and NEVER_USED in exc.api_message:
                return []  # the Cloud SQL Admin API is off: no instance can exist
            raise CloudSqlError(f"Cloud SQL: {exc}") from exc
        except CloudError as exc:
            raise CloudSqlError(f"Cloud SQL: {exc}") from exc
        found = []
        for item in items:
            labels = (item.get("settings") or {}).get("userLabels") or {}
            if labels.get("pilot-project") == self.project and labels.get("pilot-database"):
                found.append((str(labels["pilot-database"]), str(item["name"])))
        return sorted(found)

    def _of(self, names: list[str]) -> list[tuple[str, str]]:
        return [(name, instance) for name, instance in self.instances() if name in names]

    def exists(self, name: str) -> bool:
        return bool(self._of([name]))

    def delete(self, instances: list[str], say: Say) -> None:
        """Delete ``instances`` (their protection lifted) and wait until they are gone: the
        ones Terraform lost track of (a state removed, an `up` stopped hard)."""
        for instance in instances:
            operation = self._send_gone_ok(delete_request(self.gcp_project, instance))
            if operation is None:
                continue  # gone already
            self._wait(operation, CHANGE_WAIT_SECONDS, lambda: False, f"deleting {instance}")
            say(f"deleted Cloud SQL instance {instance}")

    def final_backups(self, names: list[str], say: Say, stopped: Callable[[], bool]) -> list[str]:
        wanted = self._of(names)
        if not wanted:
            return []
        if self.bucket is None:
            listed = ", ".join(sorted({name for name, _ in wanted}))
            raise CloudSqlError(
                f"a final export of {listed} needs the project's state bucket "
                '(state.backend = "gcs"), and this project keeps its state elsewhere: no '
                "database was deleted"
            )
        started = []
        for name, instance in wanted:
            uri = final_export_uri(self.bucket, name, instance)
            say(f"exporting Cloud SQL database {name} ({instance}) to {uri}")
            operation = self._send(export_request(self.gcp_project, instance, uri))
            started.append((name, uri, operation))
        deadline = self.clock() + self.wait_seconds
        kept = []
        for name, uri, operation in started:
            try:
                left = max(deadline - self.clock(), 0.0)
                self._wait(operation, left, stopped, f"the final export of {name} to {uri}")
            except CloudSqlError as exc:
                raise CloudSqlError(
                    f"{exc}: no database was deleted and their deletion protection is still on"
                ) from exc
            kept.append(
                f"Cloud SQL export {uri} (the final backup of {name}; load it into a new "
                f"instance with `gcloud sql import sql INSTANCE {uri} --database=postgres`, "
                f"delete it with `gcloud storage rm {uri}`)"
            )
        return kept

    def lift_protection(self, names: list[str], say: Say) -> list[str]:
        lifted = []
        for name, instance in self._of(names):
            say(f"lifting deletion protection of Cloud SQL database {name} ({instance})")
            operation = self._send(protection_request(self.gcp_project, instance, on=False))
            self._wait(operation, CHANGE_WAIT_SECONDS, lambda: False, f"unprotecting {instance}")
            lifted.append(instance)
        return lifted

    def protect_again(self, lifted: list[str], say: Say) -> None:
        still = {instance for _, instance in self.instances()}
        for instance in lifted:
            if instance in still:
                operation = self._send(protection_request(self.gcp_project, instance, on=True))
                self._wait(operation, CHANGE_WAIT_SECONDS, lambda: False, f"protecting {instance}")
                say(f"deletion protection of {instance} is on again")

    def _send(self, request: ApiRequest) -> dict[str, Any]:
        try:
            return self.transport(request)
        except CloudError as exc:
            raise CloudSqlError(f"Cloud SQL: {exc}") from exc

    def _send_gone_ok(self, request: ApiRequest) -> dict[str, Any] | None:
        try:
            return gone_ok(self.transport, request)
        except CloudError as exc:
            raise CloudSqlError(f"Cloud SQL: {exc}") from exc

    def _wait(
        self, operation: dict[str, Any], timeout: float, stopped: Callable[[], bool], what: str
    ) -> None:
        """Until Cloud SQL's operation (status PENDING, RUNNING, DONE; a selfLink) is done."""
        try:
            wait_operation(
                self.transport,
                operation,
                timeout=timeout,
                interval=POLL_SECONDS,
                sleep=self.sleep,
                clock=self.clock,
                stopped=stopped,
            )
        except CloudError as exc:
            raise CloudSqlError(f"{what}: {exc}") from exc
