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

RAISES_ON_HEALTH = """import json
import os


def handler(event, context):
    path = event.get("rawPath", "/")
    if path == "/healthz":
        raise RuntimeError("v2 cannot reach its database")
    return {"statusCode": 200, "body": json.dumps({"greeting": "v2", "path": path})}
"""


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def test_a_lambda_release_that_fails_its_health_once_live_is_reverted(fn_project, cli):
    root = fn_project
    _set(root, "apps[0].target.health_path", "/healthz")
    _set(root, "apps[0].target.watch", 30)
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

    # a good release is watched and kept (a short window)
    _set(root, "apps[0].target.watch", 5)
    _set(root, "apps[0].target.health_path", "/")
    (root / "fn" / "app.py").write_text(RAISES_ON_HEALTH.replace('"v2"', '"v4"'))
    good = cli("deploy", "fn")
    assert good.code == 0, good.err
    assert "watched: it stayed well" in good.err
    assert invoke(root, "/")["greeting"] == "v4"


def test_the_verdict_counts_misses_in_a_row_and_never_a_look_it_could_not_make():
    ok, bad, unknown = Probe(True, "200"), Probe(False, "500"), Probe(None, "Throttled")
    assert managed_watch.verdict([bad, bad], 3) is None
    assert managed_watch.verdict([bad, ok, bad, bad], 3) is None
    assert managed_watch.verdict([bad, bad, unknown, bad], 3) == (
        "its health check failed 3 times in a row (last: 500)"
    )
    assert managed_watch.verdict([unknown] * 10, 3) is None  # a lost network reverts nothing
    assert managed_watch.verdict([ok, bad, bad, bad], 3) is not None
