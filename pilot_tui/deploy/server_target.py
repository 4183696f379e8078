"""The `server` target: apps as containers on the Docker host, behind Pilot's proxy.

Every release listens on its own port ($PORT) with host networking, so the new one can start
beside the old. It takes traffic only once its health path answers 2xx: then the proxy's
routes are rewritten and it is sent SIGHUP; new connections go to the new release at once,
and the old one is stopped after a drain period. If the new release never gets healthy the
old one keeps serving untouched, and the new container's last lines explain why.

Health checks run inside the proxy container (it shares the host's network and has Python),
so they work the same however Pilot reaches the engine: local socket, SSH or TLS.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pilot_tui import redact
from pilot_tui.deploy import proxy

PROXY_NAME = "pilot-proxy"
ROUTES = f"{proxy.ROUTES_DIR}/{proxy.ROUTES_NAME}"
PORTS = range(20000, 30000)
DRAIN_SECONDS = 2.0  # in-flight requests on the old release finish in this time
LOG_TAIL = 40


class ReleaseError(Exception):
    """A release failed; ``logs`` holds the new container's last lines."""

    def __init__(self, message: str, logs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.logs = logs


class Cancelled(Exception):
    """The person asked to stop; what was started is cleaned up by the caller."""


@dataclass(frozen=True)
class ProxySpec:
    """Where the proxy listens and what it is built from."""

    bind: str = "0.0.0.0"
    port: int = 80
    base: str = proxy.PROXY_BASE_DEFAULT

    @property
    def listen(self) -> str:
        return f"{self.bind}:{self.port}"


def ensure_proxy(client: Any, spec: ProxySpec, line: Callable[[str], None], *,
                 _retried: bool = False) -> Any:
    """The running proxy container, built and (re)started when missing or outdated."""
    from docker.errors import APIError, ImageNotFound, NotFound
    from docker.errors import BuildError as DockerBuildError

    from pilot_tui.deploy.bases import unpulled

    tag = proxy.proxy_image_tag(spec.base)
    try:
        client.images.get(tag)
    except ImageNotFound:
        line(f"building the proxy image {tag} from {spec.base}")
        try:
            client.images.build(fileobj=io.BytesIO(proxy.proxy_context(spec.base)),
                                custom_context=True, tag=tag, rm=True, forcerm=True)
        except DockerBuildError as exc:
            raise ReleaseError(unpulled(client, proxy.dockerfile(spec.base), str(exc))
                               or f"cannot build the proxy image from {spec.base}: {exc}") \
                from exc
    routes: dict[str, str] = {}
    try:
        container = client.containers.get(PROXY_NAME)
        if container.labels.get("pilot.proxy.image") == tag and \
                container.labels.get("pilot.proxy.listen") == spec.listen:
            if container.status != "running":
                container.start()
            _wait_proxy(container, spec)
            return container
        routes = read_routes(container)  # an upgrade keeps every app's route
        line("replacing the proxy (new version or address); apps keep their routes")
        container.remove(force=True)
    except NotFound:
        pass
    try:
        container = client.containers.create(
            tag, name=PROXY_NAME, network_mode="host",
            restart_policy={"Name": "unless-stopped"},
            command=["python3", "-u", proxy.PROGRAM_PATH, "--listen", spec.listen,
                     "--routes", ROUTES],
            labels={"pilot.role": "proxy", "pilot.proxy.image": tag,
                    "pilot.proxy.listen": spec.listen})
    except APIError as exc:
        if exc.status_code != 409 or _retried:
            raise
        # A teammate's deploy (another app) created it a moment ago: use theirs.
        time.sleep(0.5)
        return ensure_proxy(client, spec, line, _retried=True)
    container.put_archive(proxy.ROUTES_DIR, proxy.routes_tar(routes))
    container.start()
    _wait_proxy(container, spec)
    return container


def _wait_proxy(container: Any, spec: ProxySpec, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ok, _ = http_check(container, spec.port, "/_pilot/health")
        if ok:
            return
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.2)
    tail = container.logs(tail=10).decode(errors="replace").strip()
    raise ReleaseError(f"the proxy did not start on {spec.listen} (is the port taken?)",
                       tuple(tail.splitlines()))


_CHECK = """
import socket, sys, urllib.request, urllib.error
port, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "bind":
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        print("in use"); sys.exit(1)
    s.close(); print("free"); sys.exit(0)
try:
    r = urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2)
    print(r.status); sys.exit(0)
except urllib.error.HTTPError as e:
    print(e.code); sys.exit(1)
except Exception as e:
    print(type(e).__name__, e); sys.exit(1)
"""


def http_check(proxy_container: Any, port: int, path: str) -> tuple[bool, str]:
    """GET 127.0.0.1:port+path from inside the proxy container: (2xx/3xx?, what answered)."""
    result = proxy_container.exec_run(["python3", "-c", _CHECK, str(port), path, "get"])
    return result.exit_code == 0, result.output.decode(errors="replace").strip()


def port_free(proxy_container: Any, port: int) -> bool:
    result = proxy_container.exec_run(["python3", "-c", _CHECK, str(port), "/", "bind"])
    return result.exit_code == 0


def read_routes(proxy_container: Any) -> dict[str, str]:
    from docker.errors import NotFound

    try:
        chunks, _ = proxy_container.get_archive(ROUTES)
    except NotFound:
        return {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile(proxy.ROUTES_NAME)
        data = json.loads(member.read()) if member else {}
    return dict(data.get("routes", {}))


def write_routes(proxy_container: Any, routes: dict[str, str]) -> None:
    proxy_container.put_archive(proxy.ROUTES_DIR, proxy.routes_tar(routes))
    proxy_container.kill(signal="SIGHUP")


def app_containers(client: Any, project: str, app: str) -> list[Any]:
    return client.containers.list(all=True, filters={
        "label": [f"pilot.project={project}", f"pilot.app={app}"]})


def running_containers(client: Any, project: str, app: str) -> list[Any]:
    return [c for c in app_containers(client, project, app) if c.status == "running"]


def pick_port(client: Any, proxy_container: Any) -> int:
    """The lowest port no Pilot container holds and nothing on the host listens on."""
    taken = {int(c.labels["pilot.port"]) for c in
             client.containers.list(all=True, filters={"label": "pilot.port"})
             if c.labels.get("pilot.port", "").isdigit()}
    for port in PORTS:
        if port not in taken and port_free(proxy_container, port):
            return port
    raise ReleaseError("no free port left between 20000 and 29999 on the host")


def start(client: Any, *, project: str, app: str, release: str, image: str, port: int,
          env: dict[str, str], fingerprint: str) -> Any:
    name = f"pilot-{project}-{app}-{release}"
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        client.containers.get(name).remove(force=True)  # a leftover of a killed deploy
    return client.containers.run(
        image, name=name, detach=True, network_mode="host",
        environment={**env, "PORT": str(port)}, restart_policy={"Name": "unless-stopped"},
        labels={"pilot.project": project, "pilot.app": app, "pilot.release": release,
                "pilot.port": str(port), "pilot.fingerprint": fingerprint})


def container_tail(container: Any, lines: int = LOG_TAIL) -> tuple[str, ...]:
    try:
        raw = container.logs(tail=lines).decode(errors="replace")
    except Exception:  # the container may already be gone
        return ()
    return tuple(redact.text(line) for line in raw.splitlines())


def wait_healthy(container: Any, proxy_container: Any, port: int, path: str, timeout: float,
                 line: Callable[[str], None],
                 cancelled: Callable[[], bool] = lambda: False) -> None:
    """Poll the health path until 2xx; raises ReleaseError with the logs when it never is."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    reported = 0.0
    while time.monotonic() < deadline:
        if cancelled():
            raise Cancelled("cancelled while waiting for the new release to get healthy")
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            raise ReleaseError(f"the new release exited (code {code}) before it was healthy",
                               container_tail(container))
        ok, last = http_check(proxy_container, port, path)
        if ok:
            return
        if time.monotonic() - reported > 5:
            line(f"waiting for GET {path} on port {port} to answer 2xx (last: {last})")
            reported = time.monotonic()
        time.sleep(0.3)
    raise ReleaseError(f"GET {path} did not answer 2xx within {timeout:.0f}s (last: {last}); "
                       "the previous release keeps serving", container_tail(container))


def swap(proxy_container: Any, hosts: list[str], port: int) -> None:
    routes = read_routes(proxy_container)
    for host in hosts:
        routes[host] = f"127.0.0.1:{port}"
    write_routes(proxy_container, routes)


def unroute(proxy_container: Any, hosts: list[str]) -> None:
    routes = read_routes(proxy_container)
    for host in hosts:
        routes.pop(host, None)
    write_routes(proxy_container, routes)


def retire(containers: list[Any], keep: str) -> None:
    """Stop and remove an app's other releases (after the drain)."""
    for container in containers:
        if container.id != keep:
            container.remove(force=True)
