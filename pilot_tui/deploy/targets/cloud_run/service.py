"""Google Cloud Run (Admin API v2): one service per app, one revision per release named
``{service}-{release}`` (pilot-acme-api-v3), so a rollback moves traffic back to a named
revision without a rebuild. Each preview of an app is a service of its own,
pilot-PROJECT-APP--NAME, labelled whose preview it is and when it expires: nothing of the
app's service is read or changed by it (a tagged revision of the app's service would make
every preview deploy a change of the app's service, its template and its traffic).

No Cloud Run emulator exists, so every call is built as data by the pure functions below
and sent by a gcp_api.Transport (tests drive it with a recording fake)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import (
    ApiError,
    ApiRequest,
    Transport,
    gone_ok,
    wait_operation,
)
from pilot_tui.cloud.gcp_iam import preview_runtime_email, with_member
from pilot_tui.cloud.identity_gcp import runtime_account_email
from pilot_tui.config.schema import AppSettings, CloudRunTarget, PilotConfig
from pilot_tui.deploy.context import CancelToken
from pilot_tui.deploy.previews import GCP_LABEL_KEYS, Preview
from pilot_tui.deploy.targets import managed_watch
from pilot_tui.deploy.targets.base import target_settings
from pilot_tui.deploy.targets.cloud_run.listing import (
    API,
    SUCCEEDED,
    listed,
    parse_timestamp,
    preview_of,
    service_name,
    service_url,
)
from pilot_tui.deploy.targets.cloud_run.secrets import CloudRunSecrets, SecretRef, secret_env
from pilot_tui.deploy.targets.managed import (
    LogLine,
    Probe,
    Revision,
    Say,
    TargetError,
    TargetStatus,
)
from pilot_tui.naming import GCP_PREVIEW_OF, PROJECT_LABEL, labels

LOGGING = "https://logging.googleapis.com/v2/entries:list"
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
PINNED = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
PREVIOUS_TAG = "previous"  # the revision that served before the latest: its own URL
TAGGED_MAX = 46  # Cloud Run's limit on a tag and the service's name together
INVOKER = "roles/run.invoker"


@dataclass(frozen=True)
class Pruner:
    """The Pilot Server's service account, and the role (run.services.delete alone, made
    by terraform/gcp) a preview's deploy grants it on that preview's own service, for the
    agent there to remove the preview when it expires (data/agent/cloud_run.py)."""

    account: str
    role: str


# Cloud Run sets these itself and refuses a service that names them.
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
DEPLOY_TIMEOUT = 900


# -- requests as data ------------------------------------------------------------------
def revision_name(service: str, release: str) -> str:
    """Cloud Run wants revision names prefixed with the service's name."""
    return f"{service}-{release.lower()}"


def service_body(
    image: str,
    env: dict[str, str],
    revision: str,
    settings: CloudRunTarget,
    labels: dict[str, str],
    secrets: Mapping[str, SecretRef] | None = None,
    runtime_account: str | None = None,
    previous: str | None = None,
) -> dict[str, Any]:
    """The whole service as Pilot wants it: a template pinned to ``revision`` and all
    traffic on the latest revision (the one this template makes). Names in ``secrets``
    become Secret Manager references: their values never enter the service. The revision
    runs as ``runtime_account`` (None: the project's default compute account). The
    revision that served until now (``previous``) keeps an address of its own, with no
    traffic (the tag PREVIOUS_TAG): the watch asks it too, as the release to go back to."""
    refs = secrets or {}
    return {
        "labels": labels,
        "template": {
            "revision": revision,
            "labels": labels,
            **({"serviceAccount": runtime_account} if runtime_account else {}),
            "scaling": {
                "minInstanceCount": settings.min_instances,
                "maxInstanceCount": settings.max_instances,
            },
            "containers": [
                {
                    "image": image,
                    "env": [
                        secret_env(k, refs[k]) if k in refs else {"name": k, "value": v}
                        for k, v in sorted(env.items())
                        if k not in RESERVED_ENV
                    ],
                    "ports": [{"containerPort": settings.port}],
                    "resources": {"limits": {"cpu": str(settings.cpu), "memory": settings.memory}},
                }
            ],
        },
        "traffic": [
            {"type": LATEST, "percent": 100},
            *(
                [{"type": PINNED, "revision": previous, "percent": 0, "tag": PREVIOUS_TAG}]
                if previous and previous != revision
                else []
            ),
        ],
    }


