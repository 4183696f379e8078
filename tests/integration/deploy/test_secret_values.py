"""Issue 11 item 21: any secret value round-trips through .pilot/secrets/APP.env, from
`pilot-tui secrets set` (stdin, a real subprocess) to the container a deploy starts (the
private dockerd). A vertical tab used to break `secrets list`, and U+2028 made a second
secret (the file was split with str.splitlines)."""

from __future__ import annotations

import stat
import subprocess

import docker

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import secrets
from tests.conftest import PILOT, run_pilot

VALUES = {
    "VTAB": "before\x0bafter-vt",
    "LSEP": "first\u2028SECOND=not-a-secret",
    "NEWLINES": "line one\nline two\r\nline three\rfour",
    "QUOTED": '"starts with a quote" and a \\ backslash',
    "SPACES": "  padded value\t ",
    "UNICODE": "päss-wörd-ß-✓",
    "EQUALS": "a=b=c # not a comment",
    "CONTROLS": "tab\there\x1fus\x85nel\u2029ps\x1c\x1d\x1e\x0c",
}


def store_all(root) -> None:
    for name, value in VALUES.items():
        done = run_pilot("secrets", "set", "hello", name, cwd=root, input=value + "\n")
        assert done.returncode == 0, (name, done.stderr)


def test_any_value_round_trips_through_secrets_set(project):
    root = project.parent
    pf = ProjectFile.load(project)
    pf.save(pf.with_value("apps", [{"name": "hello", "path": "."}]))
    store_all(root)
    path = secrets.secrets_file(root / ".pilot", "hello")
    assert secrets.read_file(path) == VALUES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes().split(b"\n")) == len(VALUES) + 1  # one line each

    listed = run_pilot("secrets", "list", "hello", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()) == sorted(VALUES)

    nul = run_pilot("secrets", "set", "hello", "NUL", cwd=root, input="a\0b")
    assert nul.returncode == 2 and "NUL" in nul.stderr and "nothing stored" in nul.stderr
    latin1 = subprocess.run(
        [PILOT, "secrets", "set", "hello", "BYTES"], cwd=root, input=b"caf\xe9", capture_output=True
    )
    assert latin1.returncode == 2 and b"not UTF-8" in latin1.stderr, latin1.stderr
    assert secrets.read_file(path) == VALUES


def test_a_deploy_injects_each_value_exactly(site, docker_engine):
    root, _ = site
    store_all(root)
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.secrets", ["API_TOKEN", *VALUES]))
    deployed = run_pilot("deploy", "hello", cwd=root)
    assert deployed.returncode == 0, deployed.stderr
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        container = client.containers.list(filters={"label": "pilot.app=hello"})[0]
        env = container.attrs["Config"]["Env"]
    finally:
        client.close()
    for name, value in VALUES.items():
        assert f"{name}={value}" in env, name
