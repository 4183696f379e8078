"""The `server` target: apps as containers on the Docker host, behind Pilot's edge proxy,
Caddy (its own container: proxy_container.py).

Every container of Pilot's lives on one private Docker network per host (`pilot`, a
user-defined bridge), and no app publishes a host port: only the proxy does, on
`server.http_port`. Each release listens on `target.port` ($PORT) at its own address on that
network, so the new one starts beside the old, and nothing else on the host can answer for
it. It takes traffic only once its health path answers 2xx and its container is running and
has never restarted, then still is after a short settle: then the proxy's routes (host ->
container name:port) are rewritten and Caddy loads the config made of them; new requests go
to the new release at once, and the old one is stopped after a drain period. A new release whose
container exits or restarts fails at once, with its exit code and its last lines (repeats
collapsed); if it never gets healthy, the old one keeps serving untouched either way.

Health checks run inside the proxy container (it is on the network and has BusyBox's wget) against
the new container's own address: Pilot itself often cannot reach that network (an engine
over SSH or TLS, Docker Desktop's VM), and this works the same however Pilot reaches the
engine: local socket, SSH or TLS.
"""

from __future__ import annotations

import calendar
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast

from pilot_tui import redact
from pilot_tui.deploy.context import Cancelled
from pilot_tui.errors import PilotError
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

PROXY_NAME = "pilot-proxy"
NETWORK = "pilot"  # the private network of every app and the proxy on a host
DRAIN_SECONDS = 2.0  # in-flight requests on the old release finish in this time
SETTLE_SECONDS = 1.0  # a healthy new release must still be running, unrestarted, after this
LOG_TAIL = 40
CHECK_SECONDS = 3  # one health check waits this long for an answer
LOG_READ = 400  # lines read to find the last LOG_TAIL once repeats are collapsed


