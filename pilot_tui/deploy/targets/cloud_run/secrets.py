"""An app's secrets for Cloud Run: kept in Secret Manager, referenced by the service.

A plain env value in the service's template is readable by anyone who may read the
service, so each secret goes into its own Secret Manager secret
(``pilot-{project}-{app}-{name}``) and the container's env names it with a secretKeyRef
pinned to a version number: a rollback to an older revision then gets the value that
revision was deployed with. The app's previews share secrets of their own
(``pilot-{project}-{app}-preview_{name}``, naming.preview_secret_id), which setup makes
and lets only the previews' account read: a preview never reads the app's.

No Secret Manager emulator exists, so, as for Cloud Run, every call is built as data by
the pure functions below and sent by a gcp_api.Transport. Secret values travel only in
addVersion (and come back from access); they are registered with redact when read and
never put in a message."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pilot_tui import redact
from pilot_tui.cloud.gcp_api import (
    ApiError,
    ApiRequest,
    Transport,
    every_page,
    exists_ok,
    gone_ok,
)
from pilot_tui.cloud.gcp_resources import create_secret_request, secret_url, secrets_url
from pilot_tui.cloud.identity_gcp import ACCESSOR, NEEDS_SETUP, default_runtime_account, with_member
from pilot_tui.deploy.targets.managed import Say, TargetError
from pilot_tui.naming import APP_LABEL, PROJECT_LABEL, labels, preview_secret_id, secret_id

CRM = "https://cloudresourcemanager.googleapis.com/v1/"


@dataclass(frozen=True)
class SecretRef:
    """Where a revision reads one env var: a secret and a pinned version number."""

    secret: str  # the secret id (same project as the service)
    version: str  # "1", "2", ... never "latest": the revision keeps its value


# -- requests as data ------------------------------------------------------------------
def get_secret_request(gcp_project: str, secret: str) -> ApiRequest:
    """The secret's metadata (never a value)."""
    return ApiRequest("GET", secret_url(gcp_project, secret))


def access_latest_request(gcp_project: str, secret: str) -> ApiRequest:
    return ApiRequest("GET", f"{secret_url(gcp_project, secret)}/versions/latest:access")


def add_version_request(gcp_project: str, secret: str, value: str) -> ApiRequest:
    """The only request that carries a secret value."""
    data = base64.b64encode(value.encode()).decode()
    return ApiRequest(
        "POST", f"{secret_url(gcp_project, secret)}:addVersion", body={"payload": {"data": data}}
    )


def list_secrets_request(gcp_project: str, project: str, app: str) -> ApiRequest:
    """The app's secrets, by their labels (the first page: gcp_api.every_page asks the rest)."""
    params = {"filter": f"labels.{PROJECT_LABEL}={project} AND labels.{APP_LABEL}={app}"}
    return ApiRequest("GET", secrets_url(gcp_project), params=params)


def delete_secret_request(gcp_project: str, secret: str) -> ApiRequest:
    return ApiRequest("DELETE", secret_url(gcp_project, secret))


def get_secret_policy_request(gcp_project: str, secret: str) -> ApiRequest:
    return ApiRequest("GET", f"{secret_url(gcp_project, secret)}:getIamPolicy")


def set_secret_policy_request(gcp_project: str, secret: str, policy: dict[str, Any]) -> ApiRequest:
    return ApiRequest(
        "POST", f"{secret_url(gcp_project, secret)}:setIamPolicy", body={"policy": policy}
    )


def project_request(gcp_project: str) -> ApiRequest:
    """Cloud Resource Manager's project: its projectNumber names the default account."""
    return ApiRequest("GET", f"{CRM}projects/{gcp_project}")


def with_accessor(policy: dict[str, Any], member: str) -> dict[str, Any] | None:
    """``policy`` with ``member`` as secretAccessor, or None when it already is."""
    return with_member(policy, [ACCESSOR], member)


def secret_env(name: str, ref: SecretRef) -> dict[str, Any]:
    """A container env entry that Cloud Run fills from Secret Manager at start."""
    return {
        "name": name,
        "valueSource": {"secretKeyRef": {"secret": ref.secret, "version": ref.version}},
    }


def hide(value: str) -> None:
    """Mask a value from now on, and its base64 form: the one addVersion sends (an API
    error echoing the request would carry that)."""
    redact.register([value, base64.b64encode(value.encode()).decode()])


# -- reading answers -------------------------------------------------------------------
def version_number(answer: dict[str, Any]) -> str:
    """``projects/123/secrets/s/versions/4`` -> ``4``."""
    return str(answer.get("name", "")).rpartition("/")[2]


