"""Helpers for the provisioning tests: a sandbox project, boto3 against its local AWS API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot_tui.runner import pid_alive, stop_pid
from tests.conftest import run_pilot


def sandbox_state(project: Path) -> dict:
    path = project / ".pilot" / "sandbox.json"
    return json.loads(path.read_text()) if path.exists() else {}


def ec2(project: Path):
    import boto3

    port = sandbox_state(project)["aws"]["port"]
    return boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def iam_client(project: Path):
    import boto3

    port = sandbox_state(project)["aws"]["port"]
    return boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


@pytest.fixture
def sandbox_project(tmp_path):
    """A sandbox project; its emulators are stopped by pid afterwards, whatever happened."""
    project = tmp_path / "acme"
    project.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=project).returncode == 0
    yield project
    for emulator in sandbox_state(project).values():
        if pid_alive(emulator["pid"]):
            stop_pid(emulator["pid"])