class ReleaseError(PilotError):
    """A release failed; ``logs`` holds the new container's last lines."""

    title = "Release failed"

    def __init__(self, message: str, logs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.logs = logs


def ensure_network(client: DockerClient) -> None:
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


def ensure_image(client: DockerClient, image: str, line: Callable[[str], None], what: str) -> None:
    """Pull ``image`` (``what``: "the proxy image") unless the host has it; one that
    cannot be pulled names a mirror's variable."""
    from docker.errors import APIError, ImageNotFound

    from pilot_tui.deploy.build.bases import mirror_hint

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    line(f"pulling {what} {image}")
    try:
        client.images.pull(image)
    except APIError as exc:
        raise ReleaseError(
            f"the Docker host cannot pull {what} {image} "
            f"({exc.explanation or exc}): {mirror_hint(image)}"
        ) from exc


def http_check(proxy_container: Container, host: str, port: int, path: str) -> tuple[bool, str]:
    """GET host:port+path from inside the proxy container, i.e. from the private network:
    (2xx, after redirects?; the status code or the error). BusyBox's wget and timeout are in
    the Caddy image (Alpine) and in any BusyBox-based one (wget's own -T crashes some
    static BusyBox builds, hence timeout)."""
    url = f"http://{host}:{port}{path}"
    command = ["timeout", str(CHECK_SECONDS), "wget", "-S", "-O", "/dev/null", url]
    result = proxy_container.exec_run(command)
    output = cast(bytes, result.output).decode(errors="replace")  # not streamed: one bytes
    lines = [ln.strip() for ln in output.splitlines()]
    # "HTTP/1.1 404 Not Found" -> "404": the last answer's status, after any redirect
    codes = [ln.split()[1] for ln in lines if ln.startswith("HTTP/") and len(ln.split()) > 1]
    if result.exit_code == 0:
        return True, codes[-1] if codes else "ok"
    if codes:
        return False, codes[-1]
    if result.exit_code == 143:  # killed by timeout
        return False, f"no answer within {CHECK_SECONDS}s"
    errors = [ln.removeprefix("wget: ") for ln in lines if ln.startswith("wget: ")]
    return False, (errors or [output.strip() or f"exit code {result.exit_code}"])[-1]


def address(container: Container) -> str | None:
    """The container's own address on the private network (None: not on it)."""
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    return (networks.get(NETWORK) or {}).get("IPAddress") or None


def upstream(container: Container, port: int) -> str:
    """How the proxy reaches a release: by container name, which survives the engine giving
    the container another address (a restart, a reboot)."""
    return f"{container.name}:{port}"


def trouble(container: Container) -> str | None:
    """Why a release's container cannot be trusted to serve, from a fresh inspect: not
    running, restarting, or restarted since it started; None when none of these."""
    container.reload()
    state = container.attrs.get("State", {})
    code = state.get("ExitCode")
    restarts = container.attrs.get("RestartCount", 0)
    if state.get("Restarting"):
        return f"is restarting (exit code {code}, {counted(restarts, 'restart')})"
    if state.get("Status") != "running":
        return f"{state.get('Status', 'stopped')} with code {code}"
    if restarts:
        return f"restarted {counted(restarts, 'time')}"
    return None


def created_at(stamp: str) -> float:
    """Seconds since the epoch of Docker's "2026-12-04T12:00:00.123456789Z" (0: unknown)."""
    try:
        return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0


def app_containers(client: DockerClient, project: str, app: str) -> list[Container]:
    return client.containers.list(
        all=True, filters={"label": [f"pilot.project={project}", f"pilot.app={app}"]}
    )


def running_containers(client: DockerClient, project: str, app: str) -> list[Container]:
    return [c for c in app_containers(client, project, app) if c.status == "running"]


def start(
    client: DockerClient,
    *,
    project: str,
    app: str,
    release: str,
    image: str,
    port: int,
    env: dict[str, str],
    fingerprint: str,
    labels: dict[str, str] | None = None,
) -> Container:
    """Start a release on the private network, with no host port and no restart policy: a
    crash leaves it exited with its exit code and one run's logs, which fails the deploy at
    once. ``make_permanent`` gives it its restart policy once it is live."""
    name = f"{release_prefix(project, app)}{release}"
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        client.containers.get(name).remove(force=True)  # a leftover of a killed deploy
    # The stubs' restart policy names lack "no" and "unless-stopped", which Docker takes.
    return client.containers.run(  # type: ignore[call-overload]
        image,
        name=name,
        detach=True,
        network=NETWORK,
        environment={**env, "PORT": str(port)},
        init=True,  # PID 1 forwards signals: an app without handlers still stops on SIGTERM
        restart_policy={"Name": "no"},
        labels={
            **(labels or {}),  # a preview's (previews.py): never over Pilot's own below
            "pilot.project": project,
            "pilot.app": app,
            "pilot.release": release,
            "pilot.fingerprint": fingerprint,
        },
    )


def make_permanent(container: Container) -> None:
    """The live release restarts with the engine (a reboot) and after a crash."""
    container.update(restart_policy={"Name": "unless-stopped"})  # type: ignore[arg-type]


def container_tail(container: Container, lines: int = LOG_TAIL) -> tuple[str, ...]:
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
                out.append(f"[{what} repeated {counted(times - 1, 'more time')}]")
                i += times * size
                break
        else:
            out.append(lines[i])
            i += 1
    return out


def wait_healthy(
    container: Container,
    proxy_container: Container,
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


def _fail_if_down(container: Container) -> None:
    problem = trouble(container)
    if problem is not None:
        raise ReleaseError(
            f"the new release {problem} before it was live; the previous release keeps serving",
            container_tail(container),
        )


def retire(containers: list[Container], keep: str | None, stop_timeout: int = 0) -> None:
    """Stop and remove an app's other releases (after the drain), as a platform does: the
    image's stop signal (SIGTERM), through the container's init so that an app without a
    handler exits at once and one with a handler finishes the requests it has, then
    SIGKILL after ``stop_timeout`` seconds."""
    from docker.errors import DockerException

    for container in containers:
        if container.id == keep:
            continue
        if container.status == "running":
            with contextlib.suppress(DockerException):  # gone meanwhile: removed below
                container.stop(timeout=stop_timeout)
        container.remove(force=True)


def release_prefix(project: str, app: str) -> str:
    """What the names of an app's release containers (and so its upstreams) start with."""
    return f"pilot-{project}-{app}-"


def stream_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """A Docker log stream's chunks as whole lines (a chunk may end mid-line), decoded."""
    pending = b""
    for chunk in stream:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            yield raw.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")
