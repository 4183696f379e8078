"""A private Docker engine for the deploy tests: one dockerd per session, under a short /tmp
directory (Unix socket paths are limited), with the busybox base image imported."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pilot_tui import dockerd


def engine_unavailable() -> str | None:
    """Why no private engine can run here, or None."""
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (bash .ci/setup --test installs docker.io)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def require_engine() -> None:
    """Skip when no engine can run; on CI (CI=true) fail instead: CI must never silently skip."""
    reason = engine_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    require_engine()
    root = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    engine = dockerd.start(root)
    try:
        dockerd.import_base_image(engine)
        yield engine
    finally:
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_root():
    """A short directory for an engine of the test's own (the session's must keep running)."""
    require_engine()
    root = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    yield root
    shutil.rmtree(root)  # fails while anything is still mounted below it


@pytest.fixture
def docker_client(docker_engine):
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    yield client
    client.close()
