"""The edge's container on a Docker host: Caddy, made (or replaced when its image or ports
changed, keeping every app's route), started and waited for; and its files, switched on a
release or an app's removal: a release renames its hosts' upstream files (no reload), a new
or removed host or new settings also reload Caddy's config through its admin API.

The admin API listens on the container's own loopback, so Pilot reaches it with ``docker
exec … caddy reload``; only ports 80 and 443 are published. Certificates and the ACME
account live in the ``pilot-proxy-data`` volume, so a new proxy container (an upgrade, a
move to another port) never asks the CA again.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from pilot_tui import redact
from pilot_tui.deploy.build.bases import PROXY
from pilot_tui.deploy.targets.docker_host import caddy_config, proxy
from pilot_tui.deploy.targets.docker_host.containers import (
    NETWORK,
    PROXY_NAME,
    ReleaseError,
    ensure_image,
    ensure_network,
    http_check,
)
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.deploy.interrupts import HeldInterrupt

HTTP = 80  # where Caddy listens inside its container; published on spec.port
HTTPS = 443  # published on spec.https_port when TLS is on
EDGE = "caddy"  # the pilot.proxy.edge label: a proxy without it is the old Python one
SET_ASIDE = f"{PROXY_NAME}-old"  # a replaced edge, until its successor serves


@dataclass(frozen=True)
class ProxySpec:
    """Where the edge's ports are published on the host, which image runs it and how it
    serves HTTPS."""

    bind: str = "0.0.0.0"
    port: int = 80
    image: str = PROXY.default
    https_port: int | None = None  # None: TLS off, nothing published for HTTPS
    edge: caddy_config.EdgeSettings = field(default_factory=caddy_config.EdgeSettings)
    ca_root: bytes | None = None  # a private ACME CA's root (server.acme_ca_root)
    project: str = ""  # whose settings these are (the edge is shared by a host's projects)

    @property
    def listen(self) -> str:
        ports = f"{self.port}" if self.https_port is None else f"{self.port},{self.https_port}"
        return f"{self.bind}:{ports}"


@dataclass(frozen=True)
class Edge:
    """The running edge, and the routes it served (host -> upstream) when they were read
    under the routes lock as it was ensured; None when it was made anew."""

    container: Container
    served: dict[str, str] | None = None


def ensure_proxy(client: DockerClient, spec: ProxySpec, line: Callable[[str], None]) -> Container:
    """The running edge container with ``spec``'s config (see ensure_edge)."""
    return ensure_edge(client, spec, line).container


def ensure_edge(client: DockerClient, spec: ProxySpec, line: Callable[[str], None]) -> Edge:
    """The running edge with ``spec``'s config, made or replaced when missing or outdated
    (under the routes lock: one writer of the edge at a time, whoever deploys)."""
    ensure_network(client)
    ensure_image(client, spec.image, line, "the proxy image")
    as_is = _as_is(client, spec, line)
    if as_is is not None:
        return as_is
    with routes_lock(client, spec.image):
        return _ensure_locked(client, spec, line)


def _wanted_labels(spec: ProxySpec) -> dict[str, str]:
    return {
        "pilot.role": "proxy",
        "pilot.proxy.edge": EDGE,
        # Routes read upstream files: an edge made before (any Caddy) is made again, so its
        # image's version is checked (2.8+) before it is given a config that needs it.
        "pilot.proxy.upstreams": "files",
        "pilot.proxy.image": spec.image,
        "pilot.proxy.listen": spec.listen,
        "pilot.proxy.network": NETWORK,
    }


def _as_is(client: DockerClient, spec: ProxySpec, line: Callable[[str], None]) -> Edge | None:
    """The edge when it runs, answers and has ``spec``'s config already: read without the
    routes lock, which only a writer needs (a writer meanwhile would come after this one in
    any order). None when anything is to be done: then under the lock, read again. Only
    reads: an edge set aside (a replacement under way, or cut short) is the lock's to see."""
    from docker.errors import NotFound

    found = {}
    for name in (PROXY_NAME, SET_ASIDE):
        with contextlib.suppress(NotFound):
            found[name] = client.containers.get(name)
    current = found.get(PROXY_NAME)
    if (
        current is None
        or SET_ASIDE in found
        or current.status != "running"
        or any(current.labels.get(k) != v for k, v in _wanted_labels(spec).items())
        or not _answers_here(spec)
    ):
        return None
    present = _present_files(current)
    wanted = proxy.edge_files(proxy.routes_in(present), spec.edge, spec.ca_root, spec.project)
    if proxy.plan_switch(present, wanted) is not None:
        return None
    _warn_if_shared(present, spec, line)
    return Edge(current, proxy.served(present))


