"""Previews past their TTL, removed on the Docker host by the agent, with no laptop: their
routes dropped from the edge (under the edge's routes lock, as a deploy takes it), then
their containers and image tags. The laptop's `preview list` then no longer finds them, and
its next `preview prune` forgets their histories.

The containers' labels (deploy/previews.py) say whose preview each is and when it expires;
the edge's settings come from the agent's settings, written by the last deploy.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pilot_tui.data.agent.engine import Engine, EngineError
from pilot_tui.deploy import previews
from pilot_tui.deploy.targets.docker_host import caddy_config, proxy
from pilot_tui.deploy.targets.docker_host.containers import PROXY_NAME, release_prefix
from pilot_tui.errors import PilotError
from pilot_tui.naming import image_repository

Say = Callable[[str], None]
EVERY = 60.0  # seconds between two looks for expired previews
# This agent container's own id (scheduling.py sets it, and labels the container with it):
# named on the routes lock it takes, so a lock left by an agent replaced while holding it
# is known for one no process will give back (lock.py's AGENT_LOCK_LABEL).
AGENT_ID_ENV = "PILOT_AGENT_ID"
LOCK_WAIT = 30.0  # seconds to wait for a deploy holding the edge's routes lock
ROUTES_LOCK = "pilot-lock-proxy-routes"  # lock.lock_name("proxy", "routes"): one lock


@dataclass(frozen=True)
class Edge:
    """The edge as the project's deploys set it (release.proxy_spec), as the agent's
    settings carry it: a pruned edge keeps exactly those settings."""

    settings: caddy_config.EdgeSettings
    ca_root: bytes | None
    project: str
    image: str  # the edge's image (the routes lock is a container made from it)

    def to_json(self) -> dict[str, object]:
        return {
            "settings": asdict(self.settings),
            "ca_root": self.ca_root.decode() if self.ca_root is not None else None,
            "project": self.project,
            "image": self.image,
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Edge:
        settings = raw["settings"]
        ca_root = raw.get("ca_root")
        if not isinstance(settings, dict):
            raise ValueError("previews.settings is not a table")
        return cls(
            caddy_config.EdgeSettings(**settings),
            ca_root.encode() if isinstance(ca_root, str) else None,
            str(raw["project"]),
            str(raw["image"]),
        )


def expired(engine: Engine, project: str, now: float) -> dict[str, list[str]]:
    """Each expired preview's full name -> its containers' ids; a preview expires by its
    newest container (the last release's)."""
    found = engine.containers([f"pilot.project={project}", previews.PREVIEW_OF], all=True)
    by_name: dict[str, list[tuple[float, str]]] = {}
    for container in found:
        labels = container.get("Labels")
        preview = previews.from_labels(labels) if isinstance(labels, dict) else None
        if preview is not None:
            by_name.setdefault(preview.full, []).append((preview.expires, str(container["Id"])))
    return {
        full: [ident for _, ident in items]
        for full, items in sorted(by_name.items())
        if max(expires for expires, _ in items) <= now
    }


def prune(engine: Engine, project: str, edge: Edge, now: float, say: Say) -> list[str]:
    """Remove the project's expired previews; their full names. What expired is decided
    under the edge's routes lock (a deploy switching a preview's route takes it too), so a
    preview released again meanwhile is never taken for an expired one."""
    with _RoutesLock(engine, edge.image):
        gone = expired(engine, project, now)
        if not gone:
            return []
        _drop_routes(engine, edge, [release_prefix(project, full) for full in gone])
        for containers in gone.values():
            for container in containers:
                engine.remove(container)
    for full in gone:
        for tag in engine.images(image_repository(project, full)):
            engine.remove_image(tag)
        say(f"removed the preview {full}: its TTL ran out")
    names = {split[1] for full in gone if (split := previews.split(full)) is not None}
    _remove_unused_databases(engine, project, say, names)
    return list(gone)


def routes_without(routes: dict[str, str], prefixes: list[str]) -> dict[str, str]:
    """``routes`` (host -> upstream) but those to the containers named ``prefixes`` + vN."""
    own = re.compile("(?:" + "|".join(re.escape(p) for p in prefixes) + r")v\d+:\d+")
    return {host: upstream for host, upstream in routes.items() if not own.fullmatch(upstream)}


def _drop_routes(engine: Engine, edge: Edge, prefixes: list[str]) -> None:
    """The edge without the routes to containers named ``prefixes`` + vN (as
    proxy_container.unroute does for a laptop), its config rendered with the settings its
    own files were last written with (the agent's are a fallback: they may be older); a
    config the edge refuses is put back. The caller holds the routes lock."""
    archive = engine.get_archive(PROXY_NAME, proxy.CONFIG_DIR)
    if archive is None:
        return  # no edge: no route
    present = proxy.folder_files(archive)
    routes = proxy.routes_in(present)
    kept = routes_without(routes, prefixes)
    if kept == routes:
        return
    owner, settings = proxy.edge_settings(present) or (edge.project, edge.settings)
    ca_root = present.get(proxy.CA_ROOT_NAME, edge.ca_root)
    wanted = proxy.edge_files(kept, settings, ca_root, owner)
    switch = proxy.plan_switch(present, wanted)
    if switch is None:
        return
    engine.put_archive(PROXY_NAME, "/etc", switch.archive)
    code, output = engine.run(PROXY_NAME, switch.command)
    if code != 0:
        engine.put_archive(PROXY_NAME, "/etc", proxy.restore_tar(present))
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise PilotError(f"the edge refused its config without the previews: {tail}")


def _remove_unused_databases(engine: Engine, project: str, say: Say, gone: set[str]) -> None:
    """The databases of previews no preview of their branch uses any more (the rule of
    docker_host/preview_databases.py; the laptop forgets their passwords)."""
    mine = f"pilot.project={project}"
    names = {
        str(labels.get(previews.PREVIEW, ""))
        for c in engine.containers([mine, previews.PREVIEW_OF], all=True)
        if isinstance(labels := c.get("Labels"), dict)
    }

    def unused(labels: object) -> bool:
        return isinstance(labels, dict) and labels.get(previews.PREVIEW_DATABASE) not in names

    databases = engine.containers([mine, previews.PREVIEW_DATABASE], all=True)
    for container in databases:  # a first deploy makes its database before its container
        created = container.get("Created")
        labels = container.get("Labels")
        young = isinstance(created, int) and time.time() - created < previews.DATABASE_GRACE
        name = str(labels.get(previews.PREVIEW_DATABASE, "")) if isinstance(labels, dict) else ""
        if young and name not in gone:
            names.add(name)
    for container in databases:
        if unused(container.get("Labels")):
            engine.remove(str(container["Id"]))
    for volume in engine.volumes([mine, previews.PREVIEW_DATABASE]):
        if unused(volume.get("Labels")) and engine.remove_volume(str(volume["Name"])):
            say(f"removed the preview database volume {volume['Name']}")


class _RoutesLock:
    """The edge's routes lock (lock.py's protocol: a created, never started, container
    whose name the engine gives to one holder at a time)."""

    def __init__(self, engine: Engine, image: str) -> None:
        self.engine, self.image, self.held = engine, image, ""

    def __enter__(self) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        body = {
            "Image": self.image,
            "Cmd": ["true"],
            "Labels": {
                "pilot.lock": "routes",
                "pilot.project": "proxy",
                "pilot.lock.holder": "the agent on the Docker host (expired previews)",
                "pilot.lock.since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "pilot.lock.agent": os.environ.get(AGENT_ID_ENV, ""),  # lock.py's
            },
            "HostConfig": {"NetworkMode": "none"},
            "NetworkDisabled": True,
        }
        while True:
            try:
                self.held = self.engine.create(ROUTES_LOCK, body)
                return
            except EngineError as exc:
                if exc.status != 409 or time.monotonic() >= deadline:
                    raise
            time.sleep(0.5)

    def __exit__(self, *_: object) -> None:
        self.engine.remove(self.held)
