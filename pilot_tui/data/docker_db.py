"""A database's container on a Docker host: made (or started, or renewed keeping its volume
when its image or memory limit changed), waited for until it takes connections, found,
and removed only when asked by name.

A new major version is refused before anything is touched: its files need a dump and a
restore, which a new image cannot do to the volume. The container's own settings are the
truth about its password (a teammate's deploy may have made it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pilot_tui.data import passwords
from pilot_tui.data.kinds import DatabaseRun, Kind
from pilot_tui.deploy.targets.docker_host.containers import (
    NETWORK,
    ReleaseError,
    ensure_image,
    ensure_network,
)

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

READY_SECONDS = 90.0  # a first start initialises the data folder (Postgres: ~2-10 s)


class DatabaseError(ReleaseError):
    """A database cannot be made, started or changed as pilot.toml says; ``logs`` holds its
    container's last lines when it is to blame."""

    title = "Database problem"


@dataclass(frozen=True)
class Found:
    """A database as its host has it."""

    container: Container | None
    volume: bool  # whether its data volume exists

    @property
    def state(self) -> str:
        if self.container is not None:
            return str(self.container.status)
        return "data only (no container)" if self.volume else "not created"


def find(client: DockerClient, kind: Kind) -> Found:
    from docker.errors import NotFound

    container = None
    with contextlib.suppress(NotFound):
        container = client.containers.get(kind.container)
    try:
        client.volumes.get(kind.volume)
        volume = True
    except NotFound:
        volume = False
    return Found(container, volume)


def password_for(kind: Kind, container: Container | None, state_dir: Path) -> str:
    """The running container's password, else the one kept here, else a new one; kept here."""
    value = None
    if container is not None:
        config = container.attrs.get("Config") or {}
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        value = kind.password_of(env, list(config.get("Cmd") or []))
    value = value or passwords.stored(state_dir, kind.name) or passwords.new()
    passwords.keep(state_dir, kind.name, value)
    return value


def ensure(client: DockerClient, kind: Kind, state_dir: Path, line: Callable[[str], None]) -> str:
    """The database running and taking connections; returns its password."""
    from docker.errors import DockerException

    try:
        return _ensure(client, kind, state_dir, line)
    except DockerException as exc:  # the engine refused something: say which database
        raise DatabaseError(f"{kind.what}: the Docker host refused: {exc}") from exc


def _ensure(client: DockerClient, kind: Kind, state_dir: Path, line: Callable[[str], None]) -> str:
    found = find(client, kind)
    container = found.container
    if container is not None:
        _refuse_major_change(kind, container)
    password = password_for(kind, container, state_dir)
    run = kind.run(password)
    ensure_network(client)
    ensure_image(client, run.image, line, f"the {kind.kind} image")
    if container is not None and _outdated(container, run, client):
        line(f"renewing {kind.what}'s container ({run.image}, memory {run.memory}); data kept")
        container.remove(force=True)
        container = None
    if container is None:
        line(f"starting {kind.what} (volume {run.volume})")
        container = _create(client, run)
    if container.status != "running":
        container.start()
    _wait_ready(container, kind, password)
    return password


def _refuse_major_change(kind: Kind, container: Container) -> None:
    running = container.labels.get("pilot.database.version")
    wanted = str(kind.settings.version)
    if running is not None and running != wanted:
        raise DatabaseError(
            f"{kind.kind} database {kind.name} runs version {running}; pilot.toml says "
            f"version = {wanted}, a new major version, whose data files need a dump and a "
            f"restore: set version = {running} again, or make a new database with version "
            f"{wanted} and move the data with pg_dump/pg_restore"
        )


def _outdated(container: Container, run: DatabaseRun, client: DockerClient) -> bool:
    """Whether the container runs another image or memory limit than ``run`` says."""
    image = client.images.get(run.image)
    wanted_memory = _bytes(run.memory)
    memory = (container.attrs.get("HostConfig") or {}).get("Memory") or 0
    return container.image is None or container.image.id != image.id or memory != wanted_memory


def _bytes(size: str) -> int:
    number, unit = int(size[:-1]), size[-1]
    return number * (1024 ** (2 if unit == "m" else 3))


def _create(client: DockerClient, run: DatabaseRun) -> Container:
    from docker.errors import APIError

    client.volumes.create(run.volume, labels=run.labels)  # the same again: no error
    try:
        return _create_container(client, run)
    except APIError as exc:
        if exc.status_code != 409:
            raise
        return client.containers.get(run.name)  # a teammate's deploy made it meanwhile


def _create_container(client: DockerClient, run: DatabaseRun) -> Container:
    from docker.types import LogConfig

    return client.containers.create(
        run.image,
        command=run.command,
        name=run.name,
        network=NETWORK,  # reached by name from the apps; no port published
        environment=run.environment,
        volumes={run.volume: {"bind": run.mount, "mode": "rw"}},
        mem_limit=run.memory,
        restart_policy={"Name": "unless-stopped"},  # type: ignore[arg-type]  # stubs lack it
        log_config=LogConfig(type="json-file", config={"max-size": "20m", "max-file": "3"}),
        labels=run.labels,
    )


def _wait_ready(container: Container, kind: Kind, password: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    output = ""
    while time.monotonic() < deadline:
        result = container.exec_run(kind.ready(password))
        output = cast(bytes, result.output).decode(errors="replace").strip()
        if result.exit_code == 0 and kind.ready_output in output:
            return
        container.reload()
        if container.status not in ("running", "created", "restarting"):
            break
        time.sleep(0.5)
    tail = container.logs(tail=20).decode(errors="replace").strip().splitlines()
    answer = output or "no answer"
    raise DatabaseError(f"{kind.what} did not take connections ({answer})", tuple(tail))


def remove(client: DockerClient, kind: Kind, *, data: bool) -> list[str]:
    """Remove the database's container and, with ``data``, its volume; what was removed."""
    from docker.errors import NotFound

    found = find(client, kind)
    removed = []
    if found.container is not None:
        found.container.remove(force=True)
        removed.append(f"container {kind.container}")
    if data and found.volume:
        with contextlib.suppress(NotFound):
            client.volumes.get(kind.volume).remove()
            removed.append(f"volume {kind.volume}")
    return removed
