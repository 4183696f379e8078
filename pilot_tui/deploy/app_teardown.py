"""Removing one app's resources through its target's own destroy: the one place `app
destroy` and `server destroy` ask it (a site's bucket and CDN, a function, a service, and
the images Pilot pushed for it; an app on a Docker host, its containers and route)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_tui.deploy.context import ProjectContext, Say
from pilot_tui.deploy.targets import target_for


def destroy_app(config: Any, state_dir: Path, root: Path, app: Any, say: Say) -> list[str]:
    """Remove what ``app``'s target made (idempotent); what was removed, one line each, also
    said through ``say``. No Docker host is opened here: an app on one is left to `server
    destroy`'s containers step (`app destroy` gives its target the open host). Raises one
    of targets.failures() when the cloud refuses."""
    return target_for(app).destroy(ProjectContext(config, state_dir, root), say)
