"""The proxy's container on a Docker host: built from proxy.py's context, made (or replaced
when its image or address changed, keeping every app's route), started and waited for; and
its routes file, rewritten on a release (then SIGHUP) or an app's removal.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pilot_tui.deploy.targets.docker_host import proxy
from pilot_tui.deploy.targets.docker_host.containers import (
    NETWORK,
    PROXY_NAME,
    ReleaseError,
    ensure_network,
    http_check,
)

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

PROXY_PORT = 80  # where the proxy listens inside its container; published on http_port
ROUTES = f"{proxy.ROUTES_DIR}/{proxy.ROUTES_NAME}"


@dataclass(frozen=True)
class ProxySpec:
    """Where the proxy's port is published on the host and what it is built from."""

    bind: str = "0.0.0.0"
    port: int = 80
    base: str = proxy.PROXY_BASE_DEFAULT

    @property
    def listen(self) -> str:
        return f"{self.bind}:{self.port}"


def ensure_proxy(
    client: DockerClient, spec: ProxySpec, line: Callable[[str], None], *, _retried: bool = False
) -> Container:
    """The running proxy container, built and (re)started when missing or outdated."""
    from docker.errors import APIError, NotFound

    ensure_network(client)
    tag = _ensure_image(client, spec, line)
    wanted = {
        "pilot.role": "proxy",
        "pilot.proxy.image": tag,
        "pilot.proxy.listen": spec.listen,
        "pilot.proxy.network": NETWORK,
    }
    current, routes = _current(client, wanted, line)
    if current is not None:
        try:
            if current.status != "running":
                _start_proxy(current, spec)
            _wait_proxy(current, spec)
            return current
        except NotFound:
            pass  # removed meanwhile: made again below
    try:
        container = _create(client, tag, spec, wanted)
    except APIError as exc:
        if exc.status_code != 409 or _retried:
            raise
        # A teammate's deploy (another app) created it a moment ago: use theirs.
        time.sleep(0.5)
        return ensure_proxy(client, spec, line, _retried=True)
    container.put_archive(proxy.ROUTES_DIR, proxy.routes_tar(routes))
    _start_proxy(container, spec)
    _wait_proxy(container, spec)
    return container


def _ensure_image(client: DockerClient, spec: ProxySpec, line: Callable[[str], None]) -> str:
    """The proxy image's tag, built from ``spec.base`` unless the host has it."""
    from docker.errors import BuildError as DockerBuildError
    from docker.errors import ImageNotFound

    from pilot_tui.deploy.build.bases import unpulled

    tag = proxy.proxy_image_tag(spec.base)
    try:
        client.images.get(tag)
    except ImageNotFound:
        line(f"building the proxy image {tag} from {spec.base}")
        try:
            client.images.build(
                fileobj=io.BytesIO(proxy.proxy_context(spec.base)),
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
            )
        except DockerBuildError as exc:
            raise ReleaseError(
                unpulled(client, proxy.dockerfile(spec.base), str(exc))
                or f"cannot build the proxy image from {spec.base}: {exc}"
            ) from exc
    return tag


def _current(
    client: DockerClient, wanted: dict[str, str], line: Callable[[str], None]
) -> tuple[Container | None, dict[str, str]]:
    """(the proxy container when it is the one wanted, else None; the routes a replaced
    one had, which its successor keeps)."""
    from docker.errors import NotFound

    try:
        container = client.containers.get(PROXY_NAME)
    except NotFound:
        return None, {}
    if all(container.labels.get(k) == v for k, v in wanted.items()):
        return container, {}
    routes = read_routes(container)  # an upgrade keeps every app's route
    line("replacing the proxy (new version or address); apps keep their routes")
    stranded = sorted(h for h, upstream in routes.items() if upstream.startswith("127.0.0.1:"))
    if stranded:  # releases made before the private network: unreachable from it
        line(
            "these hosts were served from the host network and need a redeploy of "
            f"their app to be reachable again: {', '.join(stranded)}"
        )
    with contextlib.suppress(NotFound):  # gone meanwhile: as good
        container.remove(force=True)
    return None, routes


def _create(client: DockerClient, tag: str, spec: ProxySpec, labels: dict[str, str]) -> Container:
    return client.containers.create(
        tag,
        name=PROXY_NAME,
        network=NETWORK,
        ports={f"{PROXY_PORT}/tcp": (spec.bind, spec.port)},
        restart_policy={"Name": "unless-stopped"},  # type: ignore[arg-type]  # stubs lack it
        command=[
            "python3",
            "-u",
            proxy.PROGRAM_PATH,
            "--listen",
            f"0.0.0.0:{PROXY_PORT}",
            "--routes",
            ROUTES,
        ],
        labels=labels,
    )


def _start_proxy(container: Container, spec: ProxySpec) -> None:
    from docker.errors import APIError

    try:
        container.start()
    except APIError as exc:  # publishing the port failed: taken, or not an address here
        raise ReleaseError(
            f"the proxy cannot listen on {spec.listen} (is the port taken?): "
            f"{exc.explanation or exc}"
        ) from exc


def _wait_proxy(container: Container, spec: ProxySpec, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, _ = http_check(container, "127.0.0.1", PROXY_PORT, "/_pilot/health")
        if ok:
            return
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.2)
    tail = container.logs(tail=10).decode(errors="replace").strip()
    raise ReleaseError(f"the proxy did not start on {spec.listen}", tuple(tail.splitlines()))


def read_routes(proxy_container: Container) -> dict[str, str]:
    from docker.errors import NotFound

    try:
        chunks, _ = proxy_container.get_archive(ROUTES)
    except NotFound:
        return {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile(proxy.ROUTES_NAME)
        data = json.loads(member.read()) if member else {}
    return dict(data.get("routes", {}))


def write_routes(proxy_container: Container, routes: dict[str, str]) -> None:
    proxy_container.put_archive(proxy.ROUTES_DIR, proxy.routes_tar(routes))
    proxy_container.kill(signal="SIGHUP")


def swap(proxy_container: Container, hosts: list[str], target: str) -> None:
    """Route ``hosts`` to ``target`` (an ``upstream``)."""
    routes = read_routes(proxy_container)
    for host in hosts:
        routes[host] = target
    write_routes(proxy_container, routes)


def unroute(proxy_container: Container, hosts: list[str]) -> None:
    routes = read_routes(proxy_container)
    for host in hosts:
        routes.pop(host, None)
    write_routes(proxy_container, routes)
