"""The platform at a glance: the proxy, and each app's live release, health and URL.

One function for `pilot-tui status` and the app's home screen. Each app's target says how
it is (targets/base.py Target.status): an app on the Docker host is asked at its live
release's own container, a managed target of its cloud, a static site in the sandbox at its
address on this machine (addresses.py)."""

from __future__ import annotations

import contextlib

from pilot_tui.deploy.context import Context
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import AppStatus
from pilot_tui.deploy.targets.docker_host import containers

__all__ = ["AppStatus", "statuses"]


def statuses(engine: Context) -> tuple[str, list[AppStatus]]:
    """(the proxy's state, one AppStatus per app) for a Deployer (or any Context) with the
    Docker host open when some app runs on it."""
    proxy = None
    with contextlib.suppress(Exception):  # docker.errors.NotFound: not started yet
        if engine.client is not None:
            proxy = engine.client.containers.get(containers.PROXY_NAME)
    rows = [target_for(app).status(engine) for app in engine.config.apps]
    return (proxy.status if proxy is not None else "not started"), rows
