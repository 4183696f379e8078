"""Watching a release once it is live on the Docker host, so a bad one undoes itself.

For ``target.watch`` seconds after the switch, with the previous release still running
beside it (so going back is one switch of the edge, not a start), Pilot looks once a second
at what a person would: whether the container exited or restarted (``containers.trouble``),
whether its health path answers 2xx (``watch_failures`` misses in a row revert it), and its
requests through the edge (its access log: more than ``watch_5xx_percent`` 5xx, once it
has ``MIN_REQUESTS``, reverts it). ``watch`` returns why to revert, or None.

The decision on the edge's numbers is ``verdict``, a pure function, tested as data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pilot_tui.config.schema import ServerTarget
from pilot_tui.deploy.targets.docker_host import containers, edge_facts

if TYPE_CHECKING:
    from docker.models.containers import Container

MIN_REQUESTS = 10  # fewer say nothing about a rate
INTERVAL = 1.0  # seconds between looks


@dataclass(frozen=True)
class Look:
    """One look at a watched release."""

    trouble: str | None  # its container exited / restarts (containers.trouble)
    healthy: bool
    health: str  # the check's status or error
    traffic: edge_facts.Traffic  # its requests through the edge since it went live


def verdict(looks: list[Look], settings: ServerTarget) -> str | None:
    """Why the release must be reverted after ``looks`` (the newest last), or None."""
    if not looks:
        return None
    newest = looks[-1]
    if newest.trouble is not None:
        return f"its container {newest.trouble}"
    misses = 0
    for look in reversed(looks):
        if look.healthy:
            break
        misses += 1
    if misses >= settings.watch_failures:
        return f"its health check failed {misses} times in a row (last: {newest.health})"
    served = newest.traffic
    if served.requests >= MIN_REQUESTS and served.error_rate * 100 > settings.watch_5xx_percent:
        return (
            f"{served.errors} of its {served.requests} requests through the proxy answered "
            f"5xx ({served.error_rate:.0%}; the limit is {settings.watch_5xx_percent}%)"
        )
    return None


def watch(
    container: Container,
    edge: Container,
    settings: ServerTarget,
    hosts: set[str],
    line: Callable[[str], None],
    cancelled: Callable[[], bool],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Look at the live release for ``settings.watch`` seconds; why to revert it, or None
    (it stayed well, or the watch was cancelled: a person chose to stop watching)."""
    since = edge_facts.host_time(edge)
    deadline = clock() + settings.watch
    looks: list[Look] = []
    said = clock()
    while clock() < deadline and not cancelled():
        trouble = containers.trouble(container)
        where = containers.address(container) if trouble is None else None
        healthy, health = (
            containers.http_check(edge, where, settings.port, settings.health_path)
            if where is not None
            else (False, "no address")
        )
        traffic = requests_since(edge, hosts, since)
        looks.append(Look(trouble, healthy, health, traffic))
        why = verdict(looks, settings)
        if why is not None:
            return why
        if clock() - said >= 10:
            left = max(deadline - clock(), 0)
            line(f"watching: healthy, {traffic.text()}; {left:.0f} s left")
            said = clock()
        sleep(INTERVAL)
    return None


def requests_since(edge: Container, hosts: set[str], since: float) -> edge_facts.Traffic:
    """The app's requests through the edge since ``since`` (the Docker host's clock)."""
    now = edge_facts.host_time(edge)
    raw = edge.logs(stdout=True, stderr=False, since=int(since)).decode(errors="replace")
    entries = [a for a in map(edge_facts.parse_access, raw.splitlines()) if a]
    return edge_facts.traffic(entries, hosts, now, max(now - since, 1.0))
