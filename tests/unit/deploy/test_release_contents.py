"""Release contents as data: secret versions kept once per set of values (0600, never a
value in a record), what `releases` says changed, which release a rollback picks, and what
a rollback refuses (a secrets' version not here, another target kind, an unreadable
record)."""

from __future__ import annotations

import dataclasses
import re
import stat

import pytest

from pilot_tui.config.validate import check_text
from pilot_tui.deploy import history, release_contents, secret_versions, secrets
from pilot_tui.deploy.history import HistoryError, Release
from pilot_tui.errors import EXIT_INVALID

TOML = """[project]
name = "acme"
[server]
home = "sandbox"
[[apps]]
name = "api"
env = {{ GREETING = "{greeting}" }}
secrets = ["TOKEN"]
target = {{ kind = "{kind}", port = {port} }}
"""


def _app(greeting: str = "hi", port: int = 8080, kind: str = "server"):
    config = check_text(TOML.format(greeting=greeting, port=port, kind=kind)).config
    assert config is not None
    return config.apps[0]


def _release(id_: str, image: str, app=None, version: str | None = None) -> Release:
    return Release(
        id_,
        "api",
        f"pilot-acme-api:{image}",
        f"sha256:{image}",
        "2026-12-04T00:00:00Z",
        history.SUPERSEDED,
        settings=release_contents.settings_record(app) if app is not None else None,
        secrets_version=version,
    )


def test_a_version_is_kept_once_per_set_of_values(tmp_path):
    assert secret_versions.keep(tmp_path, "api", {}) is None  # no secrets: nothing to keep
    s1 = secret_versions.keep(tmp_path, "api", {"TOKEN": "a"})
    assert s1 is not None and re.fullmatch(r"s1-[0-9a-f]{6}", s1)
    assert secret_versions.keep(tmp_path, "api", {"TOKEN": "a"}) == s1  # unchanged
    s2 = secret_versions.keep(tmp_path, "api", {"TOKEN": "b\nc"})
    assert s2 is not None and s2.startswith("s2-")
    assert secret_versions.read(tmp_path, "api", s2) == {"TOKEN": "b\nc"}
    # a teammate's s1 (from the shared history) is not this machine's s1
    assert secret_versions.read(tmp_path, "api", "s1-000000") is None
    assert secret_versions.read(tmp_path, "api", "../../x") is None  # never a path
    path = secret_versions.version_file(tmp_path, "api", s1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert set(secrets.stored_values(tmp_path)) >= {"a", "b\nc"}  # masked everywhere
    assert secret_versions.changed_names(tmp_path, "api", s1, s2) == ["TOKEN"]
    assert secret_versions.changed_names(tmp_path, "api", None, s1) == ["TOKEN"]
    assert secret_versions.changed_names(tmp_path, "api", s1, "s7-abcdef") is None


def test_what_changed_between_releases_names_keys_never_values(tmp_path):
    s1 = secret_versions.keep(tmp_path, "api", {"TOKEN": "old-value"})
    s2 = secret_versions.keep(tmp_path, "api", {"TOKEN": "new-value"})
    before = _release("v1", "aaa", _app("hi", 8080), s1)
    after = _release("v2", "bbb", _app("hello", 8081), s2)
    said = release_contents.changes(tmp_path, before, after)
    assert said == [
        "image pilot-acme-api:aaa -> pilot-acme-api:bbb",
        "env changed: GREETING",
        "target.port 8080 -> 8081",
        "secrets changed: TOKEN",
    ]
    assert not any("value" in line or "hello" in line for line in said)
    assert release_contents.changes(tmp_path, None, after) == []
    gone = dataclasses.replace(after, secrets_version="s5-abcdef")
    assert (
        "(a version is not on this machine)" in release_contents.changes(tmp_path, before, gone)[-1]
    )


def test_a_rollback_picks_the_newest_release_that_differs_in_anything():
    app = _app()
    v1 = _release("v1", "aaa", app, "s1")
    v2 = _release("v2", "aaa", _app("hello"), "s1")  # same image, other settings
    v3 = dataclasses.replace(_release("v3", "aaa", app, "s1"), status=history.LIVE)
    # v2 differs from the live v3 by its settings alone: it is the one before
    assert history.rollback_candidate([v1, v2, v3], None).id == "v2"
    # v1 is v3 exactly: skipped, and the refusal says so and how to put it back all the
    # same (the walk: "no earlier release to roll back to" beside a `releases` of two)
    with pytest.raises(HistoryError, match="no earlier release") as refused:
        history.rollback_candidate([v1, v3], None, "web")
    assert "differs from the live one, v3: v1 has the same image" in str(refused.value)
    assert "pilot-tui rollback web v1" in str(refused.value)
    assert history.rollback_candidate([v1, v3], "v1").id == "v1"  # named: put back
    assert history.rollback_candidate([v1, v3], "v3").id == "v3"  # the live one: relaunched
    # one never made, or never live, is bad input (exit 2; found walking: exit 1); the live
    # one is put back when named (a restore relaunches it; the CLI refuses it itself)
    for wanted, said in (
        ("v9", "no release 'v9' (releases: v1, v2, v3)"),
        ("v2", "release v2 never went live (failed); pick one that did"),
    ):
        v2_failed = dataclasses.replace(v2, status=history.FAILED)
        with pytest.raises(HistoryError, match=re.escape(said)) as refused:
            history.rollback_candidate([v1, v2_failed, v3], wanted, "web")
        assert refused.value.exit_code == EXIT_INVALID
    # nothing before it at all: bad input too (found walking: "release failed", exit 1)
    said = r"^nothing to roll back to: no earlier release went live \(web has only v3\)$"
    with pytest.raises(HistoryError, match=said) as refused:
        history.rollback_candidate([v3], None, "web")
    assert refused.value.exit_code == EXIT_INVALID
    # records from before settings were kept compare by image, as they did
    old1, old2 = _release("v1", "aaa"), dataclasses.replace(_release("v2", "aaa"), status="live")
    with pytest.raises(HistoryError, match="no earlier release"):
        history.rollback_candidate([old1, old2], None)


def test_a_rollback_restores_or_refuses(tmp_path):
    app = _app()
    s1 = secret_versions.keep(tmp_path, "api", {"TOKEN": "t1"})
    target = _release("v1", "aaa", app, s1)
    restored = release_contents.restore(tmp_path, target, _app("changed since"))
    assert restored is not None
    assert restored.app == app and restored.secrets == {"TOKEN": "t1"}
    assert release_contents.restore(tmp_path, _release("v0", "aaa"), app) is None  # unrecorded
    missing = _release("v2", "aaa", app, "s4-abcdef")
    with pytest.raises(HistoryError, match=r"\(version s4-abcdef\) are not on this machine"):
        release_contents.restore(tmp_path, missing, app)
    with pytest.raises(HistoryError, match="ran on target 'server' and the app is on 'ecs'"):
        release_contents.restore(tmp_path, target, _app(kind="ecs"))
    broken = dataclasses.replace(target, settings={"name": "api", "target": {"kind": "nope"}})
    with pytest.raises(HistoryError, match="cannot be read"):
        release_contents.restore(tmp_path, broken, app)
    unversioned = _release("v3", "aaa", app, None)  # secrets named, no version recorded
    with pytest.raises(HistoryError, match="needs secret"):
        release_contents.restore(tmp_path, unversioned, app)
