"""`terraform init` failing (home = "gcp" with no network: hashicorp/google cannot be fetched
here, nor is any real copy of it obtainable offline): the CLI says what to do, exit 1."""

from __future__ import annotations

import pytest

from tests.conftest import run_pilot


def gcp_project(tmp_path):
    project = tmp_path / "acme"
    project.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=project).returncode == 0
    for key, value in (
        ("gcp.project", "acme-prod-123"),
        ("server.home", "gcp"),
        ("server.allowed_cidrs", '["203.0.113.7/32"]'),
    ):
        done = run_pilot("config", "set", key, value, cwd=project)
        assert done.returncode == 0, done.stderr
    return project


@pytest.mark.terraform
def test_cli_says_what_to_do_when_init_cannot_fetch_providers(tmp_path):
    project = gcp_project(tmp_path)
    done = run_pilot("server", "plan", cwd=project)
    assert done.returncode == 1, done.stderr
    assert "terraform init failed (log: " in done.stderr
    assert "registry.terraform.io must be reachable" in done.stderr
    assert "terraform providers mirror DIR" in done.stderr
    assert "Traceback" not in done.stderr