@contextlib.contextmanager
def routes_lock(client: DockerClient, image: str) -> Iterator[None]:
    """The edge's config is shared by every app (and project) on the host: one writer at a
    time (a lock container made from ``image``, which the host has)."""
    from pilot_tui.deploy import lock

    try:
        held = lock.acquire(client, "proxy", "routes", image, wait=30)
    except lock.LockHeld as exc:
        raise ReleaseError(str(exc)) from exc
    try:
        yield
    finally:
        lock.release(client, held)


def _ensure_locked(client: DockerClient, spec: ProxySpec, line: Callable[[str], None]) -> Edge:
    wanted = _wanted_labels(spec)
    current = _existing(client)
    if (
        current is not None
        and current.name == PROXY_NAME
        and all(current.labels.get(k) == v for k, v in wanted.items())
    ):
        if current.status != "running":
            _start_proxy(current, spec)
        if current.status != "running" or not _answers_here(spec):
            _wait_proxy(current, spec)
        present = _present_files(current)  # read once: the owner, the routes, the rest
        _warn_if_shared(present, spec, line)
        routes = proxy.routes_in(present)
        apply(current, routes, spec, present)  # settings may have changed: never the routes
        return Edge(current, proxy.served(present))
    routes = read_routes(current) if current is not None else {}
    if current is not None:
        _say_replacing(current, routes, line)
        _set_aside(current)
    try:
        container = _create(client, spec, wanted)
        try:
            container.put_archive(
                "/etc", proxy.config_tar(routes, spec.edge, spec.ca_root, spec.project)
            )
            _start_proxy(container, spec)
            _wait_proxy(container, spec)
            _check_version(container, spec.image)
        except BaseException:
            container.remove(force=True)
            raise
    except BaseException:
        if current is not None:  # the old edge serves again, as it was
            _put_back(current)
        raise
    if current is not None:
        _discard(client, current)
    return Edge(container)


def _warn_if_shared(
    present: dict[str, bytes], spec: ProxySpec, line: Callable[[str], None]
) -> None:
    """Say so when another project on this host set the edge up otherwise (its files,
    ``present``, say whose settings it runs): its settings are the host's, and this deploy
    changes them for every app on it."""
    said = proxy.owner(present)
    ours = proxy.settings_words(spec.edge)
    if said is not None and said[0] not in ("", spec.project) and said[1] != ours:
        line(
            f"warning: the edge on this host runs project {said[0]}'s settings ({said[1]}); "
            f"this deploy sets {ours} for every app on the host"
        )


def _existing(client: DockerClient) -> Container | None:
    """The edge container; else one set aside by a replacement that was cut short (its
    routes are the only copy)."""
    from docker.errors import NotFound

    found = {}
    for name in (PROXY_NAME, SET_ASIDE):
        with contextlib.suppress(NotFound):
            found[name] = client.containers.get(name)
    if PROXY_NAME in found and SET_ASIDE in found:  # its successor serves: a leftover
        with contextlib.suppress(NotFound):
            found.pop(SET_ASIDE).remove(force=True)
    return found.get(PROXY_NAME) or found.get(SET_ASIDE)


def _say_replacing(current: Container, routes: dict[str, str], line: Callable[[str], None]) -> None:
    if current.labels.get("pilot.proxy.edge") != EDGE:
        line(f"moving {counted(len(routes), 'route')} from Pilot's old proxy to Caddy")
    else:
        line("replacing the proxy (new image, ports or config layout); apps keep their routes")
    stranded = sorted(h for h, upstream in routes.items() if upstream.startswith("127.0.0.1:"))
    if stranded:  # releases made before the private network: unreachable from it
        line(
            "these hosts were served from the host network and need a redeploy of "
            f"their app to be reachable again: {', '.join(stranded)}"
        )


