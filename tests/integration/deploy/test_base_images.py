"""A base image that cannot be pulled (nothing can be, here: the private dockerd has no
network) fails the deploy naming the image and the PILOT_*_BASE variable that names a
mirror's copy (issue 11, item 30)."""

from __future__ import annotations

from pilot_tui.deploy.build import dockerfiles


def test_an_app_base_that_cannot_be_pulled_is_named_with_its_variable(
    engine_project, cli, monkeypatch
):
    root, _, add = engine_project
    monkeypatch.delenv("PILOT_PYTHON_BASE", raising=False)
    (root / "web").mkdir()
    (root / "web" / "server.py").write_text("print('hi')\n")
    add({"name": "web", "path": "web", "target": {"kind": "server"}})  # build: auto, Python
    result = cli("deploy", "web")
    assert result.code == 1
    assert "cannot pull the base image python:3.12-slim" in result.err, result.err
    assert "PILOT_PYTHON_BASE" in result.err
    # The variable names the mirror's copy in the generated Dockerfile.
    monkeypatch.setenv("PILOT_PYTHON_BASE", "registry.internal/mirror/python:3.12-slim")
    shown = cli("app", "dockerfile", "web")
    assert "FROM registry.internal/mirror/python:3.12-slim" in shown.out


def test_the_proxy_image_that_cannot_be_pulled_is_named_with_its_variable(
    engine_project, cli, monkeypatch
):
    root, _, add = engine_project
    monkeypatch.delenv("PILOT_PROXY_IMAGE")  # the default, caddy:2-alpine, is not here
    monkeypatch.setenv("PILOT_STATIC_BASE", "pilot/busybox:latest")
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("hi\n")
    add({"name": "www", "path": "www", "target": {"kind": "server"}})
    result = cli("deploy", "www")
    assert result.code == 1
    assert "cannot pull the proxy image caddy:2-alpine" in result.err, result.err
    assert "PILOT_PROXY_IMAGE" in result.err and "Traceback" not in result.err


def test_every_generated_dockerfile_base_has_a_variable(monkeypatch):
    for variable in (
        "PILOT_NODE_BASE",
        "PILOT_PYTHON_BASE",
        "PILOT_GO_BASE",
        "PILOT_GO_RUNTIME_BASE",
        "PILOT_STATIC_BASE",
    ):
        monkeypatch.setenv(variable, f"mirror.test/{variable.lower()}:1")
    texts = [
        dockerfiles.node_dockerfile([]),
        dockerfiles.python_dockerfile([]),
        dockerfiles.go_dockerfile([]),
        dockerfiles.static_dockerfile(),
    ]
    froms = sorted(
        line.split()[1] for text in texts for line in text.splitlines() if line.startswith("FROM ")
    )
    assert froms == sorted(
        f"mirror.test/{v.lower()}:1"
        for v in (
            "PILOT_NODE_BASE",
            "PILOT_PYTHON_BASE",
            "PILOT_GO_BASE",
            "PILOT_GO_RUNTIME_BASE",
            "PILOT_STATIC_BASE",
        )
    )
