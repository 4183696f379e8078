"""Lambda previews past their TTL, removed by the agent on the Pilot Server (AWS), with no
laptop: each look finds the project's preview functions by their tags and deletes those
whose expiry has passed, with their log groups.

What the server's instance role may do for it, and no more (terraform/aws,
``server_previews``, made while some app runs Lambda previews):
- find them: ``tag:GetResources`` (which cannot be held to some resources; it shows
  resources' ARNs and tags, never their settings);
- read a preview function's tags and configuration, and delete it: only functions named
  as a preview of one of those apps (pilot-PROJECT-APP--*) and tagged as this project's
  preview of that app, so an app's own function is never removable by the server;
- delete those previews' log groups (/aws/lambda/pilot-PROJECT-APP--*).

The tagging API may lag a change by minutes: each function's own tags and last change
are read again before it goes, so a preview deployed again meanwhile (a new expiry tag)
is kept. The preview's release history stays with the laptop's records, as on Cloud Run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from pilot_tui.data.agent.aws import AwsApi, AwsApiError
from pilot_tui.deploy import lease_rules
from pilot_tui.deploy.previews import PREVIEW_OF, Preview, believed
from pilot_tui.deploy.targets.lambda_.listing import last_modified, preview_of
from pilot_tui.errors import PilotError
from pilot_tui.naming import PROJECT_TAG

Say = Callable[[str], None]
LAMBDA_API = "/2015-03-31/functions"
TAGS_API = "/2017-03-31/tags"
GET_RESOURCES = "ResourceGroupsTaggingAPI_20170126.GetResources"
DELETE_LOG_GROUP = "Logs_20140328.DeleteLogGroup"


@dataclass(frozen=True)
class LambdaPreviews:
    """Where the project's Lambda previews run, as the agent's settings carry it."""

    region: str
    # Each app whose previews the agent removes -> its previews.ttl in seconds (an expiry
    # tag much further away than that is not believed: previews.believed).
    ttls: dict[str, float]
    endpoint: str | None = None  # the sandbox's local AWS API (None: AWS's)
    # The state bucket, where a preview being deployed holds its lease (lease_rules.py):
    # such a one is kept. None: not looked at (no S3 state).
    state_bucket: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LambdaPreviews:
        ttls = raw["ttls"]
        if not isinstance(ttls, dict):
            raise ValueError("lambda.ttls is not a table")
        return cls(
            str(raw["region"]),
            {str(app): float(ttl) for app, ttl in ttls.items()},
            str(raw["endpoint"]) if raw.get("endpoint") else None,
            str(raw["state_bucket"]) if raw.get("state_bucket") else None,
        )


@dataclass(frozen=True)
class Expired:
    preview: Preview
    function: str  # its function's name


def tagged(api: AwsApi, project: str, apps: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """(function name, tags) of each function tagged as a preview of one of ``apps`` in
    ``project``, as the tagging API lists them (it may lag)."""
    token = ""
    while True:
        page = api.json_call(
            "tagging",
            GET_RESOURCES,
            {
                "ResourceTypeFilters": ["lambda:function"],
                "TagFilters": [
                    {"Key": PROJECT_TAG, "Values": [project]},
                    {"Key": PREVIEW_OF, "Values": apps},
                ],
                **({"PaginationToken": token} if token else {}),
            },
        )
        for mapping in page.get("ResourceTagMappingList", []):
            tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
            yield str(mapping.get("ResourceARN", "")).rpartition(":function:")[2], tags
        token = str(page.get("PaginationToken") or "")
        if not token:
            return


def _read(api: AwsApi, path: str) -> dict[str, Any] | None:
    """A Lambda API's answer as JSON; None when the function is gone."""
    try:
        _, data, _ = api.call("lambda", "GET", path)
    except AwsApiError as exc:
        if exc.status == 404:
            return None
        raise
    found = json.loads(data or b"{}")
    return found if isinstance(found, dict) else {}