def get_service_request(url: str) -> ApiRequest:
    return ApiRequest("GET", url)


def create_service_request(url: str, body: dict[str, Any]) -> ApiRequest:
    parent, _, name = url.rpartition("/")
    return ApiRequest("POST", parent, body=body, params={"serviceId": name})


def patch_service_request(url: str, body: dict[str, Any]) -> ApiRequest:
    return ApiRequest("PATCH", url, body=body)


def traffic_request(url: str, revision: str) -> ApiRequest:
    """All traffic to one named revision (a rollback); only the traffic field changes."""
    return ApiRequest(
        "PATCH",
        url,
        params={"updateMask": "traffic"},
        body={"traffic": [{"type": PINNED, "revision": revision, "percent": 100}]},
    )


def get_revision_request(url: str, revision: str) -> ApiRequest:
    return ApiRequest("GET", f"{url}/revisions/{revision}")


def get_iam_policy_request(url: str) -> ApiRequest:
    return ApiRequest("GET", f"{url}:getIamPolicy")


def set_iam_policy_request(url: str, policy: dict[str, Any]) -> ApiRequest:
    return ApiRequest("POST", f"{url}:setIamPolicy", body={"policy": policy})


def with_public_invoker(policy: dict[str, Any]) -> dict[str, Any] | None:
    """``policy`` plus allUsers as roles/run.invoker, or None when it already has it.
    Pilot apps are public web apps (like a Lambda function URL with auth NONE): without
    this binding Cloud Run answers 403 to every visitor. Other bindings are kept."""
    return with_member(policy, (INVOKER,), "allUsers")


def with_pruner(policy: dict[str, Any], pruner: Pruner) -> dict[str, Any] | None:
    """``policy`` plus the Pilot Server's account in its pruner role, or None when it has
    it: on a preview's own service, so the agent there deletes it when it expires and can
    touch no other service."""
    return with_member(policy, (pruner.role,), f"serviceAccount:{pruner.account}")


def delete_service_request(url: str) -> ApiRequest:
    return ApiRequest("DELETE", url)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_request(gcp_project: str, service: str, since: float | None, limit: int) -> ApiRequest:
    """Cloud Logging entries of the service's revisions. With ``since`` oldest first from
    there (a follow); without, newest first so ``limit`` keeps the most recent lines (the
    caller reverses them)."""
    query = f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}"'
    if since is not None:
        query += f' AND timestamp>="{rfc3339(since)}"'
    return ApiRequest(
        "POST",
        LOGGING,
        body={
            "resourceNames": [f"projects/{gcp_project}"],
            "filter": query,
            "orderBy": "timestamp asc" if since is not None else "timestamp desc",
            "pageSize": max(1, min(limit, 1000)),
        },
    )


# -- reading answers -------------------------------------------------------------------
def log_line(entry: dict[str, Any]) -> LogLine:
    if "textPayload" in entry:
        text = str(entry["textPayload"])
    elif "jsonPayload" in entry:
        payload = entry["jsonPayload"]
        text = str(payload.get("message") or json.dumps(payload, sort_keys=True))
    elif "httpRequest" in entry:  # Cloud Run's request log
        http = entry["httpRequest"]
        text = (
            f"{http.get('requestMethod', '')} {http.get('requestUrl', '')} "
            f"{http.get('status', '')}".strip()
        )
    else:
        text = json.dumps(entry.get("protoPayload", {}), sort_keys=True)[:500]
    source = entry.get("resource", {}).get("labels", {}).get("revision_name", "")
    return LogLine(
        parse_timestamp(entry.get("timestamp", "1970-01-01T00:00:00Z")), text.rstrip("\n"), source
    )


def serving(service: dict[str, Any]) -> list[tuple[str, int]]:
    """(revision, percent) for each revision that gets traffic."""
    out = []
    for status in service.get("trafficStatuses", []):
        revision = status.get("revision") or (
            service.get("latestReadyRevision", "").rpartition("/")[2]
            if status.get("type") == LATEST
            else ""
        )
        if status.get("percent", 0) > 0 and revision:
            out.append((revision, int(status["percent"])))
    return out


def live_revision(service: dict[str, Any]) -> str | None:
    """The revision that gets all the traffic, or None (split, or none ready)."""
    return next((r for r, percent in serving(service) if percent == 100), None)


