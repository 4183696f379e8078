"""Removing one app's resources through its target's own destroy: the one place `app
destroy` and `server destroy` ask it (a site's bucket and CDN, a function, a service, and
the images Pilot pushed for it; an app on a Docker host, its containers and route)."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.cloud import aws_errors, gcp_api
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.context import Context, ProjectContext, Say
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import Target


def destroy_app(
    config: PilotConfig, state_dir: Path, root: Path, app: AppSettings, say: Say
) -> list[str]:
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
        refusal = aws_errors.refusal(exc) or gcp_api.library_refusal(exc)
        if refusal is None:
            raise
        raise TargetError(
            f"removing it from {target.kind} stopped: {refusal}; what was removed before "
            "is said above, and running the destroy again retries the rest"
        ) from exc