def expired(
    api: AwsApi, project: str, settings: LambdaPreviews, now: float, failed: list[str]
) -> Iterator[Expired]:
    """The project's previews whose TTL ran out by ``now``, of the apps the agent was
    given only (an app taken out of pilot.toml is `app destroy`'s). Each is decided on
    its function's own tags and last change, read after the listing; one that cannot be
    read is added to ``failed`` and the others are looked at all the same."""
    for name, listed in tagged(api, project, sorted(settings.ttls)):
        if preview_of(listed, name, project) is None:
            continue  # named or tagged unlike a preview Pilot made: never ours to remove
        try:
            decided = _decided(api, project, settings, name, now)
        except PilotError as exc:  # throttled, a grant not yet in force: tried again later
            failed.append(f"{name}: {exc}")
            continue
        if decided is not None:
            yield decided


def _decided(
    api: AwsApi, project: str, settings: LambdaPreviews, name: str, now: float
) -> Expired | None:
    """Function ``name`` as an expired preview of the project, or None: not one, not
    expired, or gone meanwhile."""
    config = _read(api, f"{LAMBDA_API}/{name}/configuration")
    if config is None:
        return None  # removed meanwhile (a laptop's prune); the listing has not caught up
    arn = str(config.get("FunctionArn", ""))
    own = _read(api, f"{TAGS_API}/{arn}") if arn else None
    preview = preview_of((own or {}).get("Tags") or {}, name, project)
    if preview is None or preview.app not in settings.ttls:
        return None
    changed = last_modified(str(config.get("LastModified", "")))
    if believed(preview, changed, settings.ttls[preview.app]).expired(now):
        return Expired(preview, name)
    return None


def _being_deployed(api: AwsApi, settings: LambdaPreviews, full: str) -> bool:
    """Whether preview ``full`` (APP--NAME) is being deployed: its lease in the state
    bucket holds. One that cannot be read (a server granted before Pilot looked) is no
    lease: the TTL decides, as it did."""
    if settings.state_bucket is None:
        return False
    try:
        found = api.read_object(settings.state_bucket, lease_rules.key(full))
    except PilotError:
        return False
    return found is not None and lease_rules.holds(*found)


def prune(settings: LambdaPreviews, project: str, now: float, say: Say, api: AwsApi) -> list[str]:
    """Delete the project's expired Lambda previews and their log groups; their full
    names (APP--NAME). One the server may not delete is said and kept; one Lambda refused
    otherwise does not stop the others: a PilotError names them all at the end (said by
    the caller, tried again at the next look)."""
    removed: list[str] = []
    failed: list[str] = []
    for gone in expired(api, project, settings, now, failed):
        if _being_deployed(api, settings, gone.preview.full):
            say(f"kept the preview {gone.preview.full}: a deploy of it is under way")
            continue
        try:
            api.call("lambda", "DELETE", f"{LAMBDA_API}/{gone.function}")
        except AwsApiError as exc:
            if exc.status == 404:
                continue  # removed meanwhile
            if exc.status == 403:
                say(
                    f"may not remove the preview {gone.preview.full} (function "
                    f"{gone.function}): the server's role holds no grant on it (a server "
                    "made before its app ran previews: `pilot-tui server up` grants it); "
                    "`pilot-tui preview prune` removes it from a laptop"
                )
            else:
                failed.append(f"{gone.preview.full}: {exc}")
            continue
        try:
            api.json_call(
                "logs", DELETE_LOG_GROUP, {"logGroupName": f"/aws/lambda/{gone.function}"}
            )
        except AwsApiError as exc:
            if exc.code != "ResourceNotFoundException":
                say(f"the log group of the preview {gone.preview.full} stays: {exc}")
        say(f"removed the Lambda preview {gone.preview.full}: its TTL ran out")
        removed.append(gone.preview.full)
    if failed:
        raise PilotError(f"could not remove {'; '.join(failed)}")
    return removed