def _set_aside(current: Container) -> None:
    """Stop the old edge (its ports are needed) and keep it, renamed, until its successor
    serves: a successor that cannot start gives way to it again."""
    current.stop(timeout=5)
    if current.name != SET_ASIDE:
        current.rename(SET_ASIDE)


def _put_back(current: Container) -> None:
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):
        current.rename(PROXY_NAME)
        current.start()


def _discard(client: DockerClient, old: Container) -> None:
    """Remove the replaced edge, and the image of Pilot's old proxy (built on the host)."""
    from docker.errors import DockerException

    image = old.labels.get("pilot.proxy.image", "")
    with contextlib.suppress(DockerException):
        old.remove(force=True)
    if image.startswith("pilot/proxy:"):
        with contextlib.suppress(DockerException):  # still used, or gone: left alone
            client.images.remove(image)


def _create(client: DockerClient, spec: ProxySpec, labels: dict[str, str]) -> Container:
    from docker.types import LogConfig

    ports: dict[str, tuple[str, int]] = {f"{HTTP}/tcp": (spec.bind, spec.port)}
    if spec.https_port is not None:
        ports[f"{HTTPS}/tcp"] = (spec.bind, spec.https_port)
    return client.containers.create(
        spec.image,
        name=PROXY_NAME,
        network=NETWORK,
        ports=ports,  # type: ignore[arg-type]  # stubs lack the (address, port) form
        volumes={proxy.DATA_VOLUME: {"bind": caddy_config.DATA_DIR, "mode": "rw"}},
        environment={"XDG_CONFIG_HOME": "/config", "XDG_DATA_HOME": caddy_config.DATA_DIR},
        restart_policy={"Name": "unless-stopped"},  # type: ignore[arg-type]  # stubs lack it
        # One access log line per request: kept bounded whatever the host's default.
        log_config=LogConfig(type="json-file", config={"max-size": "50m", "max-file": "3"}),
        command=proxy.RUN,
        labels=labels,
    )


def _start_proxy(container: Container, spec: ProxySpec) -> None:
    from docker.errors import APIError

    try:
        container.start()
    except APIError as exc:  # publishing a port failed: taken, or not an address here
        raise ReleaseError(
            f"the proxy cannot listen on {spec.listen} (is a port taken?): {exc.explanation or exc}"
        ) from exc


