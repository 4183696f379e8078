"""The watch's decision as data: what reverts a live release (its container down, its
health check missed N times in a row, too many 5xx through the edge once there are enough
requests to say), and what does not."""

from __future__ import annotations

import pytest

from pilot_tui.config.schema import ServerTarget
from pilot_tui.deploy.targets.docker_host.edge_facts import Traffic
from pilot_tui.deploy.targets.docker_host.watch import MIN_REQUESTS, Look, verdict

QUIET = Traffic(10.0, 0, 0, None)
SETTINGS = ServerTarget(watch=60, watch_failures=3, watch_5xx_percent=20)


def look(healthy: bool = True, trouble: str | None = None, traffic: Traffic = QUIET) -> Look:
    return Look(trouble, healthy, "200" if healthy else "503", traffic)


def test_a_well_release_stays():
    assert verdict([], SETTINGS) is None
    assert verdict([look()] * 30, SETTINGS) is None


def test_its_container_going_down_reverts_it_at_once():
    why = verdict([look(), look(trouble="is restarting (exit code 1, 2 restart(s))")], SETTINGS)
    assert why == "its container is restarting (exit code 1, 2 restart(s))"


def test_health_misses_revert_only_in_a_row():
    missed_twice = [look(False), look(False), look(), look(False), look(False)]
    assert verdict(missed_twice, SETTINGS) is None
    why = verdict([look(), look(False), look(False), look(False)], SETTINGS)
    assert why == "its health check failed 3 times in a row (last: 503)"


def test_too_many_5xx_revert_once_there_are_enough_requests():
    few = Traffic(5.0, MIN_REQUESTS - 1, MIN_REQUESTS - 1, None)  # all 5xx, too few to say
    assert verdict([look(traffic=few)], SETTINGS) is None
    under = Traffic(5.0, 100, 20, None)  # 20%: the limit, not past it
    assert verdict([look(traffic=under)], SETTINGS) is None
    over = Traffic(5.0, 100, 21, None)
    why = verdict([look(traffic=over)], SETTINGS)
    assert why == "21 of its 100 requests through the proxy answered 5xx (21%; the limit is 20%)"


def test_ctrl_c_stops_a_watch_as_cancel_does_and_says_so():
    """targets.base.watching: a KeyboardInterrupt (the CLI's Ctrl+C) mid-watch keeps the new
    release (no reason to revert) and cancels the run from there on; any other error, and
    a watch that ends, pass through as they are."""
    from types import SimpleNamespace

    from pilot_tui.deploy.context import CancelToken
    from pilot_tui.deploy.targets.base import watching

    def interrupted() -> str | None:
        raise KeyboardInterrupt

    ctx = SimpleNamespace(cancel=CancelToken())
    said: list[str] = []
    assert watching(ctx, interrupted, said.append) is None  # type: ignore[arg-type]
    assert ctx.cancel.is_set() and said == ["stopped watching: the new release stays live"]

    calm = SimpleNamespace(cancel=CancelToken())
    assert watching(calm, lambda: "its container exited") == "its container exited"  # type: ignore[arg-type]
    assert not calm.cancel.is_set()

    def broken() -> str | None:
        raise RuntimeError("the engine went")

    with pytest.raises(RuntimeError):
        watching(calm, broken)  # type: ignore[arg-type]
    assert not calm.cancel.is_set()
