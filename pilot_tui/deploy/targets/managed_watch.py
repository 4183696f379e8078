"""Watching a release on a managed target once it is live, so a bad one undoes itself.

For ``target.watch`` seconds the kind's probe (ManagedTarget.probe: a Lambda's alias asked
for its health path as its function URL would be, a Cloud Run service's URL asked for it)
looks every INTERVAL seconds;
``watch_failures`` misses in a row (it raised, or answered other than 2xx) and the
previous release's revision, which the platform keeps, takes the traffic back. A look the
platform's API could not make counts neither way: a laptop losing its network must not
revert a good release. The Docker host has its own watch (docker_host/watch.py), which
also sees its containers and the edge's 5xx rate.

``verdict`` decides on the looks, a pure function, tested as data.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from pilot_tui.config import schema
from pilot_tui.deploy.targets.managed import Probe
from pilot_tui.wording import counted

INTERVAL = 2.0  # seconds between looks (an invocation each: a Lambda bills them)
PROBE_TIMEOUT = 10.0  # seconds an HTTP health check may take (a cold start included)
SAY_EVERY = 10.0  # seconds between "still watching" lines


# The managed kinds watched.
WATCHED = (schema.LambdaTarget, schema.CloudRunTarget, schema.EcsTarget)


def settings_of(target: schema.Target) -> tuple[int, int, str] | None:
    """(seconds, failures in a row, health path) of a managed kind that is watched; None
    for a kind not watched yet (its platform's own rollout is all)."""
    if isinstance(target, WATCHED):
        return target.watch, target.watch_failures, target.health_path
    return None


def without_watch(target: schema.Target) -> schema.Target:
    """``target`` with its watch settings at their defaults (they make no revision). An ECS
    app's health_path is kept: its load balancer's health check is made from it."""
    if not isinstance(target, WATCHED):
        return target
    defaults = type(target)()
    kept = target.health_path if isinstance(target, schema.EcsTarget) else defaults.health_path
    return dataclasses.replace(
        target,
        health_path=kept,
        watch=defaults.watch,
        watch_failures=defaults.watch_failures,
    )


def verdict(looks: list[Probe], failures: int) -> str | None:
    """Why to revert after ``looks`` (the newest last), or None."""
    misses = _streak(looks)
    if misses >= failures:
        last = next(look for look in reversed(looks) if look.healthy is False)
        return f"its health check failed {misses} times in a row (last: {last.detail})"
    return None


def watch(
    probe: Callable[[], Probe],
    seconds: float,
    failures: int,
    line: Callable[[str], None],
    cancelled: Callable[[], bool],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Look for ``seconds``, and on while a run of misses begun by then is neither broken
    nor long enough (a release that hangs makes few, slow looks); why to revert, or None
    (it stayed well, it could not be judged, or a person stopped the watch: said so)."""
    deadline = clock() + seconds
    looks: list[Probe] = []
    said = clock()
    while not cancelled() and (clock() < deadline or _streak(looks) > 0):
        looks.append(probe())
        why = verdict(looks, failures)
        if why is not None:
            return why
        if clock() - said >= SAY_EVERY:
            newest = looks[-1]
            state = "healthy" if newest.healthy else f"last look: {newest.detail}"
            line(f"watching: {state}; {max(deadline - clock(), 0):.0f} s left")
            said = clock()
        sleep(INTERVAL)
    decisive = [look for look in looks if look.healthy is not None]
    if cancelled():
        line("stopped watching: the new release stays live")
    elif looks and not decisive:
        line(
            f"not judged: none of its {counted(len(looks), 'look')} could be made (last: "
            f"{looks[-1].detail}); the new release stays live"
        )
    else:
        healthy = sum(1 for look in decisive if look.healthy)
        line(f"watched: it stayed well ({healthy} healthy looks of {len(looks)})")
    return None


def _streak(looks: list[Probe]) -> int:
    """The misses in a row at the end of ``looks`` (looks that could not be made skipped)."""
    count = 0
    for look in reversed(looks):
        if look.healthy is None:
            continue
        if look.healthy:
            break
        count += 1
    return count


def http_probe(url: str, timeout: float | None = None) -> Probe:
    """One GET of ``url`` (a Cloud Run service's, an ECS load balancer's): 2xx healthy;
    another status, or no answer within ``timeout`` (PROBE_TIMEOUT) once connected, a
    miss; no connection at all (DNS, refused, TLS: a laptop offline) no verdict."""
    import http.client
    import urllib.error
    import urllib.request

    timeout = PROBE_TIMEOUT if timeout is None else timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except urllib.error.URLError as exc:  # before an answer could begin: not the app's
        return Probe(None, f"{url} could not be reached ({exc.reason})")
    except TimeoutError:
        return Probe(False, f"no answer in {timeout:g} s")
    except http.client.HTTPException as exc:  # an answer, but no HTTP one: the app's
        return Probe(False, f"no HTTP answer ({type(exc).__name__})")
    except OSError as exc:  # the connection dropped midway
        return Probe(None, f"{url}: {exc}")
    return Probe(200 <= status < 300, f"HTTP {status}")
