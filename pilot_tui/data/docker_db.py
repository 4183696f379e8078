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
from pilot_tui.data.kinds import GENERATION, DatabaseRun, Kind
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
STOP_SECONDS = 30  # a database stops cleanly (flushes, closes its clients) before a kill
VERSION = "pilot.database.version"  # label of the container and of the volume
ROLE = "pilot.role=database"  # a live database's container or data (not a drill's, a check's)
CHECK_ROLE = "database-check"  # the container a restore's or drill's data is checked in
CHECKING = f"pilot.role={CHECK_ROLE}"
TEMPLATE_ROLE = "database-template"  # an empty cluster its restores start from (no data)


class DatabaseError(ReleaseError):
    """A database cannot be made, started or changed as pilot.toml says; ``logs`` holds its
    container's last lines when it is to blame."""

    title = "Database problem"


@dataclass(frozen=True)
class Found:
    """A database as its host has it: ``kind`` at the generation of the data it serves
    (the newest restore's), ``kept`` the volumes of the data from before each restore."""

    kind: Kind
    container: Container | None
    volume: bool  # whether its data volume exists
    volume_version: str | None = None  # the major version its data was made by
    kept: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        if self.container is not None:
            return str(self.container.status)
        return "data only (no container)" if self.volume else "not created"


def owned(kind: Kind) -> list[str]:
    """Label filters matching everything of this database (any generation, any role)."""
    return [f"pilot.project={kind.project}", f"pilot.database={kind.name}"]


def _generation(labels: dict[str, str] | None) -> int:
    value = (labels or {}).get(GENERATION, "1")
    return int(value) if value.isdigit() else 1


def live_generation(client: DockerClient, kind: Kind) -> tuple[int, dict[str, int]]:
    """The generation the database serves: its container's (the newest, when a restore is
    switching), else its newest data volume's; and each of its data volumes' generation."""
    containers = client.containers.list(all=True, filters={"label": [*owned(kind), ROLE]})
    volumes = {
        str(v.name): _generation(v.attrs.get("Labels"))
        for v in client.volumes.list(filters={"label": [*owned(kind), ROLE]})
    }
    by_container = [_generation(c.labels) for c in containers]
    # Without a container, the newest data, but never a restore's still being checked (its
    # check container is there: a deploy meanwhile, or a check cut short, must not use it).
    checking = {
        str(c.name).removesuffix("-check")
        for c in client.containers.list(all=True, filters={"label": [*owned(kind), CHECKING]})
    }
    by_volume = [g for name, g in volumes.items() if name not in checking]
    live = max(by_container or by_volume or [1])
    return live, volumes


def find(client: DockerClient, kind: Kind) -> Found:
    """The database's live container and volume; DatabaseError when either is another's
    (names can meet: project "a" + database "b-c" and project "a-b" + database "c")."""
    from docker.errors import NotFound

    generation, volumes = live_generation(client, kind)
    kind = kind.at(generation)
    container = None
    with contextlib.suppress(NotFound):
        container = client.containers.get(kind.container)
    volume_labels: dict[str, str] | None = None
    with contextlib.suppress(NotFound):
        volume_labels = client.volumes.get(kind.volume).attrs.get("Labels") or {}
    for what, labels in (
        (f"container {kind.container}", container.labels if container is not None else None),
        (f"volume {kind.volume}", volume_labels),
    ):
        if labels is not None and (
            labels.get("pilot.project") != kind.project or labels.get("pilot.database") != kind.name
        ):
            owner = labels.get("pilot.project", "nobody Pilot knows")
            raise DatabaseError(
                f"{what} on the Docker host is not database {kind.name} of project "
                f"{kind.project} (it is {owner}'s): rename the database in pilot.toml"
            )
    kept = tuple(name for name in volumes if name != kind.volume)
    return Found(
        kind, container, volume_labels is not None, (volume_labels or {}).get(VERSION), kept
    )


def password_for(kind: Kind, container: Container | None, state_dir: Path) -> str:
    """The running container's password, else the one kept here, else a new one; kept here."""
    value = made_with(kind, container) if container is not None else None
    value = value or passwords.stored(state_dir, kind.name) or passwords.new()
    passwords.keep(state_dir, kind.name, value)
    return value


def made_with(kind: Kind, container: Container) -> str | None:
    """The password ``container`` was made with (its environment or command says it)."""
    config = container.attrs.get("Config") or {}
    env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
    return kind.password_of(env, list(config.get("Cmd") or []))


def ensure(
    client: DockerClient, kind: Kind, state_dir: Path, line: Callable[[str], None]
) -> tuple[Kind, str]:
    """The database running and taking connections; returns it at the generation it
    serves (its URL names that generation's container) and its password."""
    from docker.errors import DockerException

    try:
        return _ensure(client, kind, state_dir, line)
    except DockerException as exc:  # the engine refused something: say which database
        raise DatabaseError(f"{kind.what}: the Docker host refused: {exc}") from exc


