"""The watch on a managed target (issue 15, item 2, for every target that can be asked):
a zip Lambda release that raises once live is reverted by itself within the watch
window, its alias `live` back on the previous version; one that stays well is kept; and
`--no-watch` keeps a bad one. moto runs the function on the tests' private dockerd (the
stand-in runtime image of deploy_fixtures.lambda_runtime); the code and moto are real,
and the health path is asked through the alias as its function URL would ask it."""

from __future__ import annotations

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from pilot_tui.deploy.targets import managed_watch
from pilot_tui.deploy.targets.managed import Probe
from tests.support.deploy_fixtures import invoke

# Strict, as frameworks are (Powertools reads requestContext.stage, Django the host): the
# watch's look must be a whole function-URL event, or every release would be reverted.
STRICT = """import json


def strict(event):
    context = event["requestContext"]
    assert context["stage"] == "$default" and context["http"]["method"] == "GET"
    assert event["headers"]["host"] and context["timeEpoch"] and context["requestId"]
    return event["rawPath"]
"""
RAISES_ON_HEALTH = (
    STRICT
    + """

def handler(event, context):
    path = strict(event)
    if path == "/healthz":
        raise RuntimeError("v2 cannot reach its database")
    return {"statusCode": 200, "body": json.dumps({"greeting": "v2", "path": path})}
"""
)
HEALTHY = (
    STRICT
    + """

def handler(event, context):
    path = strict(event)
    return {"statusCode": 200, "body": json.dumps({"greeting": "hi", "path": path})}
"""
)


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def test_a_lambda_release_that_fails_its_health_once_live_is_reverted(fn_project, cli):
    root = fn_project
    _set(root, "apps[0].target.health_path", "/healthz")
    _set(root, "apps[0].target.watch", 30)
    (root / "fn" / "app.py").write_text(HEALTHY)
    first = cli("deploy", "fn")  # nothing to go back to: not watched
    assert first.code == 0, first.err
    assert "watching" not in first.err

    (root / "fn" / "app.py").write_text(RAISES_ON_HEALTH)
    bad = cli("deploy", "fn")
    assert bad.code != 0
    assert "watching the new release for 30 s: /healthz asked every 2 s" in bad.err
    assert (
        "v2 was reverted: its health check failed 3 times in a row "
        "(last: it raised 'v2 cannot reach its database'); v1 serves again"
    ) in bad.err, bad.err
    v1, v2 = history.load(root / ".pilot", "fn")
    assert (v1.status, v2.status) == (history.LIVE, history.REVERTED)
    assert v2.note.startswith("reverted: its health check failed 3 times")
    assert "v2 was reverted by the watch" in v1.note
    assert invoke(root, "/healthz")["greeting"] == "hi"  # v1's code through `live` again

    # --no-watch keeps a bad one: a person's choice
    kept = cli("deploy", "fn", "--no-watch")
    assert kept.code == 0, kept.err
    assert "watching" not in kept.err
    assert invoke(root, "/")["greeting"] == "v2"
    assert history.live(history.load(root / ".pilot", "fn")).id == "v3"

    # v3 fails /healthz: the next release is not watched on that path (nothing to compare)
    (root / "fn" / "app.py").write_text(HEALTHY.replace('"hi"', '"v4"'))
    unjudged = cli("deploy", "fn")
    assert unjudged.code == 0, unjudged.err
    assert "not watched: v3 does not pass /healthz either (it raised" in unjudged.err
    # a good release after a good one is watched and kept (a short window); a change of
    # the watch's settings alone makes no new release
    _set(root, "apps[0].target.watch", 5)
    _set(root, "apps[0].target.health_path", "/")
    assert cli("deploy", "fn").out.startswith("fn\tv4\t")
    (root / "fn" / "app.py").write_text(HEALTHY.replace('"hi"', '"v5"'))
    good = cli("deploy", "fn")
    assert good.code == 0, good.err
    assert "watching the new release for 5 s" in good.err
    assert "watched: it stayed well" in good.err
    assert invoke(root, "/")["greeting"] == "v5"


def test_the_verdict_counts_misses_in_a_row_and_never_a_look_it_could_not_make():
    ok, bad, unknown = Probe(True, "200"), Probe(False, "500"), Probe(None, "Throttled")
    assert managed_watch.verdict([bad, bad], 3) is None
    assert managed_watch.verdict([bad, ok, bad, bad], 3) is None
    assert managed_watch.verdict([bad, bad, unknown, bad], 3) == (
        "its health check failed 3 times in a row (last: 500)"
    )
    assert managed_watch.verdict([unknown] * 10, 3) is None  # a lost network reverts nothing
    assert managed_watch.verdict([ok, bad, bad, bad], 3) is not None


class Clock:
    """A fake clock the fake sleep moves; each look takes ``look_takes``."""

    def __init__(self, look_takes: float = 0.0) -> None:
        self.now = 0.0
        self.look_takes = look_takes

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _watched(looks: list[Probe], seconds: float, clock: Clock) -> tuple[str | None, list[str]]:
    said: list[str] = []
    queue = list(looks)

    def probe() -> Probe:
        clock.now += clock.look_takes
        return queue.pop(0) if queue else Probe(True, "200")

    why = managed_watch.watch(
        probe, seconds, 3, said.append, lambda: False, clock=clock, sleep=clock.sleep
    )
    return why, said


def test_a_hanging_release_is_judged_to_the_end_of_its_run_of_misses():
    """Each look of a release that hangs takes its function's timeout (30 s): a 60 s
    window holds two; the run of misses under way is judged to its end, not kept."""
    timeout = Probe(False, "it raised 'Task timed out after 30.00 seconds'")
    why, _ = _watched([timeout] * 5, 60, Clock(look_takes=30))
    assert why is not None and "failed 3 times in a row" in why
    why, said = _watched([timeout, Probe(True, "200")], 60, Clock(look_takes=30))
    assert why is None and said[-1].startswith("watched: it stayed well")


def test_a_watch_that_could_not_look_says_it_did_not_judge():
    unknown = Probe(None, "ThrottlingException")
    why, said = _watched([unknown] * 100, 10, Clock())
    assert why is None
    assert said[-1].startswith("not judged: none of its") and "ThrottlingException" in said[-1]
