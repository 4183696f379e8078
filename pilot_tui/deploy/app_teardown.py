"""Removing one app's cloud resources, whatever its managed target: the one place `app
destroy` and `server destroy` ask each target's own destroy (a site's bucket and CDN, a
function, a service) and then the images Pilot pushed for it.

Apps on a Docker host (target "server") are containers: see server_target.remove_app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_tui.deploy.targets.managed import CONTAINER_TARGETS, Say

SITE_TARGETS = ("s3-cloudfront", "gcs-cdn")


def destroy_app(config: Any, state_dir: Path, root: Path, app: Any, say: Say) -> list[str]:
    """Remove what ``app``'s managed target made (idempotent); what was removed, one line
    each, also said through ``say``. Raises TargetError / SiteError when the cloud refuses."""
    kind = app.target.kind
    if config.server.home == "sandbox" and kind != "server":
        from pilot_tui.sandbox import STOPPED, Sandbox

        if not Sandbox(state_dir).running():  # not started just to find nothing
            say(f"{STOPPED}: nothing of {app.name} is left to remove")
            return []
    if kind in SITE_TARGETS:
        from pilot_tui.deploy.targets.sites import open_site

        site = open_site(config, state_dir, root, app)
        done = site.destroy()
        for line in done:
            say(line)
        return done
    if kind not in CONTAINER_TARGETS:
        return []
    from pilot_tui.deploy.targets.managed import aws_clients, open_target, resource_name

    done = list(open_target(config, state_dir, root, app).destroy(say))
    if kind in ("ecs", "lambda"):  # the images Pilot pushed for it
        from pilot_tui.deploy.registry import delete_ecr_repository

        repository = resource_name(config.project.name, app.name)
        if delete_ecr_repository(aws_clients(config, state_dir)("ecr"), repository):
            done.append(f"deleted ECR repository {repository}")
            say(done[-1])
    else:
        from pilot_tui.deploy.artifact_registry import delete_images
        from pilot_tui.deploy.gcp_api import authorized_transport, deploy_key

        transport = authorized_transport(deploy_key(config, root), config.gcp.project)
        if delete_images(
            transport, config.gcp.project, config.gcp.region, config.project.name, app.name
        ):
            done.append(f"deleted {app.name}'s images in Artifact Registry")
            say(done[-1])
    return done