def service_status(service: dict[str, Any]) -> TargetStatus:
    url = service.get("uri") or "-"
    shares = serving(service)
    detail = ", ".join(f"revision {r} serving {p}%" for r, p in shares)
    condition = service.get("terminalCondition", {})
    if condition.get("state") == SUCCEEDED:
        if shares:
            return TargetStatus("healthy", url, detail)
        reason = "no revision serves traffic"
    else:
        reason = (
            condition.get("message")
            or condition.get("reason")
            or condition.get("state")
            or "not ready yet"
        )
    return TargetStatus(f"unhealthy ({reason})", url, detail)


# -- the target ------------------------------------------------------------------------
@dataclass
class CloudRunService:
    transport: Transport
    gcp_project: str
    region: str
    project: str
    app: str
    settings: CloudRunTarget
    kind: str = "cloud-run"
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)  # the deploy's
    interval: float = 2.0  # seconds between polls of an operation
    secret_names: tuple[str, ...] = ()  # env vars kept in Secret Manager, not the service
    preview: Preview | None = None  # this service runs that preview (``app`` is APP--NAME)
    # The Pilot Server's service account, which deletes this preview when it expires (the
    # agent's Cloud Run look); None: no server may (an app's own service, always).
    pruner: Pruner | None = None
    secrets: CloudRunSecrets = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # A preview's go to its app's previews' secrets (readable by the previews' account).
        owner = self.preview.app if self.preview is not None else self.app
        self.secrets = CloudRunSecrets(
            self.transport,
            self.gcp_project,
            self.project,
            owner,
            self.secret_names,
            previews=self.preview is not None,
        )

    @property
    def name(self) -> str:
        return service_name(self.project, self.app)

    @property
    def url(self) -> str:
        return service_url(self.gcp_project, self.region, self.name)

    def labels(self) -> dict[str, str]:
        made = labels(self.project, self.app)
        if self.preview is not None:
            made.update(self.preview.labels(GCP_LABEL_KEYS))
        return made

    def _tags_previous(self) -> bool:
        """Whether a deploy gives the revision it replaces an address of its own, for the
        watch to ask first: only for a release that is watched, and where Cloud Run takes
        the tag (a preview is never watched)."""
        return (
            self.preview is None
            and self.settings.watch > 0
            and len(self.name) + len(PREVIOUS_TAG) <= TAGGED_MAX
        )

    def watch_over(self, say: Say) -> None:
        """The watch is over and the new release stays: the revision it replaced loses
        its own address (public, it would keep serving an old release, a vulnerable one
        perhaps, and keep an instance warm)."""
        service = self.current()
        if service is None or not any(t.get("tag") for t in service.get("traffic", [])):
            return
        self._wait(
            self.transport(
                ApiRequest(
                    "PATCH",
                    self.url,
                    params={"updateMask": "traffic"},
                    body={"traffic": [{"type": LATEST, "percent": 100}]},
                )
            )
        )
        say(f"the previous revision's own address ({PREVIOUS_TAG}) is gone")

    def runs_as(self) -> str:
        """The account its revisions run as: the apps' runtime account (it reads their
        secrets), or for a preview the previews' account, which reads the previews' secrets
        only (a branch's code must not read the apps')."""
        if self.preview is not None:
            return preview_runtime_email(self.project, self.gcp_project)
        return runtime_account_email(self.project, self.gcp_project)

    def current(self) -> dict[str, Any] | None:
        """The service, or None when it does not exist yet. TargetError when its labels say
        it is another project's (a neighbour project's names can match this one's), or
        another app's preview: nothing of it is changed."""
        found = gone_ok(self.transport, get_service_request(self.url))
        if found is None:
            return None
        said = found.get("labels") or {}
        whose = said.get(PROJECT_LABEL)
        if whose is not None and whose != self.project:
            raise TargetError(
                f"Cloud Run service {self.name} belongs to project {whose!r} (its "
                f"{PROJECT_LABEL} label), not {self.project!r}: nothing of it is changed"
            )
        of = said.get(GCP_PREVIEW_OF)
        if self.preview is not None and of is not None and of != self.preview.app:
            raise TargetError(
                f"Cloud Run service {self.name} is a preview of {of!r}, not of "
                f"{self.preview.app!r}: nothing of it is changed"
            )
        return found

    def previews(self, ttl: float | None = None) -> list[Preview]:
        """The previews of this app in its region, with their URLs: the services whose
        labels say they are this project's previews of it, named as Pilot names them. With
        ``ttl`` (previews.ttl, in seconds) an expiry label further than a day past ``ttl``
        after the service last changed is not believed (previews.believed)."""
        ttls = {self.app: ttl} if ttl is not None else None
        return [
            preview
            for service in listed(self.transport, self.gcp_project, self.region)
            if (preview := preview_of(service, self.project, ttls)) is not None
            and preview.app == self.app
        ]

    def _wait(self, operation: dict[str, Any]) -> dict[str, Any]:
        return wait_operation(
            self.transport, operation, api=API, timeout=DEPLOY_TIMEOUT, interval=self.interval
        )

    def _free_revision(self, release: str) -> str:
        """``{service}-{release}``, or with -2, -3 ... when a failed attempt of the same
        release already made that revision (Cloud Run never reuses a revision name)."""
        base = revision_name(self.name, release)
        for attempt in range(1, 10):
            candidate = base if attempt == 1 else f"{base}-{attempt}"
            if gone_ok(self.transport, get_revision_request(self.url, candidate)) is None:
                return candidate
        raise TargetError(f"service {self.name}: revisions {base} to {base}-9 all exist")

    def ensure_access(self, say: Say) -> None:
        """Everyone may invoke it; on a preview, the Pilot Server's account (``pruner``)
        may also delete it when its TTL runs out."""
        policy = self.transport(get_iam_policy_request(self.url))
        public = with_public_invoker(policy)
        pruned = with_pruner(public or policy, self.pruner) if self.pruner else None
        wanted = pruned or public
        if wanted is None:
            return
        try:
            self.transport(set_iam_policy_request(self.url, wanted))
        except ApiError as exc:
            raise TargetError(
                f"could not set who may use {self.name} ({exc.api_message}): deploying "
                "needs run.services.setIamPolicy (roles/run.admin) once, and an "
                "organisation policy may forbid allUsers"
            ) from exc
        if public is not None:
            say(f"allowed public access to {self.name} (allUsers may invoke it)")
        if pruned is not None:
            account = self.pruner.account if self.pruner else ""
            say(f"the Pilot Server ({account}) may remove {self.name} when its TTL runs out")

    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        existing = self.current()
        revision = self._free_revision(release) if existing else revision_name(self.name, release)
        dropped = sorted(RESERVED_ENV & env.keys())
        if dropped:
            say(f"not setting {', '.join(dropped)}: Cloud Run sets it itself")
        refs = self.secrets.store({k: v for k, v in env.items() if k not in RESERVED_ENV}, say)
        body = service_body(
            image,
            env,
            revision,
            self.settings,
            self.labels(),
            refs,
            self.runs_as(),
            previous=live_revision(existing) if existing and self._tags_previous() else None,
        )
        self.secrets.grant(refs, body["template"].get("serviceAccount"), say)
        try:
            if existing is None:
                operation = self.transport(create_service_request(self.url, body))
                say(f"creating Cloud Run service {self.name} in {self.region}")
            else:
                operation = self.transport(patch_service_request(self.url, body))
                say(f"updating Cloud Run service {self.name}")
        except ApiError as exc:
            account = self.runs_as()
            if self.preview is None or account not in exc.api_message:
                raise
            # The previews' account is made by setup since Cloud Run previews were built.
            raise TargetError(
                f"{exc.api_message}: previews run as {account}, which setup makes: run "
                "`pilot-tui deployer create --cloud gcp` once"
            ) from exc
        self._wait(operation)
        self.ensure_access(say)
        service = self.transport(get_service_request(self.url))
        say(f"revision {revision} serving 100%")
        return Revision(
            revision, str(service.get("uri", "")), f"revision {revision} of {self.name}"
        )

    def activate(self, ref: str, say: Say, *, wait: bool = True) -> Revision:
        if gone_ok(self.transport, get_revision_request(self.url, ref)) is None:
            raise TargetError(f"service {self.name} has no revision {ref} any more")
        self._wait(self.transport(traffic_request(self.url, ref)))
        service = self.transport(get_service_request(self.url))
        say(f"revision {ref} serving 100%")
        return Revision(ref, str(service.get("uri", "")), f"revision {ref} of {self.name}")

    def probe(self, path: str, revision: str | None = None) -> Probe:
        """A GET of ``path`` at the service's URL (or at ``revision``'s own, the tag a
        deploy gives the revision it replaced), as a visitor asks it. An answer other than
        2xx, or none in PROBE_TIMEOUT seconds once connected (a release that hangs), is a
        miss; what could not be asked (the API, the network: a laptop offline) is no
        verdict."""
        try:
            service = self.current()
        except CloudError as exc:
            return Probe(None, f"the service could not be read: {redact.clip(str(exc), 120)}")
        if service is None:
            return Probe(None, f"no service {self.name}")
        base = str(service.get("uri") or "")
        if revision is not None:
            base = next(
                (
                    str(s["uri"])
                    for s in service.get("trafficStatuses", [])
                    if s.get("revision") == revision and s.get("uri")
                ),
                "",
            )
        if not base:
            return Probe(None, f"revision {revision or 'latest'} has no address to ask")
        return managed_watch.http_probe(base.rstrip("/") + path)

    def serving(self) -> str | None:
        try:
            service = self.current()
        except CloudError:  # unknown: the caller decides on its own record
            return None
        return live_revision(service) if service else None

    def status(self) -> TargetStatus:
        service = self.current()
        if service is None:
            return TargetStatus("not deployed", "-")
        return service_status(service)

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        found = self.transport(log_request(self.gcp_project, self.name, since, limit))
        lines = [log_line(e) for e in found.get("entries", [])]
        if since is None:
            lines.reverse()  # asked newest first: the most recent ``limit`` lines
        yield from (lines[-limit:] if since is None else lines[:limit])

    def destroy(self, say: Say) -> list[str]:
        done = []
        foreign = None
        try:
            ours = self.current() is not None
        except TargetError as exc:  # a neighbour project's, or another app's preview
            foreign, ours = str(exc), False
        operation = gone_ok(self.transport, delete_service_request(self.url)) if ours else None
        if operation is not None:
            self._wait(operation)
            done.append(f"deleted Cloud Run service {self.name} and its revisions")
        # Only for apps with secrets: others must not need Secret Manager at all. A
        # preview's are its app's previews' (the other previews use them): they go with it.
        if self.secret_names and self.preview is None:
            done += self.secrets.destroy()
        if foreign is not None:
            say(f"not removed: {foreign}")
        elif not done:
            say(f"no Cloud Run service {self.name}: nothing to remove")
        for line in done:
            say(line)
        return done


