"""Cloud Run previews past their TTL, removed by the agent on the Pilot Server (Google
Cloud), with no laptop: each look lists the region's services and deletes the project's
previews whose expiry label has passed.

What the server's service account may do for it, and no more:
- list the region's services: a custom role of ``run.services.list`` alone on the project
  (terraform/gcp, ``cloud_run_previews``);
- delete a preview: Pilot's preview deploy grants it the pruner role (``run.services.delete``
  alone, terraform/gcp) on that preview's own service (service.py), so no other service,
  the apps' own above all, can be removed by it. A preview made before that grant existed
  is said and left to the laptop's `preview prune`.

The delete names the etag the listing saw, so a preview deployed again meanwhile (a new
expiry) is not removed; and a preview whose deploy lease holds in the state bucket (a deploy
of it under way, whose service has not changed yet: its image still building) is kept. For
that the server's account may read the leases, ``pilot/locks/``, and nothing else there
(terraform/gcp); one it cannot read is no lease, and the TTL decides. The token comes from
the metadata service (gcs.MetadataTokens).
The preview's release history stays with the laptop's records: `preview list` and
`preview prune` forget the histories of previews that run nowhere any more.
"""

from __future__ import annotations

import datetime
import http.client
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pilot_tui.cloud.gcp_api import ApiError, ApiRequest, Transport, parse_response
from pilot_tui.data.agent.gcs import API as STORAGE
from pilot_tui.data.agent.gcs import MetadataTokens
from pilot_tui.data.agent.wire import NETWORK_ERRORS
from pilot_tui.deploy import lease_rules
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.targets.cloud_run.listing import API, listed, preview_of, service_url
from pilot_tui.errors import PilotError

Say = Callable[[str], None]
TIMEOUT = 60  # seconds per request
CHANGED = (409, 412)  # the etag no longer matches: the service changed since it was listed


@dataclass(frozen=True)
class CloudRunPreviews:
    """Where the project's Cloud Run previews run, as the agent's settings carry it."""

    gcp_project: str
    region: str
    # Each app whose previews the agent removes -> its previews.ttl in seconds (an expiry
    # label much further away than that is not believed: previews.believed).
    ttls: dict[str, float]
    api: str = API  # the Cloud Run API's root (tests: a local stand-in)
    # The state bucket, where a preview being deployed holds its lease (lease_rules.py);
    # None without GCS state. ``storage``: the GCS JSON API's root (tests: the emulator).
    state_bucket: str | None = None
    storage: str = STORAGE

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CloudRunPreviews:
        ttls = raw["ttls"]
        if not isinstance(ttls, dict):
            raise ValueError("cloud_run.ttls is not a table")
        bucket = raw.get("state_bucket")
        return cls(
            str(raw["gcp_project"]),
            str(raw["region"]),
            {str(app): float(ttl) for app, ttl in ttls.items()},
            str(raw.get("api") or API),
            str(bucket) if bucket else None,
            str(raw.get("storage") or STORAGE),
        )


@dataclass(frozen=True)
class Expired:
    preview: Preview
    service: str  # its Cloud Run service's name
    etag: str  # as the listing saw it


def expired(
    services: list[dict[str, Any]], project: str, settings: CloudRunPreviews, now: float
) -> list[Expired]:
    """The project's previews among ``services`` whose TTL ran out by ``now``: of the
    apps the agent was given only (an app taken out of pilot.toml is `app destroy`'s)."""
    found = []
    for service in services:
        preview = preview_of(service, project, settings.ttls)
        if preview is None or preview.app not in settings.ttls or not preview.expired(now):
            continue
        name = str(service["name"]).rpartition("/")[2]
        found.append(Expired(preview, name, str(service.get("etag", ""))))
    return found


def delete_request(settings: CloudRunPreviews, gone: Expired) -> ApiRequest:
    url = service_url(settings.gcp_project, settings.region, gone.service, settings.api)
    return ApiRequest("DELETE", url, params={"etag": gone.etag} if gone.etag else None)


def being_deployed(settings: CloudRunPreviews, full: str, now: float, send: Transport) -> bool:
    """Whether preview ``full`` (APP--NAME) is being deployed: its lease in the state
    bucket holds, by its last write (the object's update time) against ``now``. One that is
    not there or cannot be read (a server granted before Pilot looked) is no lease."""
    if not settings.state_bucket:
        return False
    name = urllib.parse.quote(lease_rules.key(full), safe="")
    url = f"{settings.storage.rstrip('/')}/storage/v1/b/{settings.state_bucket}/o/{name}"
    try:
        found = send(ApiRequest("GET", url))
        generation = str(found.get("generation", ""))
        lease = send(ApiRequest("GET", url, params={"alt": "media", "generation": generation}))
        written = datetime.datetime.fromisoformat(str(found["updated"])).timestamp()
    except (ApiError, KeyError, ValueError):
        return False
    return lease_rules.holds_read(lease, now - written)


def prune(
    settings: CloudRunPreviews, project: str, now: float, say: Say, send: Transport
) -> list[str]:
    """Delete the project's expired Cloud Run previews; their full names (APP--NAME). A
    preview that changed since the listing, or that the server may not delete, is said and
    kept; one Cloud Run refused otherwise does not stop the others: a PilotError names
    them all at the end (said by the caller, tried again at the next look)."""
    removed, failed = [], []
    services = listed(send, settings.gcp_project, settings.region, settings.api)
    for gone in expired(services, project, settings, now):
        if being_deployed(settings, gone.preview.full, now, send):
            say(f"kept the preview {gone.preview.full}: it is being deployed (its lease holds)")
            continue
        try:
            send(delete_request(settings, gone))
        except ApiError as exc:
            if exc.status == 404:
                continue  # removed meanwhile (a laptop's prune)
            if exc.status in CHANGED or (exc.status == 400 and "etag" in exc.api_message.lower()):
                say(f"kept the preview {gone.preview.full}: deployed again since it was listed")
            elif exc.status == 403:
                say(
                    f"may not remove the preview {gone.preview.full} (Cloud Run service "
                    f"{gone.service}): the server's account holds no pruner role on it (a "
                    "preview deployed before Pilot granted one, or a server made again "
                    "since); `pilot-tui preview prune` removes it from a laptop"
                )
            else:
                failed.append(f"{gone.preview.full}: HTTP {exc.status}: {exc.api_message}")
            continue
        say(f"removed the Cloud Run preview {gone.preview.full}: its TTL ran out")
        removed.append(gone.preview.full)
    if failed:
        raise PilotError(f"could not remove {'; '.join(failed)}")
    return removed


def http_transport(tokens: MetadataTokens) -> Transport:
    """ApiRequests sent with the standard library, as the server's service account."""

    def send(request: ApiRequest) -> dict[str, Any]:
        parsed = urllib.parse.urlsplit(request.url)
        target = parsed.path
        if request.params:
            target += "?" + urllib.parse.urlencode(request.params)
        body = json.dumps(request.body).encode() if request.body is not None else None
        https = parsed.scheme == "https"
        opened = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = opened(parsed.netloc, timeout=TIMEOUT)
        headers = {**tokens.headers(), "Content-Type": "application/json"}
        try:
            connection.request(request.method, target, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        except NETWORK_ERRORS as exc:
            raise PilotError(f"cannot reach {parsed.netloc}: {exc}") from exc
        finally:
            connection.close()
        return parse_response(request, response.status, text)

    return send