def _answers_here(spec: ProxySpec) -> bool:
    """Whether the edge answers its health path where a local engine publishes it, on this
    machine's loopback: one request, where a check inside its container is an exec."""
    import http.client

    if spec.bind != "127.0.0.1":
        return False  # a remote host's edge: asked from inside (its ports may be closed to us)
    connection = http.client.HTTPConnection("127.0.0.1", spec.port, timeout=2)
    try:
        connection.request("GET", caddy_config.HEALTH_PATH)
        answer = connection.getresponse()
        return answer.status == 200 and answer.read() == caddy_config.HEALTH_BODY
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _wait_proxy(container: Container, spec: ProxySpec, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline:
        ok, said = http_check(container, "127.0.0.1", HTTP, caddy_config.HEALTH_PATH)
        if ok:
            return
        container.reload()
        if container.status == "exited":
            said = ""  # its own lines say why
            break
        time.sleep(0.2)
    tail = container.logs(tail=10).decode(errors="replace").strip()
    # What the check inside it got (found walking: an image without BusyBox's `timeout`
    # was said as "did not start", while it served)
    why = f" (its health check inside the container: {redact.clip(said, 200)})" if said else ""
    raise ReleaseError(f"the proxy did not start on {spec.listen}{why}", tuple(tail.splitlines()))


def _check_version(container: Container, image: str) -> None:
    """Refuse a Caddy without the ``{file.*}`` placeholder the routes read upstreams with
    (it would answer 502 to every request)."""
    result = container.exec_run(proxy.VERSION)
    output = cast(bytes, result.output).decode(errors="replace")
    found = proxy.caddy_version(output)
    if found is None or found < caddy_config.MIN_VERSION:
        need = ".".join(map(str, caddy_config.MIN_VERSION))
        raise ReleaseError(
            f"the edge needs Caddy {need} or newer; {image} runs "
            f"{output.strip().split(' ')[0] or 'an unknown version'}: pull a newer one on the "
            f"Docker host (docker pull {image}) or set PILOT_PROXY_IMAGE to a newer Caddy image"
        )


def read_routes(proxy_container: Container) -> dict[str, str]:
    """The routes table kept in the proxy container (the old Python proxy's file too)."""
    from docker.errors import NotFound

    try:
        chunks, _ = proxy_container.get_archive(proxy.ROUTES_PATH)
    except NotFound:
        return {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile(proxy.ROUTES_NAME)
        return proxy.parse_routes(member.read()) if member else {}


def served_routes(proxy_container: Container) -> dict[str, str]:
    """host -> upstream the edge serves now: its routes file and upstream files agree."""
    return proxy.served(_present_files(proxy_container))


def apply(
    proxy_container: Container,
    routes: dict[str, str],
    spec: ProxySpec,
    present: dict[str, bytes] | None = None,
) -> None:
    """Have the edge serve ``routes``: each host's upstream file renamed over the old one
    (requests in flight finish where they went), and Caddy's config loaded only when the
    hosts or settings changed. When Caddy refuses it, the files it runs on are put back.
    ``present``: the files it runs on, when just read (under the same routes lock)."""
    if present is None:
        present = _present_files(proxy_container)
    wanted = proxy.edge_files(routes, spec.edge, spec.ca_root, spec.project)
    switch = proxy.plan_switch(present, wanted)
    if switch is None:
        return  # what it runs already
    try:
        proxy_container.put_archive("/etc", switch.archive)
        result = proxy_container.exec_run(switch.command)
    except BaseException:  # the engine went, Ctrl+C: the config files it runs on go back
        with contextlib.suppress(Exception):
            proxy_container.put_archive("/etc", proxy.restore_tar(present))
        raise
    if result.exit_code != 0:
        proxy_container.put_archive("/etc", proxy.restore_tar(present))
        output = cast(bytes, result.output).decode(errors="replace").strip()
        raise ReleaseError("the proxy refused its new config", tuple(output.splitlines()[-10:]))


def _present_files(proxy_container: Container) -> dict[str, bytes]:
    """The files the edge runs on, by name under CONFIG_DIR (none for a new container)."""
    from docker.errors import NotFound

    try:
        chunks, _ = proxy_container.get_archive(proxy.CONFIG_DIR)
    except NotFound:
        return {}
    return proxy.folder_files(b"".join(chunks))


def swap(
    edge: Container,
    hosts: list[str],
    target: str,
    spec: ProxySpec,
    app_prefix: str,
    held: HeldInterrupt | None = None,
) -> None:
    """Route ``hosts`` to ``target`` (an ``upstream``), and drop the routes to the app's
    releases (containers ``app_prefix`` + ``vN``) of names it no longer has (a changed
    `target.domain`: else the edge keeps renewing a certificate for a name gone). With
    ``held``, a Ctrl+C is held off from when the routes lock is taken (not while waiting
    for it) until the caller stops it, after the lock is given back."""
    client = cast("DockerClient", edge.client)
    own = re.compile(re.escape(app_prefix) + r"v\d+:\d+")
    with routes_lock(client, spec.image):
        if held is not None:
            held.start()
        routes = read_routes(edge)
        for host, upstream in list(routes.items()):
            if own.fullmatch(upstream) and host not in hosts:
                del routes[host]
        for host in hosts:
            routes[host] = target
        apply(edge, routes, spec)


def unroute(edge: Container, hosts: list[str], spec: ProxySpec, app_prefix: str) -> None:
    """Drop ``hosts`` and every other route to the app's releases (``app_prefix`` + vN)."""
    client = cast("DockerClient", edge.client)
    own = re.compile(re.escape(app_prefix) + r"v\d+:\d+")
    with routes_lock(client, spec.image):
        routes = read_routes(edge)
        kept = {h: u for h, u in routes.items() if h not in hosts and not own.fullmatch(u)}
        apply(edge, kept, spec)