def open_cloud_run(
    config: PilotConfig,
    state_dir: Path,
    root: Path,
    app: AppSettings,
    preview: Preview | None = None,
) -> CloudRunService:
    """The app's service (with ``preview``: that preview's, ``app`` its copy) as the
    deployer: its key, or in a CI run its short-lived credentials (clients.py)."""
    from pilot_tui.cloud.clients import google_transport

    if config.server.home == "sandbox":
        raise TargetError(
            f"app {app.name!r}: Cloud Run has no emulator in the sandbox; "
            "deploy it from a project on Google Cloud (server.home)"
        )
    if not config.gcp.project:
        raise TargetError(f"app {app.name!r}: Cloud Run needs gcp.project in pilot.toml")
    transport = google_transport(config, root)
    return CloudRunService(
        transport,
        config.gcp.project,
        config.gcp.region,
        config.project.name,
        app.name,
        target_settings(app, CloudRunTarget),
        secret_names=tuple(app.secrets),
        preview=preview,
        pruner=pruner(config, state_dir) if preview is not None else None,
    )


def pruner(config: PilotConfig, state_dir: Path) -> Pruner | None:
    """Whom a preview's deploy lets remove it: the Pilot Server's service account in the
    pruner role its template made, when its agent removes expired Cloud Run previews
    (scheduling.cloud_run_previews); None when it does not."""
    from pilot_tui.data.scheduling import cloud_run_previews
    from pilot_tui.provision.outputs import saved_outputs

    if cloud_run_previews(config, state_dir) is None:
        return None
    outputs = saved_outputs(state_dir)
    account, role = outputs.get("service_account"), outputs.get("cloud_run_pruner_role")
    if isinstance(account, str) and account and isinstance(role, str) and role:
        return Pruner(account, role)
    return None
