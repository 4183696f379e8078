"""Every command that asks before it destroys or overrides something, run with no terminal and
no --yes: it refuses with exit 2 (invalid usage, like any missing argument) and changes nothing.
At a terminal, "no" exits 0 (nothing was changed) and Ctrl+C exits 130.

The cases reach their question for real: the sandbox's Terraform and moto for the server, the
private Docker engine for apps on a Docker host and deploy locks, moto for a site's bucket."""

from __future__ import annotations

from pathlib import Path

import pexpect
import pytest

from pilot_tui.apps import add_app
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid
from tests.conftest import PILOT, run_pilot
from tests.support.server_fixtures import sandbox_state


def _add(root: Path, app: dict[str, object]) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(add_app(pf.text, app))


def _on_engine(root: Path, url: str) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    text = ProjectFile(pf.path, pf.with_value("server.home", "host")).with_value("server.host", url)
    pf.save(text)


def _refused(root: Path, *args: str) -> None:
    result = run_pilot(*args, cwd=root, input="")  # stdin is an empty pipe: no terminal
    assert result.returncode == 2, (args, result.returncode, result.stderr)
    assert "needs confirmation" in result.stderr and "--yes" in result.stderr, result.stderr


def _server_up(root: Path, request: pytest.FixtureRequest) -> None:
    _refused(root, "server", "up")
    assert not (root / ".pilot" / "terraform" / "sandbox" / "terraform.tfstate").exists()


def _server_destroy(root: Path, request: pytest.FixtureRequest) -> None:
    # A server that is up: the session's shared one (refusing changes nothing in it).
    server, _ = request.getfixturevalue("provisioned_sandbox")
    _refused(server, "server", "destroy")
    status = run_pilot("server", "status", "--json", cwd=server)
    assert '"instance_id"' in status.stdout  # still there


def _app_destroy_on_a_docker_host(root: Path, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue("docker_engine")
    _on_engine(root, engine.url)
    (root / "web").mkdir()
    (root / "web" / "Dockerfile").write_text("FROM busybox\n")
    _add(root, {"name": "web", "path": "web", "target": {"kind": "server"}})
    _refused(root, "app", "destroy", "web")


def _app_destroy_a_site(root: Path, request: pytest.FixtureRequest) -> None:
    Sandbox(root / ".pilot").ensure()
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<h1>hi</h1>")
    _add(
        root,
        {
            "name": "docs",
            "path": "site",
            "build": {"kind": "static"},
            "target": {"kind": "s3-cloudfront"},
        },
    )
    _refused(root, "app", "destroy", "docs")


def _app_destroy_a_function(root: Path, request: pytest.FixtureRequest) -> None:
    (root / "fn").mkdir()
    (root / "fn" / "main.py").write_text("def handler(event, context):\n    return 1\n")
    _add(
        root,
        {
            "name": "fn",
            "path": "fn",
            "target": {"kind": "lambda", "package": "zip", "handler": "main.handler"},
        },
    )
    _refused(root, "app", "destroy", "fn")


def _deploy_break_lock(root: Path, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue("docker_engine")
    _on_engine(root, engine.url)
    (root / "web").mkdir()
    (root / "web" / "Dockerfile").write_text("FROM busybox\n")
    _add(root, {"name": "web", "path": "web", "target": {"kind": "server"}})
    _refused(root, "deploy", "web", "--break-lock")
    assert not (root / ".pilot" / "releases" / "web.json").exists()  # nothing was deployed


CASES = {
    "server up": _server_up,
    "server destroy": _server_destroy,
    "app destroy (Docker host)": _app_destroy_on_a_docker_host,
    "app destroy (static site)": _app_destroy_a_site,
    "app destroy (lambda)": _app_destroy_a_function,
    "deploy --break-lock": _deploy_break_lock,
}


# What each case reaches for in its body (request.getfixturevalue, Terraform): its markers.
NEEDS = {
    "server up": (pytest.mark.terraform, pytest.mark.slow),
    "server destroy": (pytest.mark.terraform, pytest.mark.slow),
    "app destroy (Docker host)": (pytest.mark.docker, pytest.mark.slow),
    "deploy --break-lock": (pytest.mark.docker, pytest.mark.slow),
    "app destroy (static site)": (pytest.mark.slow,),  # starts the sandbox emulators
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=NEEDS.get(c, ())) for c in CASES])
def test_a_question_with_no_terminal_and_no_yes_exits_2(tmp_path, request, case):
    root = tmp_path / "acme"
    root.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=root).returncode == 0
    try:
        CASES[case](root, request)
    finally:
        for emulator in sandbox_state(root).values():
            if pid_alive(emulator["pid"]):
                stop_pid(emulator["pid"])


# Ctrl+D ends the input without an answer: 2, as the policy in cli/main.py says (it was
# taken as "no" and exited 0; found reviewing the change).
@pytest.mark.parametrize(("answer", "code"), [("n\r", 0), ("\x03", 130), ("\x04", 2)])
def test_no_at_the_terminal_exits_0_and_ctrl_c_130(tmp_path, answer, code):
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "main.py").write_text("def handler(event, context):\n    return 1\n")
    _add(
        tmp_path,
        {
            "name": "fn",
            "path": "fn",
            "target": {"kind": "lambda", "package": "zip", "handler": "main.handler"},
        },
    )
    child = pexpect.spawn(
        PILOT,
        ["app", "destroy", "fn"],
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=20,
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin"},
    )
    child.expect(r"\[y/N\]")
    child.send(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    if code == 0:
        assert "nothing was changed" in child.before
    assert not sandbox_state(tmp_path)  # nothing was started to ask
