"""A Cloud Run preview as a tagged revision of its app's previews' service,
pilot-PROJECT-APP--pv: each preview is a revision with no traffic and a tag, reached at the
tag's own URL (TAG---SERVICE-...run.app); its labels say whose preview it is and when it
expires. The app's own service is never read or changed by a preview.

One service for all of an app's previews is what lets a pull request's identity be given
that one service and nothing else (Cloud Run authorizes making a service on its location,
not its name): see cloud/policy_gcp.py. The service is made by the first preview deploy
(or `ci github`), its own address serving Google's sample page (PLACEHOLDER_IMAGE): Cloud
Run sends a service's traffic to some revision, and never to a preview's.

Deploys of two previews at once race on the service: each PATCH names the etag it read, and
one that lost reads the service again and tries again (CONFLICT_TRIES).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.cloud.gcp_api import ApiError, ApiRequest, gone_ok
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.previews import GCP_LABEL_KEYS, Preview
from pilot_tui.deploy.targets import managed_watch
from pilot_tui.deploy.targets.cloud_run.listing import (
    delete_revision_request,
    listed_revisions,
    own_revisions,
    previews_service_name,
    revision_state,
    tag_for,
    tagged_traffic,
)
from pilot_tui.deploy.targets.cloud_run.service import (
    RESERVED_ENV,
    CloudRunService,
    create_service_request,
    get_service_request,
    log_line,
    log_request,
    open_cloud_run,
    patch_service_request,
    revision_name,
    service_body,
)
from pilot_tui.deploy.targets.managed import (
    LogLine,
    Probe,
    Revision,
    Say,
    TargetError,
    TargetStatus,
)
from pilot_tui.naming import GCP_PREVIEW_OF, GCP_PREVIEWS_OF, PROJECT_LABEL, labels

# Google's sample container: what the previews' service's own address serves.
PLACEHOLDER_IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
CONFLICT_TRIES = 5
CONFLICT = (409, 412)  # the etag a PATCH named is not the service's any more


# -- the targets -----------------------------------------------------------------------
@dataclass
class PreviewsService(CloudRunService):
    """The previews' service of ``app`` itself: made by a first preview deploy, removed
    with the app (its previews' tags first: TaggedPreviewService)."""

    @property
    def owner(self) -> str:
        return self.app

    @property
    def name(self) -> str:
        return previews_service_name(self.project, self.owner)

    def labels(self) -> dict[str, str]:
        """The previews' service's own: whose previews it holds."""
        return {**labels(self.project, self.owner), GCP_PREVIEWS_OF: self.owner}

    def current(self) -> dict[str, Any] | None:
        """The previews' service, or None. TargetError when a service of its name is
        another project's, or not an app's previews' service (a preview named "pv" that an
        earlier Pilot made as a service of its own): nothing of it is changed."""
        found = gone_ok(self.transport, get_service_request(self.url))
        if found is None:
            return None
        said = found.get("labels") or {}
        whose, of = said.get(PROJECT_LABEL), said.get(GCP_PREVIEWS_OF)
        if whose != self.project or of != self.owner:
            what = (
                f"a preview of {said[GCP_PREVIEW_OF]!r} made as a service of its own"
                if said.get(GCP_PREVIEW_OF)
                else f"labelled {PROJECT_LABEL}={whose!r}, {GCP_PREVIEWS_OF}={of!r}"
            )
            raise TargetError(
                f"Cloud Run service {self.name} is not the previews' service of "
                f"{self.owner!r} in project {self.project!r} ({what}): nothing of it is "
                "changed; remove it, or rename the app",
            )
        return found

    def destroy(self, say: Say) -> list[str]:
        """The service with every revision left (the app's destroy removed each preview
        first); nothing said when there is none."""
        try:
            found = self.current()
        except TargetError as exc:
            say(f"not removed: {exc}")
            return []
        operation = gone_ok(self.transport, ApiRequest("DELETE", self.url)) if found else None
        if operation is None:
            return []
        self._wait(operation)
        done = [f"deleted Cloud Run service {self.name}, which held {self.owner}'s previews"]
        say(done[0])
        return done


@dataclass
class TaggedPreviewService(PreviewsService):
    """One preview (``preview``; ``app`` its APP--NAME) as its tag on the app's previews'
    service. It runs as the previews' account and reads the previews' secrets
    (CloudRunService.runs_as and secrets, as for any preview)."""

    @property
    def owner(self) -> str:
        assert self.preview is not None, "a tagged preview always names its preview"
        return self.preview.app

    @property
    def tag(self) -> str:
        assert self.preview is not None
        return tag_for(self.preview.name)

    def revision_labels(self) -> dict[str, str]:
        """A preview's revision's: whose preview it is and when it expires."""
        assert self.preview is not None
        return {**labels(self.project, self.app), **self.preview.labels(GCP_LABEL_KEYS)}

    def ensure_service(self, say: Say) -> dict[str, Any]:
        """The previews' service, made when there is none (its own address serving the
        placeholder)."""
        found = self.current()
        if found is not None:
            return found
        body = service_body(
            PLACEHOLDER_IMAGE,
            {},
            revision_name(self.name, "placeholder"),
            self.settings,
            self.labels(),
            runtime_account=self.runs_as(),
        )
        try:
            operation = self.transport(create_service_request(self.url, body))
        except ApiError as exc:
            if exc.status != 409:  # made meanwhile, by another preview's deploy
                raise self.refused(exc) from exc
        else:
            say(f"creating Cloud Run service {self.name}, which holds {self.owner}'s previews")
            self._wait(operation)
        made = self.current()
        if made is None:
            raise TargetError(f"Cloud Run service {self.name} was made, but cannot be read")
        return made

    def watch_over(self, say: Say) -> None:
        """Nothing: a preview is never watched, and the tags on its service are the other
        previews' (CloudRunService.watch_over would drop them all)."""

    def _free_revision(self, release: str) -> str:
        return super()._free_revision(f"{self.tag}-{release}")

    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        service = self.ensure_service(say)
        dropped = sorted(RESERVED_ENV & env.keys())
        if dropped:
            say(f"not setting {', '.join(dropped)}: Cloud Run sets it itself")
        refs = self.secrets.store({k: v for k, v in env.items() if k not in RESERVED_ENV}, say)
        revision = self._free_revision(release)
        template = service_body(
            image, env, revision, self.settings, self.revision_labels(), refs, self.runs_as()
        )["template"]
        self.secrets.grant(refs, template.get("serviceAccount"), say)
        for attempt in range(1, CONFLICT_TRIES + 1):
            body = {
                "labels": self.labels(),
                "template": template,
                "traffic": tagged_traffic(service, self.tag, revision),
                "etag": service.get("etag", ""),
            }
            try:
                operation = self.transport(patch_service_request(self.url, body))
                break
            except ApiError as exc:
                if exc.status not in CONFLICT or attempt == CONFLICT_TRIES:
                    raise self.refused(exc) from exc
                say(f"{self.name} changed meanwhile (another preview's deploy): trying again")
                service = self.ensure_service(say)
        say(f"deploying revision {revision} of {self.name}, tagged {self.tag}")
        self._wait(operation)
        self.ensure_access(say)
        url = self._tag_status(self.transport(get_service_request(self.url))).get("uri", "")
        return Revision(revision, str(url), f"revision {revision} of {self.name} (tag {self.tag})")

    def pruner_role(self) -> str | None:
        """The Pilot Server's account may drop an expired preview's tag (and delete its
        revisions), never delete the service: the tag pruner role."""
        return self.pruner.tag_role if self.pruner else None

    def pruner_granted(self, account: str) -> str:
        return (
            f"the Pilot Server ({account}) may remove {self.owner}'s previews from "
            f"{self.name} when their TTL runs out"
        )

    def _tag_status(self, service: dict[str, Any]) -> dict[str, Any]:
        return next((s for s in service.get("trafficStatuses", []) if s.get("tag") == self.tag), {})

    def _move_tag(self, revision: str | None, say: Say) -> None:
        """``tag`` on ``revision`` (None: dropped), on the service as read, read again when
        another deploy changed it meanwhile."""
        for attempt in range(1, CONFLICT_TRIES + 1):
            service = self.current()
            if service is None:
                return
            if revision is None and not self._tag_status(service):
                return  # no tag to drop
            body = {"traffic": tagged_traffic(service, self.tag, revision)}
            request = ApiRequest(
                "PATCH",
                self.url,
                params={"updateMask": "traffic"},
                body={**body, "etag": service.get("etag", "")},
            )
            try:
                self._wait(self.transport(request))
                return
            except ApiError as exc:
                if exc.status not in CONFLICT or attempt == CONFLICT_TRIES:
                    raise
                say(f"{self.name} changed meanwhile (another preview's deploy): trying again")

    def activate(self, ref: str, say: Say, *, wait: bool = True) -> Revision:
        if gone_ok(self.transport, ApiRequest("GET", f"{self.url}/revisions/{ref}")) is None:
            raise TargetError(f"service {self.name} has no revision {ref} any more")
        self._move_tag(ref, say)
        url = self._tag_status(self.transport(get_service_request(self.url))).get("uri", "")
        say(f"tag {self.tag} of {self.name} on revision {ref}")
        return Revision(ref, str(url), f"revision {ref} of {self.name} (tag {self.tag})")

    def serving(self) -> str | None:
        try:
            service = self.current()
        except Exception:  # unknown: the caller decides on its own record
            return None
        revision = self._tag_status(service or {}).get("revision")
        return str(revision) if revision else None

    def status(self) -> TargetStatus:
        service = self.current()
        status = self._tag_status(service or {})
        if not status:
            return TargetStatus("not deployed", "-")
        url = str(status.get("uri") or "-")
        revision = str(status.get("revision", ""))
        found = gone_ok(self.transport, ApiRequest("GET", f"{self.url}/revisions/{revision}"))
        state = revision_state(found) if found is not None else "its revision is gone"
        detail = f"revision {revision} of {self.name}, tagged {self.tag}"
        return TargetStatus("healthy" if state == "ready" else f"unhealthy ({state})", url, detail)

    def probe(self, path: str, revision: str | None = None) -> Probe:
        try:
            service = self.current()
        except Exception as exc:  # the API, credentials: no verdict
            return Probe(None, f"the service could not be read: {str(exc)[:120]}")
        base = str(self._tag_status(service or {}).get("uri") or "")
        if not base:
            return Probe(None, f"tag {self.tag} of {self.name} has no address to ask")
        return managed_watch.http_probe(base.rstrip("/") + path)

    def _revisions(self) -> list[str]:
        assert self.preview is not None
        found = listed_revisions(self.transport, self.gcp_project, self.region, self.name)
        return own_revisions(found, self.project, self.preview)

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        revisions = self._revisions() if self.current() is not None else []
        if not revisions:
            return
        request = log_request(self.gcp_project, self.name, since, limit, revisions)
        found = self.transport(request)
        lines = [log_line(e) for e in found.get("entries", [])]
        if since is None:
            lines.reverse()  # asked newest first: the most recent ``limit`` lines
        yield from (lines[-limit:] if since is None else lines[:limit])

    def destroy(self, say: Say) -> list[str]:
        """Its tag, then its revisions. The previews' service stays (the app's other
        previews), and so do the previews' secrets (they share them)."""
        try:
            service = self.current()
        except TargetError as exc:
            say(f"not removed: {exc}")
            return []
        if service is None:
            return []
        tagged = bool(self._tag_status(service))
        self._move_tag(None, say)
        deleted = []
        for name in self._revisions():
            operation = gone_ok(self.transport, delete_revision_request(self.url, name))
            if operation is not None:
                self._wait(operation)
                deleted.append(name)
        if not tagged and not deleted:
            return []
        count = f"{len(deleted)} revision" + ("" if len(deleted) == 1 else "s")
        done = [f"removed tag {self.tag} of Cloud Run service {self.name} and its {count}"]
        say(done[0])
        return done


def open_tagged_preview(
    config: PilotConfig, state_dir: Path, root: Path, app: AppSettings, preview: Preview
) -> TaggedPreviewService:
    """``preview`` (``app`` its copy) as its tag on its app's previews' service, as
    open_cloud_run opens a service: as the deployer, the Pilot Server allowed to prune."""
    opened = open_cloud_run(config, state_dir, root, app, preview)
    return TaggedPreviewService(
        opened.transport,
        opened.gcp_project,
        opened.region,
        opened.project,
        opened.app,
        opened.settings,
        interval=opened.interval,
        secret_names=opened.secret_names,
        preview=preview,
        pruner=opened.pruner,
    )
