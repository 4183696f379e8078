"""Removing one app's cloud resources, whatever its managed target: the one place `app
destroy` and `server destroy` ask each target's own destroy (a site's bucket and CDN, a
function, a service) and then the images Pilot pushed for it.

Apps on a Docker host (target "server") are containers: see server_target.remove_app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_tui.deploy.managed import CONTAINER_TARGETS, Say

SITE_TARGETS = ("s3-cloudfront", "gcs-cdn")


def destroy_app(config: Any, state_dir: Path, root: Path, app: Any, say: Say) -> list[str]:
    """Remove what ``app``'s managed target made (idempotent); what was removed, one line
    each, also said through ``say``. Raises TargetError / SiteError when the cloud refuses
    (a cloud library's own error becomes a TargetError naming the call refused)."""
    from pilot_tui.deploy.managed import TargetError

    try:
        return _destroy_app(config, state_dir, root, app, say)
    except Exception as exc:
        refusal = cloud_refusal(exc)
        if refusal is None:
            raise
        raise TargetError(
            f"removing it from {app.target.kind} stopped: {refusal}; what was removed before "
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


def _destroy_app(config: Any, state_dir: Path, root: Path, app: Any, say: Say) -> list[str]:
    kind = app.target.kind
    if config.server.home == "sandbox" and kind != "server":
        from pilot_tui.cloud.sandbox import STOPPED, Sandbox

        if not Sandbox(state_dir).running():  # not started just to find nothing
            say(f"{STOPPED}: nothing of {app.name} is left to remove")
            return []
    if kind in SITE_TARGETS:
        from pilot_tui.deploy.sites import open_site

        site = open_site(config, state_dir, root, app)
        done = site.destroy()
        for line in done:
            say(line)
        return done
    if kind not in CONTAINER_TARGETS:
        return []
    from pilot_tui.deploy.managed import aws_clients, open_target
    from pilot_tui.naming import resource_name

    done = list(open_target(config, state_dir, root, app).destroy(say))
    if kind in ("ecs", "lambda"):  # the images Pilot pushed for it
        from pilot_tui.deploy.registry import delete_ecr_repository

        repository = resource_name(config.project.name, app.name)
        if delete_ecr_repository(aws_clients(config, state_dir)("ecr"), repository):
            done.append(f"deleted ECR repository {repository}")
            say(done[-1])
    else:
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy.artifact_registry import delete_images

        transport = google_transport(config, root)
        if delete_images(
            transport, config.gcp.project, config.gcp.region, config.project.name, app.name
        ):
            done.append(f"deleted {app.name}'s images in Artifact Registry")
            say(done[-1])
    return done
