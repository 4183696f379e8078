"""Removing one app's resources through its target's own destroy: the one place `app
destroy` and `server destroy` ask it (a site's bucket and CDN, a function, a service, and
the images Pilot pushed for it; an app on a Docker host, its containers and route)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_tui.deploy.context import Context, ProjectContext, Say
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import Target


def destroy_app(config: Any, state_dir: Path, root: Path, app: Any, say: Say) -> list[str]:
    """Remove what ``app``'s target made (idempotent); what was removed, one line each, also
    said through ``say``. No Docker host is opened here: an app on one is left to `server
    destroy`'s containers step (`app destroy` gives its target the open host). Raises a
    PilotError when the cloud refuses (see destroy)."""
    return destroy(target_for(app), ProjectContext(config, state_dir, root), say)


def destroy(target: Target, ctx: Context, say: Say) -> list[str]:
    """``target.destroy(ctx, say)``, a cloud library's own error turned into a TargetError
    naming the call refused (`app destroy` and `server destroy` both come through here)."""
    from pilot_tui.deploy.targets.managed import TargetError

    try:
        return target.destroy(ctx, say)
    except Exception as exc:
        refusal = cloud_refusal(exc)
        if refusal is None:
            raise
        raise TargetError(
            f"removing it from {target.kind} stopped: {refusal}; what was removed before "
            "is said above, and running the destroy again retries the rest"
        ) from exc


def cloud_refusal(exc: BaseException) -> str | None:
    """One line for a cloud library's error (None: not one): the call and the cloud's own
    code and words, never a response body."""
    from pilot_tui import redact

    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        BotoCoreError = ClientError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        code = str(error.get("Code") or status or "no code")
        message = str(error.get("Message") or "")
        if message.lstrip().startswith("<"):  # an unparsed XML body: keep its own words
            import re

            found = re.search(r"<Code>([^<]*)</Code>.*?<Message>([^<]*)</Message>", message, re.S)
            code, message = (f"{code} {found[1]}", found[2]) if found else (code, "")
        words = f": {message}" if message else ""
        return redact.text(f"AWS refused {exc.operation_name} ({code}{words})")[:400]
    if isinstance(exc, BotoCoreError):
        return redact.text(f"AWS could not be asked: {exc}")[:400]
    try:
        from google.api_core.exceptions import GoogleAPIError
    except ImportError:  # pragma: no cover - only with the gcp extra
        return None
    if isinstance(exc, GoogleAPIError):
        return redact.text(f"Google Cloud refused: {exc}")[:400]
    return None
