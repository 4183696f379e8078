"""The region's Cloud Run services as Pilot names and finds them: the services' URLs, a
page of the listing as data, and which listed services are a project's previews. Shared by
the laptop's target (service.py) and the agent on the Pilot Server, which removes expired
previews with no laptop (data/agent/cloud_run.py): so this module imports nothing beyond
the names, the previews' rules and requests as data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pilot_tui.cloud.gcp_api import Transport, every_page
from pilot_tui.deploy.previews import GCP_LABEL_KEYS, Preview, believed, from_labels
from pilot_tui.naming import CLOUD_RUN_SERVICE_MAX, PROJECT_LABEL, resource_name

API = "https://run.googleapis.com/v2/"
SUCCEEDED = "CONDITION_SUCCEEDED"
SERVICE_MAX = CLOUD_RUN_SERVICE_MAX


def services_url(gcp_project: str, region: str, api: str = API) -> str:
    return f"{api}projects/{gcp_project}/locations/{region}/services"


def service_url(gcp_project: str, region: str, service: str, api: str = API) -> str:
    return f"{services_url(gcp_project, region, api)}/{service}"


def listed(send: Transport, gcp_project: str, region: str, api: str = API) -> list[dict[str, Any]]:
    """Every service of the region, page after page (Cloud Run v2 filters none by label:
    the caller does)."""
    return every_page(send, services_url(gcp_project, region, api), {"pageSize": 100}, "services")


def service_name(project: str, app: str) -> str:
    """The service of ``app`` (or of a preview, APP--NAME) of ``project``."""
    return resource_name(project, app)[:SERVICE_MAX].rstrip("-")


def parse_timestamp(value: str) -> float:
    """RFC 3339 with up to nanoseconds (Cloud Logging) -> seconds since the epoch."""
    stamp, _, fraction = value.rstrip("Z").partition(".")
    seconds = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


def service_state(service: dict[str, Any]) -> str:
    """A person's word for a service's state: "ready", or what its condition says."""
    condition = service.get("terminalCondition", {})
    if service.get("reconciling") or condition.get("state") == "CONDITION_RECONCILING":
        return "deploying"  # (previews.room_for counts it as being deployed)
    if condition.get("state") == SUCCEEDED:
        return "ready"
    return str(condition.get("reason") or condition.get("state") or "deploying").lower()


def preview_of(
    service: dict[str, Any], project: str, ttls: Mapping[str, float] | None = None
) -> Preview | None:
    """The preview a listed ``service`` runs, when its labels say it is one of ``project``'s
    and it has the name Pilot gives that preview (None: not a preview Pilot made), with its
    URL, state and when Cloud Run made it. ``ttls`` (an app's previews.ttl, in seconds, by
    app): an expiry label further than a day past that after the service last changed is
    not believed (previews.believed)."""
    said = service.get("labels") or {}
    preview = from_labels(said, GCP_LABEL_KEYS)
    name = str(service.get("name", "")).rpartition("/")[2]
    if (
        preview is None
        or said.get(PROJECT_LABEL) != project
        or name != service_name(project, preview.full)
    ):
        return None
    ttl = ttls.get(preview.app) if ttls is not None else None
    # No updateTime (never seen): no bound, rather than one from 1970.
    if service.get("updateTime"):
        preview = believed(preview, parse_timestamp(str(service["updateTime"])), ttl)
    created = service.get("createTime")
    return dataclasses.replace(
        preview,
        url=str(service.get("uri", "")),
        state=service_state(service),
        made=parse_timestamp(str(created)) if created else 0.0,
    )
