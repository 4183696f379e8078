"""ECS (and an image Lambda) in the sandbox: moto's ECR hands out a registry address that
does not resolve, so such a deploy used to build the image and then fail at the push
(`…dkr.ecr… no such host`). It is refused before anything is built, saying why and what
to do — from the CLI, as a user runs it, on the private Docker engine."""

from __future__ import annotations

import shutil

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid
from tests.support.deploy_fixtures import HELLO


@pytest.fixture
def sandbox_project(tmp_path, cli, docker_engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)  # the sandbox's Docker
    monkeypatch.delenv("PILOT_REGISTRY", raising=False)
    assert cli("init", "--name", "acme").code == 0
    shutil.copytree(HELLO, tmp_path / "api")
    yield tmp_path
    for emulator in Sandbox(tmp_path / ".pilot").load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


@pytest.mark.parametrize("target", [{"kind": "ecs"}, {"kind": "lambda", "package": "image"}])
def test_an_image_target_is_refused_before_the_build(sandbox_project, cli, docker_client, target):
    from pilot_tui.apps import add_app

    pf = ProjectFile.load(sandbox_project / "pilot.toml")
    pf.save(
        add_app(
            pf.text,
            {"name": "api", "path": "api", "build": {"kind": "dockerfile"}, "target": target},
        )
    )
    before = {tag for image in docker_client.images.list() for tag in image.tags}
    refused = cli("deploy", "api")
    assert refused.code == 1, refused.err
    assert "no such host" not in refused.err
    assert "api: build" not in refused.err  # nothing was built
    assert "the sandbox has no container registry" in refused.err
    assert "PILOT_REGISTRY" in refused.err and "server.home" in refused.err
    after = {tag for image in docker_client.images.list() for tag in image.tags}
    assert after == before
