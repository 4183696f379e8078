"""Shared fixtures: run the real CLI in-process or as a subprocess, in a temp project."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pilot_tui.cli.main import main
from pilot_tui.provision.keys import server_key
from pilot_tui.runner import pid_alive, stop_pid
from tests import markers

# Fixtures that were in the area folders' conftest files (tests/deploy/, ...):
# plugins now, so they reach the tests in every tier.
pytest_plugins = [
    "tests.reaper",  # first: what the run starts carries its mark from the start
    "tests.support.deploy_fixtures",
    "tests.support.server_fixtures",
    "tests.support.databases",
    "tests.support.github_tokens",
    "tests.support.google_sts",
    "tests.support.iam_requests",
]

PILOT = shutil.which("pilot-tui", path=str(Path(sys.executable).parent)) or "pilot-tui"


def pytest_configure(config: pytest.Config) -> None:
    # A plugin, not conftest hooks: a conftest's hooks do not see session-scoped fixtures.
    config.pluginmanager.register(markers, "pilot-markers")


@pytest.fixture(autouse=True, scope="session")
def private_user_config(tmp_path_factory):
    """The app remembers the theme in the user's config dir: keep the tests' choices (and the
    snapshots) away from the person running them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        yield


NO_DOCKER = Path("/no-docker/docker.sock")  # a socket no engine listens on, anywhere


@pytest.fixture(autouse=True, scope="session")
def no_docker_of_this_machine():
    """The sandbox deploys on this machine's Docker (DOCKER_HOST, else its default
    socket): the tests never reach the person's own engine, whose containers a test's
    `server destroy` of project "acme" would remove (found walking: a test run removed a
    walk's containers), and "no engine answers" holds wherever they run. A test that wants
    an engine names the tests' private one (deploy_fixtures.docker_engine), whatever
    DOCKER_HOST the person running them has set."""
    assert not NO_DOCKER.parent.exists()
    with pytest.MonkeyPatch.context() as patch:
        # (as short as the default's: a longer one reflowed the Server screen's summary
        # and hid its progress bar's percentage in the tmux walk)
        patch.setenv("DOCKER_HOST", f"unix://{NO_DOCKER}")
        yield


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run `pilot-tui ARGS` in-process (the real main()) from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors and --help
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_pilot(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the installed `pilot-tui` entry point as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    full_env.update(env or {})
    return subprocess.run(
        [PILOT, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )


@pytest.fixture
def project(tmp_path, cli) -> Path:
    """A fresh project made by `pilot-tui init`; returns the pilot.toml path."""
    result = cli("init")
    assert result.code == 0, result.err
    return tmp_path / "pilot.toml"


@pytest.fixture(scope="session")
def provisioned_sandbox(tmp_path_factory):
    """A sandbox project after one `server up --yes`, and that run's result: shared by the
    tests that only read what it made (one Terraform apply for all of them, not one each).
    A test that changes the server or the project takes a sandbox_project of its own."""
    from pilot_tui.cloud.sandbox import Sandbox

    project = tmp_path_factory.mktemp("provisioned") / "acme"
    project.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=project).returncode == 0
    try:
        up = run_pilot("server", "up", "--yes", cwd=project, timeout=300)
        assert up.returncode == 0, up.stderr
        yield project, up
    finally:
        for emulator in Sandbox(project / ".pilot").load().values():
            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)


# A throwaway OpenSSH server on 127.0.0.1 (used by the TLS-delivery and Docker-over-SSH tests).
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    if not Path(SSHD).exists():
        pytest.skip("openssh-server is installed by .ci/setup")
    keys = tmp_path / "keys"
    private, public = server_key(keys, "pilot-test")
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(public + "\n")
    authorized.chmod(0o600)
    host_key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield {
        "port": port,
        "key": private,
        "known_hosts": keys / "known_hosts",
        "user": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
    }
    stop_pid(proc.pid)


class RecordingLog:
    """A deploy's run log for tests that drive one stage function directly: it keeps the
    events and lines (the engine's run log writes them to a file and the screen)."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        self.events: list = []
        self.lines: list[str] = []
        self.timer = SimpleNamespace(seconds=lambda: 1.0)

    def emit(self, event) -> None:
        self.events.append(event)

    def line(self, stage, app):
        return self.lines.append

    def finished(self, stage: str) -> str:
        from pilot_tui.deploy.events import StageFinished

        return next(
            e.detail for e in self.events if isinstance(e, StageFinished) and e.stage == stage
        )
