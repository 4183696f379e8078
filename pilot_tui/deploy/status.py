"""The platform at a glance: the proxy, and each app's live release, health and URL.

One function for `pilot-tui status` and the app's home screen. Health is asked of the live
release's own container: its state on the engine, then its health path at its address on
the private network, from inside the proxy container (see server_target.http_check). A
static site in the sandbox is asked at its address on this machine (addresses.py)."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.addresses import SITE_EMULATORS
from pilot_tui.deploy.targets.docker_host import containers as server_target
from pilot_tui.deploy.targets.managed import CONTAINER_TARGETS, target_status


@dataclass(frozen=True)
class AppStatus:
    app: str
    release: str  # "-" when never deployed
    health: str  # healthy | unhealthy (...) | stopped | not deployed | managed target
    url: str  # what answers, "-" when nothing does
    simulated: str = ""  # in the sandbox: the address its cloud made up (addresses.py)

    def where(self) -> str:
        return addresses.Address("" if self.url == "-" else self.url, self.simulated).text()

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
            where = addresses.for_app(
                engine.config, engine.state_dir, app, "" if state.url == "-" else state.url
            )
            rows.append(
                AppStatus(
                    app.name,
                    live.id if live else "-",
                    state.health,
                    where.url or "-",
                    where.simulated,
                )
            )
            continue
        if app.target.kind != "server":  # a static site: its bucket serves what was uploaded
            rows.append(_site_status(engine, app))
            continue
        live = history.live_release(engine.state_dir, app.name)
        health = "not deployed" if live is None else _server_health(engine, proxy, app, live)
        rows.append(
            AppStatus(app.name, live.id if live else "-", health, engine.url(app) if live else "-")
        )
    return (proxy.status if proxy is not None else "not started"), rows


def _site_status(engine: Any, app: Any) -> AppStatus:
    """A real bucket is served by its CDN (not asked); in the sandbox the site's local
    address is asked, as a browser on this machine would."""
    live = history.live_release(engine.state_dir, app.name)
    if live is None:
        return AppStatus(app.name, "-", "not deployed", "-")
    where = addresses.of_release(live)
    if not where.simulated:
        return AppStatus(app.name, live.id, "managed target", where.url or "-")
    from pilot_tui.sandbox import Sandbox

    if SITE_EMULATORS[app.target.kind] not in Sandbox(engine.state_dir).running():
        return AppStatus(
            app.name,
            live.id,
            "stopped (the sandbox's emulators are not running; deploy again)",
            "-",
            where.simulated,
        )
    return AppStatus(app.name, live.id, _answers(where.url), where.url or "-", where.simulated)


def _answers(url: str) -> str:
    """healthy when ``url`` answers 2xx/3xx, else why not."""
    if not url:
        return "unhealthy (no address on this machine: deploy again)"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return "healthy"
    except urllib.error.HTTPError as exc:
        return f"unhealthy (HTTP {exc.code} at {url})"
    except OSError as exc:
        return f"unhealthy ({exc} at {url})"


def _server_health(engine: Any, proxy: Any, app: Any, live: history.Release) -> str:
    """The live release's own container: stopped, restarting, or what its health path says
    (restarts of a running one are not held against it here: a reboot restarts them all)."""
    containers = [
        c
        for c in server_target.app_containers(engine.client, engine.project, app.name)
        if c.labels.get("pilot.release") == live.id
    ]
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
    ok, detail = server_target.http_check(
        proxy, where, live.port or app.target.port, app.target.health_path
    )
    return "healthy" if ok else f"unhealthy ({detail})"
