"""The platform at a glance: the proxy, and each app's live release, health and URL.

One function for `pilot-tui status` and the app's home screen. Health is asked of the live
release's own container: its state on the engine, then its health path at its address on
the private network, from inside the proxy container (see server_target.http_check)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pilot_tui.deploy import history, server_target
from pilot_tui.deploy.managed import CONTAINER_TARGETS, target_status


@dataclass(frozen=True)
class AppStatus:
    app: str
    release: str  # "-" when never deployed
    health: str  # healthy | unhealthy (...) | stopped | not deployed | managed target
    url: str

    @property
    def ok(self) -> bool:
        return self.health in ("healthy", "not deployed", "managed target")


def statuses(engine: Any) -> tuple[str, list[AppStatus]]:
    """(the proxy's state, one AppStatus per app) for a Deployer with an open client."""
    proxy = None
    with contextlib.suppress(Exception):  # docker.errors.NotFound: not started yet
        proxy = engine.client.containers.get(server_target.PROXY_NAME)
    rows = []
    for app in engine.config.apps:
        if app.target.kind in CONTAINER_TARGETS:  # asked of the cloud
            live = history.live_release(engine.state_dir, app.name)
            state = target_status(engine.config, engine.state_dir, engine.root, app)
            rows.append(AppStatus(app.name, live.id if live else "-", state.health,
                                  state.url))
            continue
        if app.target.kind != "server":  # a static site: its bucket serves what was uploaded
            live = history.live_release(engine.state_dir, app.name)
            rows.append(AppStatus(app.name, live.id if live else "-",
                                  "managed target" if live else "not deployed",
                                  (live.url or "-") if live else "-"))
            continue
        live = history.live_release(engine.state_dir, app.name)
        health = "not deployed" if live is None else _server_health(engine, proxy, app, live)
        rows.append(AppStatus(app.name, live.id if live else "-", health,
                              engine.url(app) if live else "-"))
    return (proxy.status if proxy is not None else "not started"), rows


def _server_health(engine: Any, proxy: Any, app: Any, live: history.Release) -> str:
    """The live release's own container: stopped, restarting, or what its health path says
    (restarts of a running one are not held against it here: a reboot restarts them all)."""
    containers = [c for c in server_target.app_containers(engine.client, engine.project, app.name)
                  if c.labels.get("pilot.release") == live.id]
    if not containers or proxy is None:
        return "stopped"
    container = containers[-1]
    if container.status == "restarting":
        code = container.attrs.get("State", {}).get("ExitCode")
        return f"unhealthy (restarting, exit code {code})"
    if container.status != "running":
        return "stopped"
    if proxy.status != "running":
        return "unhealthy (the proxy is not running)"
    where = server_target.address(container)
    if where is None:
        return "unhealthy (not on the private network: redeploy it)"
    ok, detail = server_target.http_check(proxy, where, live.port or app.target.port,
                                          app.target.health_path)
    return "healthy" if ok else f"unhealthy ({detail})"