def payload_text(answer: dict[str, Any]) -> str | None:
    """The value of an access answer; None when it is not text Pilot could have stored."""
    try:
        return base64.b64decode(answer.get("payload", {}).get("data", ""), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


# -- the app's secrets -----------------------------------------------------------------
@dataclass
class CloudRunSecrets:
    transport: Transport
    gcp_project: str
    project: str
    app: str  # for a preview: the app it previews (its secrets are labelled that app's)
    names: tuple[str, ...] = ()  # env var names whose values are secret
    previews: bool = False  # the app's previews' secrets, not the app's own

    def labels(self) -> dict[str, str]:
        return labels(self.project, self.app)

    def secret_for(self, name: str) -> str:
        """The Secret Manager id env var ``name`` is kept in."""
        if self.previews:
            return preview_secret_id(self.project, self.app, name)
        return secret_id(self.project, self.app, name)

    def _fail(
        self,
        exc: ApiError,
        what: str,
        needs: str = "roles/secretmanager.admin, and the project the Secret Manager API enabled",
    ) -> TargetError:
        """Named by secret, never by value (redact masks one an answer might echo)."""
        hint = f" (the deployer needs {needs})" if exc.status == 403 else ""
        return TargetError(f"{what}: HTTP {exc.status}: {redact.text(exc.api_message)}{hint}")

    def store(self, env: dict[str, str], say: Say) -> dict[str, SecretRef]:
        """{NAME: SecretRef} for each secret set (non-empty) in ``env``, a version added
        only when the value differs from the latest one (so redeploys add none)."""
        names = sorted(n for n in set(self.names) if env.get(n))
        for name in names:
            hide(env[name])
        ids = {n: self.secret_for(n) for n in names}
        if len(set(ids.values())) < len(ids):
            raise TargetError(
                f"app {self.app}: secrets {', '.join(names)} do not map to "
                "distinct Secret Manager ids (they differ only by case or _)"
            )
        refs = {}
        for name in names:
            secret = ids[name]
            try:
                refs[name] = self._store_one(secret, env[name], say, name)
            except ApiError as exc:
                raise self._fail(exc, f"secret {name} (Secret Manager {secret})") from exc
        return refs

    def _store_one(self, secret: str, value: str, say: Say, name: str) -> SecretRef:
        # Read first: setup makes the secrets pilot.toml names and grants the deployer each
        # one, but no create on the project (a create of an existing one answers 403 then).
        created = False
        if gone_ok(self.transport, get_secret_request(self.gcp_project, secret)) is None:
            try:
                created = (
                    exists_ok(
                        self.transport,
                        create_secret_request(self.gcp_project, secret, self.labels()),
                    )
                    is not None
                )
            except ApiError as exc:
                if exc.status != 403:
                    raise
                raise TargetError(
                    f"secret {name}: Secret Manager {secret} does not exist "
                    f"and the deployer may not create it; {NEEDS_SETUP}"
                ) from None
        latest = None if created else self._latest(secret)
        if latest is not None:
            old = payload_text(latest)
            if old is not None:
                hide(old)
            if old == value:
                return SecretRef(secret, version_number(latest))
        added = self.transport(add_version_request(self.gcp_project, secret, value))
        ref = SecretRef(secret, version_number(added))
        say(
            f"{'stored' if latest is None else 'updated'} secret {name} in Secret Manager "
            f"{secret} (version {ref.version})"
        )
        return ref

    def _latest(self, secret: str) -> dict[str, Any] | None:
        """The latest version's access answer; None when none can be read: no version
        yet (404), or it is disabled / destroyed (400 FAILED_PRECONDITION)."""
        try:
            return self.transport(access_latest_request(self.gcp_project, secret))
        except ApiError as exc:
            if exc.status in (400, 404):
                return None
            raise

    def grant(self, refs: dict[str, SecretRef], service_account: str | None, say: Say) -> None:
        """Let the revision's runtime account read each secret, before the revision
        starts (it fails to start otherwise). One project lookup, only when needed."""
        if not refs:
            return
        account = service_account
        if not account:
            try:
                found = self.transport(project_request(self.gcp_project))
            except ApiError as exc:
                raise self._fail(
                    exc,
                    f"project {self.gcp_project} (its number names the "
                    "default Cloud Run runtime account)",
                    "resourcemanager.projects.get",
                ) from exc
            account = default_runtime_account(str(found["projectNumber"]))
        member = f"serviceAccount:{account}"
        for name, ref in sorted(refs.items()):
            try:
                policy = self.transport(get_secret_policy_request(self.gcp_project, ref.secret))
                wanted = with_accessor(policy, member)
                if wanted is None:
                    continue
                self.transport(set_secret_policy_request(self.gcp_project, ref.secret, wanted))
            except ApiError as exc:
                raise self._fail(
                    exc, f"secret {name}: letting {account} read {ref.secret}"
                ) from exc
            say(f"allowed {account} to read secret {ref.secret}")

    def destroy(self) -> list[str]:
        """Delete all the app's secrets, also of names no longer in pilot.toml; the ids
        deleted (no value is read)."""
        prefix = secret_id(self.project, self.app, "")
        listing = list_secrets_request(self.gcp_project, self.project, self.app)
        try:
            found = [
                s["name"].rpartition("/")[2]
                for s in every_page(self.transport, listing.url, listing.params or {}, "secrets")
            ]
            # The prefix guards against a hand-made secret that copied Pilot's labels.
            ours = sorted(s for s in found if s.startswith(prefix))
            deleted = [
                s
                for s in ours
                if gone_ok(self.transport, delete_secret_request(self.gcp_project, s)) is not None
            ]
        except ApiError as exc:
            raise self._fail(exc, f"Secret Manager secrets {prefix}*") from exc
        return [f"deleted Secret Manager secret {s}" for s in deleted]
