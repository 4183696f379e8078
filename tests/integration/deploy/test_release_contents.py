"""A release is image + settings + secrets (issue 15, item 1), on the Docker host, through
the CLI against the tests' private dockerd: a rollback runs the old image with the old env
and the old secret values, `releases` says what changed (names, never values), and a
rollback whose secrets' version is not on this machine says so and releases nothing."""

from __future__ import annotations

import json
import stat

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history, secret_versions
from tests.support.deploy_fixtures import SECRET, get

ROTATED = "tok-rotated-3b9d41e07c55-never-shown"


def _live_env(docker_client, state) -> dict[str, str]:
    """The variables the live release's container runs with (an older one may still be
    draining beside it)."""
    live = history.live(history.load(state, "hello"))
    assert live is not None
    (container,) = docker_client.containers.list(
        filters={"label": ["pilot.app=hello", f"pilot.release={live.id}"]}
    )
    found = {}
    for name in ("GREETING", "NEW", "API_TOKEN"):
        out = container.exec_run(["sh", "-c", f'printf %s "${{{name}:-unset}}"']).output
        found[name] = out.decode()
    return found


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def test_rollback_restores_env_and_secret_versions(site, cli, docker_client, monkeypatch):
    root, port = site
    state = root / ".pilot"
    first = cli("deploy", "hello")
    assert first.code == 0, first.err
    assert _live_env(docker_client, state) == {
        "GREETING": "hi",
        "NEW": "unset",
        "API_TOKEN": SECRET,
    }

    # v2: an env value changed, one added, the secret rotated (same source, same image)
    _set(root, "apps[0].env.GREETING", "hello there")
    _set(root, "apps[0].env.NEW", "x")
    monkeypatch.setenv("API_TOKEN", ROTATED)
    second = cli("deploy", "hello")
    assert second.code == 0, second.err
    assert _live_env(docker_client, state) == {
        "GREETING": "hello there",
        "NEW": "x",
        "API_TOKEN": ROTATED,
    }
    v1, v2 = history.load(state, "hello")
    s1, s2 = v1.secrets_version, v2.secrets_version
    assert s1 and s2 and s1.startswith("s1-") and s2.startswith("s2-")
    assert v1.settings is not None and v1.settings["env"] == {"GREETING": "hi"}
    for version in (s1, s2):
        path = secret_versions.version_file(state, "hello", version)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    listed = cli("releases", "hello", "--json")
    assert listed.code == 0, listed.err
    rows = {row["id"]: row for row in json.loads(listed.out)}
    assert rows["v2"]["changes"] == [
        "env added: NEW",
        "env changed: GREETING",
        "secrets changed: API_TOKEN",
    ]
    table = cli("releases", "hello")
    assert "secrets changed: API_TOKEN" in table.out
    for text in (listed.out, table.out, (state / "releases" / "hello.json").read_text()):
        assert SECRET not in text and ROTATED not in text  # names, never values

    # v3: back to v1, its env and its secret, whatever the environment says today
    back = cli("rollback", "hello")
    assert back.code == 0, back.err
    assert _live_env(docker_client, state) == {
        "GREETING": "hi",
        "NEW": "unset",
        "API_TOKEN": SECRET,
    }
    assert get(port) == "hello v1"
    v3 = history.load(state, "hello")[-1]
    assert (v3.id, v3.status, v3.note) == ("v3", "live", "rollback to v1")
    assert v3.secrets_version == s1 and v3.settings == v1.settings
    assert ROTATED not in back.out + back.err and SECRET not in back.out + back.err

    # v2's secrets gone from this machine: the rollback to it stops, v3 keeps serving
    secret_versions.version_file(state, "hello", s2).unlink()
    refused = cli("rollback", "hello", "v2")
    assert refused.code != 0
    assert f"(version {s2}) are not on this machine" in refused.err + refused.out
    assert "nothing was released" in refused.err + refused.out
    assert history.live(history.load(state, "hello")).id == "v3"
    assert _live_env(docker_client, state)["API_TOKEN"] == SECRET and get(port) == "hello v1"

    # a release never made is bad input, said before anything runs (found walking: the
    # edge was prepared first, then "release failed", exit 1)
    unknown = cli("rollback", "hello", "v99")
    assert unknown.code == 2, unknown.err
    assert "hello: no release 'v99' (releases: v1, v2, v3)" in unknown.err
    assert "preparing the proxy" not in unknown.err and "release failed" not in unknown.err
