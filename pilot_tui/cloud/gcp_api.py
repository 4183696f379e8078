"""Google Cloud REST calls as data: an ApiRequest is built by a pure function, a Transport
sends it. Only the GCS emulator exists here (no Cloud Run, Artifact Registry, Logging or
Compute emulator), so the targets build requests as data and tests drive them through a
recording fake transport; ``authorized_transport`` is the one real sender.

google-auth is imported only inside functions: the core imports without it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.cloud.errors import CloudError

if TYPE_CHECKING:
    import requests
    from google.auth.credentials import Credentials

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT = 60  # seconds per HTTP request


@dataclass(frozen=True)
class ApiRequest:
    method: str
    url: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


Transport = Callable[[ApiRequest], dict[str, Any]]


class ApiError(CloudError):
    """A non-2xx answer: ``status`` lets callers treat 404 / 409 as "gone" / "exists"."""

    def __init__(self, status: int, message: str, request: ApiRequest) -> None:
        self.status = status
        self.api_message = message
        where = request.url.split("?")[0]
        super().__init__(f"{request.method} {where}: HTTP {status}: {message}")


def error_message(text: str) -> str:
    """The API's own message from a Google error body ({"error": {"message": ...}}), else
    the start of the body."""
    try:
        data = json.loads(text)
    except ValueError:
        return redact.clip(text.strip(), 300) or "(no message)"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return redact.clip(str(error["message"]), 500)
    if isinstance(error, str):  # OAuth endpoints: {"error": "invalid_grant", ...}
        return f"{error}: {data.get('error_description', '')}".strip(": ")
    return redact.clip(text.strip(), 300)


def parse_response(request: ApiRequest, status: int, text: str) -> dict[str, Any]:
    """The JSON of a 2xx answer ({} when empty); ApiError otherwise, masked by redact."""
    if not 200 <= status < 300:
        raise ApiError(status, redact.text(error_message(text)), request)
    if not text.strip():
        return {}
    data = json.loads(text)
    return data if isinstance(data, dict) else {"items": data}


def library_refusal(exc: BaseException) -> str | None:
    """One line for a Google client library's error (google-cloud-storage's; None: not
    one, or the library is not installed)."""
    try:
        from google.api_core.exceptions import GoogleAPIError
    except ImportError:  # pragma: no cover - only with the gcp extra
        return None
    if isinstance(exc, GoogleAPIError):
        return redact.clip(f"Google Cloud refused: {exc}", 400)
    return None


def key_path(credentials: str | None, root: Path) -> str | None:
    """gcp.credentials resolved like clients.gcs_client does: relative to the project
    root, ~ expanded. None means Application Default Credentials."""
    if not credentials:
        return None
    return str((root / Path(credentials).expanduser()).resolve())


def google_credentials(credentials_path: str | None) -> Credentials:
    """Credentials with the cloud-platform scope: the key file, else the default ones."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    from google.oauth2 import service_account

    try:
        if credentials_path:
            return service_account.Credentials.from_service_account_file(
                credentials_path, scopes=[SCOPE]
            )
        found, _ = google.auth.default(scopes=[SCOPE])
        return found
    except (OSError, ValueError, DefaultCredentialsError) as exc:
        where = credentials_path or "Application Default Credentials"
        raise CloudError(f"Google credentials ({where}): {exc}") from exc


def session_transport(session: requests.Session, project: str | None) -> Transport:
    """A Transport over a requests-like session (an AuthorizedSession in production). The
    current access token is registered with redact, so it is masked should an answer ever
    echo it; it never reaches a message otherwise (it travels only in a header)."""

    def send(request: ApiRequest) -> dict[str, Any]:
        try:
            response = session.request(
                request.method,
                request.url,
                json=request.body,
                params=request.params,
                timeout=TIMEOUT,
            )
        except Exception as exc:  # network / token refresh: no HTTP status to report
            token = getattr(getattr(session, "credentials", None), "token", None)
            if token:
                redact.register([token])
            raise CloudError(
                f"{request.method} {request.url.split('?')[0]} "
                f"(project {project}): {redact.clip(str(exc), 300)}"
            ) from exc
        token = getattr(getattr(session, "credentials", None), "token", None)
        if token:
            redact.register([token])
        return parse_response(request, response.status_code, response.text)

    return send


def authorized_transport(credentials_path: str | None, project: str | None) -> Transport:
    """The real sender: google-auth credentials in an AuthorizedSession (tokens refreshed
    as needed). ``project`` names the GCP project in connection errors."""
    from google.auth.transport.requests import AuthorizedSession

    return session_transport(AuthorizedSession(google_credentials(credentials_path)), project)


def _compute_style(operation: dict[str, Any]) -> bool:
    """Compute Engine's own Operation (status PENDING/RUNNING/DONE, a selfLink) rather
    than google.longrunning's (done: true)."""
    return "status" in operation and "selfLink" in operation


def _operation_error(operation: dict[str, Any]) -> str | None:
    error = operation.get("error")
    if not error:
        return None
    if "errors" in error:  # Compute: {"errors": [{"code", "message"}]}
        return "; ".join(str(e.get("message", e.get("code", ""))) for e in error["errors"])
    return str(error.get("message") or error)


def operation_done(operation: dict[str, Any]) -> bool:
    if _compute_style(operation):
        return operation.get("status") == "DONE"
    return bool(operation.get("done"))


def wait_operation(
    transport: Transport,
    operation: dict[str, Any],
    *,
    api: str = "https://run.googleapis.com/v2/",
    timeout: float = 600,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    stopped: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Poll a long-running operation until it is done; its ``response`` (longrunning) or
    the final operation (Compute, Cloud SQL). ``api`` is the base a longrunning
    operation's name is relative to (Cloud Run, Artifact Registry). An operation error, a
    timeout or ``stopped`` (a person asked to stop waiting) is a CloudError."""
    deadline = clock() + timeout
    name = operation.get("name", "?")
    while not operation_done(operation):
        if stopped():
            raise CloudError(f"stopped while operation {name} was still running")
        if clock() > deadline:
            raise CloudError(f"operation {name} still running after {timeout:.0f}s")
        sleep(interval)
        url = operation["selfLink"] if _compute_style(operation) else api + operation["name"]
        operation = transport(ApiRequest("GET", url))
    failed = _operation_error(operation)
    if failed:
        raise CloudError(f"operation {name} failed: {redact.text(failed)}")
    if _compute_style(operation):
        return operation
    return dict(operation.get("response") or {})


def every_page(
    transport: Transport, url: str, params: dict[str, Any], key: str
) -> list[dict[str, Any]]:
    """The items under ``key`` of a GET of ``url`` with ``params``, page after page (each
    answer's nextPageToken asked for as the next pageToken)."""
    found: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        page = transport(ApiRequest("GET", url, params=dict(query)))
        found += page.get(key) or []  # an empty page may say null, or nothing
        token = page.get("nextPageToken")
        if not token:
            return found
        query["pageToken"] = str(token)


def exists_ok(transport: Transport, request: ApiRequest) -> dict[str, Any] | None:
    """Send a create; None when the resource already exists (HTTP 409), which makes
    re-running a setup safe."""
    try:
        return transport(request)
    except ApiError as exc:
        if exc.status == 409:
            return None
        raise


def gone_ok(transport: Transport, request: ApiRequest) -> dict[str, Any] | None:
    """Send a get / delete; None when there is nothing there (HTTP 404)."""
    try:
        return transport(request)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
