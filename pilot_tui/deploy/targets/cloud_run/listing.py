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

from pilot_tui.cloud.gcp_api import ApiRequest, Transport, every_page
from pilot_tui.deploy.previews import GCP_LABEL_KEYS, Preview, believed, from_labels
from pilot_tui.naming import (
    CLOUD_RUN_SERVICE_MAX,
    CLOUD_RUN_TAGGED_MAX,
    GCP_PREVIEWS_OF,
    PROJECT_LABEL,
    cloud_run_previews_service,
    cloud_run_service,
)

API = "https://run.googleapis.com/v2/"
SUCCEEDED = "CONDITION_SUCCEEDED"
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
PINNED = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
SERVICE_MAX = CLOUD_RUN_SERVICE_MAX
TAGGED_MAX = CLOUD_RUN_TAGGED_MAX


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
    return cloud_run_service(project, app)


def previews_service_name(project: str, app: str) -> str:
    """The service whose tagged revisions are ``app``'s previews (pilot-PROJECT-APP--pv)."""
    return cloud_run_previews_service(project, app)


def tag_for(name: str) -> str:
    """The tag of preview ``name``'s revision: its name (a tag starts with a letter, so
    one starting with a digit gets a "p" before it); its URL is TAG---SERVICE-...run.app."""
    return name if name[:1].isalpha() else f"p{name}"


def revisions_url(gcp_project: str, region: str, service: str, api: str = API) -> str:
    return f"{service_url(gcp_project, region, service, api)}/revisions"


def listed_revisions(
    send: Transport, gcp_project: str, region: str, service: str, api: str = API
) -> list[dict[str, Any]]:
    """Every revision of ``service``, with its labels, page after page."""
    url = revisions_url(gcp_project, region, service, api)
    return every_page(send, url, {"pageSize": 100}, "revisions")


def previews_service_of(service: dict[str, Any], project: str) -> str | None:
    """The app whose previews' service a listed ``service`` is (labelled so, this
    project's, named so), or None."""
    said = service.get("labels") or {}
    app = said.get(GCP_PREVIEWS_OF)
    name = str(service.get("name", "")).rpartition("/")[2]
    if not app or said.get(PROJECT_LABEL) != project:
        return None
    return app if name == previews_service_name(project, app) else None


def short_name(resource: dict[str, Any]) -> str:
    """A service's or revision's name without its projects/.../ path."""
    return str(resource.get("name", "")).rpartition("/")[2]


def revision_state(revision: dict[str, Any]) -> str:
    """A person's word for a revision's state, as service_state's for a service."""
    if revision.get("reconciling"):
        return "deploying"
    conditions: list[dict[str, Any]] = revision.get("conditions", [])
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    if not ready or ready.get("state") == SUCCEEDED:
        return "ready"
    return str(ready.get("reason") or ready.get("state") or "deploying").lower()


def tagged_previews(
    service: dict[str, Any],
    revisions: list[dict[str, Any]],
    project: str,
    ttls: Mapping[str, float] | None = None,
) -> list[Preview]:
    """The previews a previews' ``service`` (previews_service_of) serves: each tag whose
    revision's labels say it is this project's preview of the app, by that tag
    (tag_for), with the tag's URL. An expiry label far past the TTL after the revision was
    made is not believed (previews.believed: a revision never changes after)."""
    app = previews_service_of(service, project)
    if app is None:
        return []
    by_name = {short_name(r): r for r in revisions}
    found = []
    for status in service.get("trafficStatuses", []):
        tag, revision = status.get("tag"), by_name.get(str(status.get("revision", "")))
        said = (revision or {}).get("labels") or {}
        preview = from_labels(said, GCP_LABEL_KEYS)
        if (
            revision is None
            or preview is None
            or preview.app != app
            or said.get(PROJECT_LABEL) != project
            or tag != tag_for(preview.name)
        ):
            continue
        made = parse_timestamp(str(revision["createTime"])) if revision.get("createTime") else 0.0
        if made:
            preview = believed(preview, made, ttls.get(app) if ttls is not None else None)
        found.append(
            dataclasses.replace(
                preview, url=str(status.get("uri", "")), state=revision_state(revision), made=made
            )
        )
    return sorted(found, key=lambda p: p.name)


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


# -- a previews' service's tags, as data (tagged.py; the agent's cloud_run.py) ----------
def pinned_traffic(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The service's traffic with "latest" pinned to the revision it means now: a new
    template's revision becomes the latest, and must get no traffic."""
    latest = short_name({"name": service.get("latestReadyRevision", "")})
    out = []
    for entry in service.get("traffic", []):
        if entry.get("type", LATEST) == LATEST:
            entry = {**{k: v for k, v in entry.items() if k != "type"}, "type": PINNED}
            entry["revision"] = latest
        out.append(entry)
    return out


def tagged_traffic(service: dict[str, Any], tag: str, revision: str | None) -> list[dict[str, Any]]:
    """The service's traffic with ``tag`` on ``revision`` at 0% (None: the tag dropped);
    every other entry kept as it is, the service's own address's pinned."""
    kept = [entry for entry in pinned_traffic(service) if entry.get("tag") != tag]
    if revision is not None:
        kept.append({"type": PINNED, "revision": revision, "percent": 0, "tag": tag})
    return kept


def without_tags_request(url: str, service: dict[str, Any], tags: set[str]) -> ApiRequest:
    """Only the traffic changes: ``tags`` dropped, on the service as read (its etag)."""
    traffic = [e for e in pinned_traffic(service) if e.get("tag") not in tags]
    return ApiRequest(
        "PATCH",
        url,
        params={"updateMask": "traffic"},
        body={"traffic": traffic, "etag": service.get("etag", "")},
    )


def delete_revision_request(url: str, revision: str) -> ApiRequest:
    return ApiRequest("DELETE", f"{url}/revisions/{revision}")


def own_revisions(revisions: list[dict[str, Any]], project: str, preview: Preview) -> list[str]:
    """The names of the revisions whose labels say they are ``preview``'s, of
    ``project``."""
    of, name, _ = GCP_LABEL_KEYS
    return sorted(
        short_name(r)
        for r in revisions
        if (said := r.get("labels") or {}).get(PROJECT_LABEL) == project
        and said.get(of) == preview.app
        and said.get(name) == preview.name
    )
