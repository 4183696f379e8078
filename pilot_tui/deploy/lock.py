"""A deploy lock per app, kept on the Docker engine itself so every teammate sees it.

The lock is a created-but-never-started container named `pilot-lock-PROJECT-APP`: Docker
refuses a second container with the same name, which makes taking the lock atomic on the
engine whoever asks and however they connect. Its labels say who holds it and since when.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from docker import DockerClient


class LockHeld(PilotError):
    """Someone else is deploying this app; the message says who and since when."""

    title = "App is locked"

    def __init__(self, name: str, holder: str, since: str) -> None:
        super().__init__(
            f"{name} is locked by {holder} since {since} (a deploy or rollback "
            "in progress). Wait for it, or if it is stale (its deploy was "
            "killed) break it with --break-lock."
        )
        self.holder = holder
        self.since = since


LOCK_LABEL = "pilot.lock"  # on a lock container: the app or preview it locks ("routes": the edge's)
# A lock taken by the agent on the Docker host names the agent container it runs in (its
# AGENT_ID_LABEL, unique to that container): one whose agent no longer runs (replaced or
# removed while it held it) can never be given back, and is broken by the next taker.
AGENT_LOCK_LABEL = "pilot.lock.agent"
AGENT_ID_LABEL = "pilot.agent-id"


@dataclass(frozen=True)
class Lock:
    name: str
    container_id: str


def lock_name(project: str, app: str) -> str:
    return f"pilot-lock-{project}-{app}"


def holder() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "someone"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def acquire(client: DockerClient, project: str, app: str, image: str, *, wait: float = 0.0) -> Lock:
    """Take the lock, waiting up to ``wait`` seconds for a holder to finish."""
    from docker.errors import APIError

    name = lock_name(project, app)
    deadline = time.monotonic() + wait
    while True:
        try:
            container = client.containers.create(
                image,
                command=["true"],
                name=name,
                network_mode="none",
                labels={
                    LOCK_LABEL: app,
                    "pilot.project": project,
                    "pilot.lock.holder": holder(),
                    "pilot.lock.since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )
            return Lock(name, str(container.id))  # a created container has its id
        except APIError as exc:
            if exc.status_code != 409:
                raise
            if _broke_orphan(client, name):
                continue
        if time.monotonic() >= deadline:
            held_by, since = current(client, name)
            raise LockHeld(name, held_by, since)
        time.sleep(0.5)


def _broke_orphan(client: DockerClient, name: str) -> bool:
    """Remove lock ``name`` when the agent container that took it no longer runs (its
    process cannot give it back); whether it did. Removed by id: a lock taken anew in
    between is another's, and stays."""
    from docker.errors import NotFound

    try:
        held = client.containers.get(name)
    except NotFound:
        return True  # given back meanwhile: try again at once
    agent = held.labels.get(AGENT_LOCK_LABEL)
    if not agent:
        return False  # a person's deploy: only they know it is stale (--break-lock)
    if client.containers.list(filters={"label": f"{AGENT_ID_LABEL}={agent}"}):
        return False  # its agent runs: it gives the lock back itself
    with contextlib.suppress(NotFound):
        client.api.remove_container(str(held.id), force=True)
    return True


def current(client: DockerClient, name: str) -> tuple[str, str]:
    """(holder, since) of the lock ``name``, or ("nobody", "-") when it is free."""
    from docker.errors import NotFound

    try:
        labels = client.containers.get(name).labels
    except NotFound:
        return "nobody", "-"
    return labels.get("pilot.lock.holder", "unknown"), labels.get("pilot.lock.since", "?")


def release(client: DockerClient, lock: Lock) -> None:
    from docker.errors import NotFound

    with contextlib.suppress(NotFound):  # broken by a teammate: nothing to give back
        client.containers.get(lock.container_id).remove(force=True)


def break_lock(client: DockerClient, project: str, app: str) -> bool:
    """Remove a (stale) lock; True when there was one."""
    from docker.errors import NotFound

    try:
        client.containers.get(lock_name(project, app)).remove(force=True)
    except NotFound:
        return False
    return True
