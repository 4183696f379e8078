"""The sandbox: a local AWS API (moto) and GCS emulator on 127.0.0.1, so the real aws
template can be planned and applied with no cloud account.

The emulators run as background processes recorded (pid, port) in .pilot/sandbox.json, so
`server up`, `status` and `destroy` run by separate CLI invocations see one sandbox;
`server destroy` and `pilot-tui sandbox stop` stop them by pid. Their state lives in memory:
if they were stopped, the sandbox's resources are gone and Pilot says so.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write
from pilot_tui.runner import Command, pid_alive, spawn_daemon, stop_pid

STATE_FILE = "sandbox.json"
ACCESS_KEY = "sandbox"  # moto accepts any credentials; these are not secrets
SECRET_KEY = "sandbox"
# Endpoint names valid in hashicorp/aws 3.39 and in current releases alike.
AWS_SERVICES = ("ec2", "sts", "iam", "s3", "dynamodb", "rds")


class SandboxError(PilotError):
    """An emulator did not start; the message points at its log."""

    title = "Sandbox emulator failed"


@dataclass
class Emulator:
    name: str
    pid: int
    port: int
    started: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return pid_alive(self.pid) and _port_open(self.port)


def moto_command(port: int) -> Command:
    # Reject instance types EC2 does not have, and know AWS's managed IAM policies (Lambda's
    # and ECS's execution roles attach them), as the real API does. Lambda functions run on
    # this machine's Docker with host networking (no bridge needed) when one answers.
    env = {
        "MOTO_DOCKER_NETWORK_MODE": "host",
        **os.environ,
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true",
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    }
    return Command(
        (sys.executable, "-m", "pilot_tui.cloud.sandbox_aws", "-H", "127.0.0.1", "-p", str(port)),
        env=env,
    )


def gcs_command(port: int) -> Command:
    return Command(
        (
            sys.executable,
            "-m",
            "pilot_tui.cloud.sandbox_gcs",  # the emulator, honouring generation conditions
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            "--in-memory",
        )
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# Held while emulators are being started in this process: the app's exit takes it to let
# a start in progress finish, then stops what its workers started (screens/app.py), so no
# emulator is left running half-way through a start.
STARTING = threading.Lock()


class Sandbox:
    """The emulators of one project."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.file = state_dir / STATE_FILE

    def load(self) -> dict[str, Emulator]:
        try:
            raw = json.loads(self.file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {name: Emulator(**data) for name, data in raw.items()}

    def _save(self, emulators: dict[str, Emulator]) -> None:
        atomic_write(
            self.file, json.dumps({n: asdict(e) for n, e in emulators.items()}), mode=0o600
        )

    def running(self) -> dict[str, Emulator]:
        return {n: e for n, e in self.load().items() if e.alive()}

    def ensure(self) -> tuple[dict[str, Emulator], bool]:
        """Start whichever emulators are not running; (emulators, True if any was started).
        One start at a time in this process (STARTING)."""
        with STARTING:
            return self._ensure()

    def _ensure(self) -> tuple[dict[str, Emulator], bool]:
        emulators = self.load()
        started = False
        for name, build in (("aws", moto_command), ("gcs", gcs_command)):
            current = emulators.get(name)
            if current and current.alive():
                continue
            port = free_port()
            log = self.state_dir / "logs" / f"sandbox-{name}.log"
            pid = spawn_daemon(build(port), log)
            emulators[name] = Emulator(name, pid, port, time.time())
            started = True
            self._save(emulators)
            _wait_ready(emulators[name], log)
        return emulators, started

    def stop(self) -> list[str]:
        """Stop every emulator Pilot started for this project; their names."""
        stopped = []
        for name, emulator in self.load().items():
            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)
                stopped.append(name)
        self.file.unlink(missing_ok=True)
        return stopped


STOPPED = (
    "the sandbox's emulators are stopped, and what they held went with them (their "
    "state lives in memory)"
)


def start_for_deploy(state_dir: Path, say: Callable[[str], None]) -> None:
    """A deploy is the one app command that starts stopped emulators (it makes what they
    hold again), and it says so; everything else reports STOPPED and leaves them."""
    box = Sandbox(state_dir)
    if len(box.running()) < 2:
        say(
            "starting the sandbox's local AWS API and GCS emulator (they were stopped, so "
            "this deploy makes the app's cloud resources again)"
        )
        box.ensure()


def _wait_ready(emulator: Emulator, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    path = "/moto-api/" if emulator.name == "aws" else "/"
    while time.monotonic() < deadline:
        if not pid_alive(emulator.pid):
            break
        try:
            with urllib.request.urlopen(emulator.url + path, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    stop_pid(emulator.pid)
    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
    raise SandboxError(
        f"the {emulator.name} emulator did not start within {timeout:.0f}s (log: {log}):\n{tail}"
    )


def provider_override(aws_url: str) -> str:
    """An `*_override.tf` that points the aws provider at the local AWS API."""
    endpoints = "\n".join(f'    {svc:<15} = "{aws_url}"' for svc in AWS_SERVICES)
    return f"""# Generated by Pilot for the sandbox: the aws provider talks to a local AWS API.
provider "aws" {{
  access_key                  = "{ACCESS_KEY}"
  secret_key                  = "{SECRET_KEY}"
  profile                     = null
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_force_path_style         = true

  endpoints {{
{endpoints}
  }}
}}
"""