def _ensure(
    client: DockerClient, kind: Kind, state_dir: Path, line: Callable[[str], None]
) -> tuple[Kind, str]:
    found = find(client, kind)
    kind = found.kind
    _refuse_major_change(kind, found)
    container = found.container
    password = password_for(kind, container, state_dir)
    run = kind.run(password)
    ensure_image(client, run.image, line, f"the {kind.kind} image")
    if container is not None and _outdated(container, run, client):
        line(f"renewing {kind.what}'s container ({run.image}, memory {run.memory}); data kept")
        stop_and_remove(container)
        container = None
    made_now = container is None
    if container is None:
        line(f"starting {kind.what} (volume {run.volume})")
        container = create(client, run)
        # A teammate's deploy may have made it first (a 409): its password is the one.
        password = password_for(kind, container, state_dir)
    if container.status != "running":
        container.start()
    wait_ready(container, kind, password)
    if made_now and found.volume:
        keep_password(container, kind, password)  # the data kept its old one
    return kind, password


def keep_password(container: Container, kind: Kind, password: str) -> None:
    """Make ``password`` the data's: a container made anew on data made before (a kept
    volume, a teammate without the password file) would else give the apps a password the
    database refuses."""
    change = kind.set_password(password)
    if change is None:
        return
    command, environment = change
    result = container.exec_run(command, environment=environment)
    if result.exit_code != 0:
        output = cast(bytes, result.output).decode(errors="replace").strip()
        raise DatabaseError(
            f"{kind.what} started on its kept data, but its password could not be set",
            tuple(output.splitlines()[-5:]),
        )


def stop_and_remove(container: Container) -> None:
    """Stop cleanly (the database flushes and closes its clients), then remove."""
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):  # gone already, or not running
        container.stop(timeout=STOP_SECONDS)
    container.remove(force=True)


def _refuse_major_change(kind: Kind, found: Found) -> None:
    """A new major version, before anything is touched: by the container's label, else by
    the data's (a volume kept without its container)."""
    labels = found.container.labels if found.container is not None else {}
    running = labels.get(VERSION) or found.volume_version
    wanted = str(kind.settings.version)
    if running is not None and running != wanted:
        raise DatabaseError(
            f"{kind.kind} database {kind.name} holds data of version {running}; pilot.toml "
            f"says version = {wanted}, a new major version, whose data files need a dump and "
            f"a restore: set version = {running} again, or make a new database with version "
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


def create(client: DockerClient, run: DatabaseRun) -> Container:
    from docker.errors import APIError

    client.volumes.create(run.volume, labels=run.labels)  # the same again: no error
    ensure_network(client)  # `db restore --to` may make the host's first database
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


def wait_ready(container: Container, kind: Kind, password: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    output = ""
    pause = 0.1  # a restore waits on this: a start takes ~1-2 s, a first start's initdb more
    while time.monotonic() < deadline:
        result = container.exec_run(
            kind.ready(password), environment=kind.ready_environment(password)
        )
        output = cast(bytes, result.output).decode(errors="replace").strip()
        if result.exit_code == 0 and kind.ready_output in output:
            return
        container.reload()
        if container.status not in ("running", "created", "restarting"):
            break
        time.sleep(pause)
        # A low ceiling: a restore or a deploy waits on the moment it is up, and each look
        # (an exec) is cheap next to the second or two a start takes.
        pause = min(pause * 1.5, 0.25)
    tail = container.logs(tail=20).decode(errors="replace").strip().splitlines()
    answer = output or "no answer"
    raise DatabaseError(f"{kind.what} did not take connections ({answer})", tuple(tail))


def health(client: DockerClient, kind: Kind) -> str:
    """ "healthy" when it takes connections now; else what it is ("not deployed": no
    container yet, as an app never deployed)."""
    found = find(client, kind)
    container, kind = found.container, found.kind
    if container is None:
        return "data only (no container)" if found.volume else "not deployed"
    if container.status != "running":
        return "stopped" if container.status in ("exited", "created") else str(container.status)
    password = made_with(kind, container) or ""
    result = container.exec_run(kind.ready(password), environment=kind.ready_environment(password))
    output = cast(bytes, result.output).decode(errors="replace")
    if result.exit_code == 0 and kind.ready_output in output:
        return "healthy"
    return "unhealthy (not taking connections)"


def remove(client: DockerClient, kind: Kind, *, data: bool) -> list[str]:
    """Remove the database's containers, the empty cluster its restores start from and,
    with ``data``, its volumes (those kept from before each restore too); what was
    removed."""
    from docker.errors import NotFound

    find(client, kind)  # refuses another's
    removed = []
    for container in client.containers.list(all=True, filters={"label": owned(kind)}):
        stop_and_remove(container)
        removed.append(f"container {container.name}")
    for volume in client.volumes.list(filters={"label": owned(kind)}):
        if data or (volume.attrs.get("Labels") or {}).get("pilot.role") == TEMPLATE_ROLE:
            with contextlib.suppress(NotFound):
                volume.remove()
                removed.append(f"volume {volume.name}")
    return removed


def remove_generation(client: DockerClient, kind: Kind) -> None:
    """Remove ``kind``'s generation: its container and its volume (a restore that failed
    after its data was checked: the generation before it still serves)."""
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):
        stop_and_remove(client.containers.get(kind.container))
    with contextlib.suppress(NotFound):
        client.volumes.get(kind.volume).remove(force=True)
