"""The `server` target: apps as containers on the Docker host, behind Pilot's proxy.

Every container of Pilot's lives on one private Docker network per host (`pilot`, a
user-defined bridge), and no app publishes a host port: only the proxy does, on
`server.http_port`. Each release listens on `target.port` ($PORT) at its own address on that
network, so the new one starts beside the old, and nothing else on the host can answer for
it. It takes traffic only once its health path answers 2xx and its container is running and
has never restarted, then still is after a short settle: then the proxy's routes (host ->
container name:port) are rewritten and it is sent SIGHUP; new connections go to the new
release at once, and the old one is stopped after a drain period. A new release whose
container exits or restarts fails at once, with its exit code and its last lines (repeats
collapsed); if it never gets healthy, the old one keeps serving untouched either way.

Health checks run inside the proxy container (it is on the network and has Python) against
the new container's own address: Pilot itself often cannot reach that network (an engine
over SSH or TLS, Docker Desktop's VM), and this works the same however Pilot reaches the
engine: local socket, SSH or TLS.
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
from pilot_tui.deploy.context import Cancelled
from pilot_tui.deploy.targets.docker_host import proxy
from pilot_tui.errors import PilotError

PROXY_NAME = "pilot-proxy"
NETWORK = "pilot"  # the private network of every app and the proxy on a host
PROXY_PORT = 80  # where the proxy listens inside its container; published on http_port
ROUTES = f"{proxy.ROUTES_DIR}/{proxy.ROUTES_NAME}"
DRAIN_SECONDS = 2.0  # in-flight requests on the old release finish in this time
SETTLE_SECONDS = 1.0  # a healthy new release must still be running, unrestarted, after this
LOG_TAIL = 40
LOG_READ = 400  # lines read to find the last LOG_TAIL once repeats are collapsed


class ReleaseError(PilotError):
    """A release failed; ``logs`` holds the new container's last lines."""

    title = "Release failed"

    def __init__(self, message: str, logs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.logs = logs


@dataclass(frozen=True)
class ProxySpec:
    """Where the proxy's port is published on the host and what it is built from."""

    bind: str = "0.0.0.0"
    port: int = 80
    base: str = proxy.PROXY_BASE_DEFAULT

    @property
    def listen(self) -> str:
        return f"{self.bind}:{self.port}"


def ensure_network(client: Any) -> None:
    """Create the private network unless it exists (idempotent; safe against a teammate's
    deploy creating it at the same moment)."""
    from docker.errors import APIError, NotFound

    try:
        client.networks.get(NETWORK)
        return
    except NotFound:
        pass
    try:
        client.networks.create(
            NETWORK, driver="bridge", check_duplicate=True, labels={"pilot.role": "network"}
        )
    except APIError as exc:
        if exc.status_code != 409:
            raise


def ensure_proxy(
    client: Any, spec: ProxySpec, line: Callable[[str], None], *, _retried: bool = False
) -> Any:
    """The running proxy container, built and (re)started when missing or outdated."""
    from docker.errors import APIError, ImageNotFound, NotFound
    from docker.errors import BuildError as DockerBuildError

    from pilot_tui.deploy.build.bases import unpulled

    ensure_network(client)
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
    wanted = {
        "pilot.role": "proxy",
        "pilot.proxy.image": tag,
        "pilot.proxy.listen": spec.listen,
        "pilot.proxy.network": NETWORK,
    }
    routes: dict[str, str] = {}
    try:
        container = client.containers.get(PROXY_NAME)
        if all(container.labels.get(k) == v for k, v in wanted.items()):
            if container.status != "running":
                _start_proxy(container, spec)
            _wait_proxy(container, spec)
            return container
        routes = read_routes(container)  # an upgrade keeps every app's route
        line("replacing the proxy (new version or address); apps keep their routes")
        stranded = sorted(h for h, upstream in routes.items() if upstream.startswith("127.0.0.1:"))
        if stranded:  # releases made before the private network: unreachable from it
            line(
                "these hosts were served from the host network and need a redeploy of "
                f"their app to be reachable again: {', '.join(stranded)}"
            )
        container.remove(force=True)
    except NotFound:
        pass
    try:
        container = client.containers.create(
            tag,
            name=PROXY_NAME,
            network=NETWORK,
            ports={f"{PROXY_PORT}/tcp": (spec.bind, spec.port)},
            restart_policy={"Name": "unless-stopped"},
            command=[
                "python3",
                "-u",
                proxy.PROGRAM_PATH,
                "--listen",
                f"0.0.0.0:{PROXY_PORT}",
                "--routes",
                ROUTES,
            ],
            labels=wanted,
        )
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


def _start_proxy(container: Any, spec: ProxySpec) -> None:
    from docker.errors import APIError

    try:
        container.start()
    except APIError as exc:  # publishing the port failed: taken, or not an address here
        raise ReleaseError(
            f"the proxy cannot listen on {spec.listen} (is the port taken?): "
            f"{exc.explanation or exc}"
        ) from exc


def _wait_proxy(container: Any, spec: ProxySpec, timeout: float = 20.0) -> None:
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


_CHECK = """
import sys, urllib.request, urllib.error
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    r = urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=2)
    print(r.status); sys.exit(0)
except urllib.error.HTTPError as e:
    print(e.code); sys.exit(1)
except Exception as e:
    print(type(e).__name__, e); sys.exit(1)
"""


def http_check(proxy_container: Any, host: str, port: int, path: str) -> tuple[bool, str]:
    """GET host:port+path from inside the proxy container, i.e. from the private network:
    (2xx/3xx?, what answered)."""
    result = proxy_container.exec_run(["python3", "-c", _CHECK, host, str(port), path])
    return result.exit_code == 0, result.output.decode(errors="replace").strip()


def address(container: Any) -> str | None:
    """The container's own address on the private network (None: not on it)."""
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    return (networks.get(NETWORK) or {}).get("IPAddress") or None


def upstream(container: Any, port: int) -> str:
    """How the proxy reaches a release: by container name, which survives the engine giving
    the container another address (a restart, a reboot)."""
    return f"{container.name}:{port}"


def trouble(container: Any) -> str | None:
    """Why a release's container cannot be trusted to serve, from a fresh inspect: not
    running, restarting, or restarted since it started; None when none of these."""
    container.reload()
    state = container.attrs.get("State", {})
    code = state.get("ExitCode")
    restarts = container.attrs.get("RestartCount", 0)
    if state.get("Restarting"):
        return f"is restarting (exit code {code}, {restarts} restart(s))"
    if state.get("Status") != "running":
        return f"{state.get('Status', 'stopped')} with code {code}"
    if restarts:
        return f"restarted {restarts} time(s)"
    return None


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
    return client.containers.list(
        all=True, filters={"label": [f"pilot.project={project}", f"pilot.app={app}"]}
    )


def running_containers(client: Any, project: str, app: str) -> list[Any]:
    return [c for c in app_containers(client, project, app) if c.status == "running"]


def start(
    client: Any,
    *,
    project: str,
    app: str,
    release: str,
    image: str,
    port: int,
    env: dict[str, str],
    fingerprint: str,
) -> Any:
    """Start a release on the private network, with no host port and no restart policy: a
    crash leaves it exited with its exit code and one run's logs, which fails the deploy at
    once. ``make_permanent`` gives it its restart policy once it is live."""
    name = f"pilot-{project}-{app}-{release}"
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        client.containers.get(name).remove(force=True)  # a leftover of a killed deploy
    return client.containers.run(
        image,
        name=name,
        detach=True,
        network=NETWORK,
        environment={**env, "PORT": str(port)},
        restart_policy={"Name": "no"},
        labels={
            "pilot.project": project,
            "pilot.app": app,
            "pilot.release": release,
            "pilot.fingerprint": fingerprint,
        },
    )


def make_permanent(container: Any) -> None:
    """The live release restarts with the engine (a reboot) and after a crash."""
    container.update(restart_policy={"Name": "unless-stopped"})


def container_tail(container: Any, lines: int = LOG_TAIL) -> tuple[str, ...]:
    try:
        raw = container.logs(tail=LOG_READ).decode(errors="replace")
    except Exception:  # the container may already be gone
        return ()
    collapsed = collapse_repeats([redact.text(line) for line in raw.splitlines()])
    return tuple(collapsed[-lines:])


def collapse_repeats(lines: list[str], longest: int = 60) -> list[str]:
    """``lines`` with each run of a block repeated back to back (the same traceback printed
    by every crash of a worker, the same line logged in a loop) kept once, followed by a note
    of how many more times it came. Blocks of up to ``longest`` lines; the shortest block
    that repeats wins at each position."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        for size in range(1, min(longest, (len(lines) - i) // 2) + 1):
            block = lines[i : i + size]
            times = 1
            while lines[i + times * size : i + (times + 1) * size] == block:
                times += 1
            if times > 1:
                out += block
                what = "the line above" if size == 1 else f"the {size} lines above"
                out.append(f"[{what} repeated {times - 1} more time(s)]")
                i += times * size
                break
        else:
            out.append(lines[i])
            i += 1
    return out


def wait_healthy(
    container: Any,
    proxy_container: Any,
    port: int,
    path: str,
    timeout: float,
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    settle: float = SETTLE_SECONDS,
) -> None:
    """Poll the new release's health path at its own address until 2xx, then make sure it
    is still running and unrestarted after ``settle`` seconds. Raises ReleaseError with its
    last lines when it never gets healthy, and at once when its container exits or
    restarts."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    reported = 0.0
    while time.monotonic() < deadline:
        if cancelled():
            raise Cancelled("cancelled while waiting for the new release to get healthy")
        _fail_if_down(container)
        where = address(container)
        if where is None:
            raise ReleaseError(
                f"the new release has no address on the {NETWORK} network",
                container_tail(container),
            )
        ok, last = http_check(proxy_container, where, port, path)
        if ok:
            _fail_if_down(container)
            settled = time.monotonic() + settle
            while time.monotonic() < settled:
                if cancelled():
                    raise Cancelled("cancelled while the new release settled")
                time.sleep(min(0.2, max(0.0, settled - time.monotonic())))
            _fail_if_down(container)
            return
        if time.monotonic() - reported > 5:
            line(f"waiting for GET {path} on {container.name}:{port} to answer 2xx (last: {last})")
            reported = time.monotonic()
        time.sleep(0.3)
    raise ReleaseError(
        f"GET {path} did not answer 2xx within {timeout:.0f}s (last: {last}); "
        "the previous release keeps serving",
        container_tail(container),
    )


def _fail_if_down(container: Any) -> None:
    problem = trouble(container)
    if problem is not None:
        raise ReleaseError(
            f"the new release {problem} before it was live; the previous release keeps serving",
            container_tail(container),
        )


def swap(proxy_container: Any, hosts: list[str], target: str) -> None:
    """Route ``hosts`` to ``target`` (an ``upstream``)."""
    routes = read_routes(proxy_container)
    for host in hosts:
        routes[host] = target
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
