"""The Target contract (pilot_tui/deploy/targets/): one registry covering the schema's kinds,
each kind answering the contract's questions as the CLI asked them before, and two commands
that now go through it instead of guessing from the kind: `logs` of a static site and `app
destroy` of a static site with a build command. No Docker, no cloud: the sandbox's
emulators are not started."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.config.document import ProjectFile
from tests.conftest import run_pilot

APPS = """
[[apps]]
name = "api"
path = "app"
target = { kind = "server" }

[[apps]]
name = "fn"
path = "app"
target = { kind = "lambda" }

[[apps]]
name = "zipped"
path = "app"
target = { kind = "lambda", package = "zip" }

[[apps]]
name = "jobs"
path = "app"
target = { kind = "ecs" }

[[apps]]
name = "web"
path = "app"
target = { kind = "cloud-run" }

[[apps]]
name = "docs"
path = "site"
build = { kind = "static", command = "true", output = "." }
target = { kind = "s3-cloudfront" }

[[apps]]
name = "www"
path = "site"
build = { kind = "static" }
target = { kind = "gcs-cdn" }
"""


def project(tmp_path: Path) -> Path:
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "app").mkdir()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(ProjectFile(pf.path, pf.text).with_value("gcp.project", "acme-prod") + APPS)
    return tmp_path


def test_the_registry_has_one_class_per_kind_of_the_schema():
    from pilot_tui.config.schema import TARGET_KINDS
    from pilot_tui.deploy.targets import registry

    table = registry()
    assert sorted(table) == sorted(TARGET_KINDS)
    assert len(TARGET_KINDS) == 6
    for kind, made in table.items():
        assert made.kind == kind  # type: ignore[attr-defined]


def test_each_kind_answers_as_the_commands_asked_before(tmp_path):
    """What each kind says for `app destroy`'s question, whether a deploy needs the Docker
    host, and whether status, logs and destroy do: the words the CLI used per kind."""
    from pilot_tui.deploy.targets import on_docker_host, target_for

    config = ProjectFile.load(project(tmp_path) / "pilot.toml").check().config
    targets = {app.name: target_for(app) for app in config.apps}
    assert {name: t.kind for name, t in targets.items()} == {
        "api": "server",
        "fn": "lambda",
        "zipped": "lambda",
        "jobs": "ecs",
        "web": "cloud-run",
        "docs": "s3-cloudfront",
        "www": "gcs-cdn",
    }
    questions = {name: t.destroy_question(config) for name, t in targets.items()}
    assert questions == {
        "api": "Stop and remove api's containers and route, and its previews? "
        "(its history is kept)",
        "fn": "Delete fn's function, its URL and logs on lambda? (history is kept)",
        "zipped": "Delete zipped's function, its URL and logs on lambda? (history is kept)",
        "jobs": "Delete jobs's service, load balancer and logs on ecs? (history is kept)",
        "web": "Delete web's Cloud Run service on cloud-run? (history is kept)",
        "docs": "Delete docs's bucket pilot-acme-docs-site and everything in it, and its CDN? "
        "(history is kept)",
        "www": "Delete www's bucket pilot-acme-www-site and everything in it, and its CDN? "
        "(history is kept)",
    }
    # A zip Lambda and a site without a build command go straight to their cloud.
    assert {name for name, t in targets.items() if t.needs_docker()} == {
        "api",
        "fn",
        "jobs",
        "web",
        "docs",
    }
    assert on_docker_host(config.apps) == ["api"]
    assert {name for name, t in targets.items() if not t.has_logs} == {"docs", "www"}


def test_logs_of_a_static_site_say_it_has_none(tmp_path):
    """`logs` asked a static site's Docker host for containers it never has; its target now
    says it writes no logs (exit 1, as an operation that cannot be done)."""
    root = project(tmp_path)
    result = run_pilot("logs", "docs", cwd=root, env={"DOCKER_HOST": "unix:///nonexistent"})
    assert result.returncode == 1, result.stderr
    assert "docs is a static site on s3-cloudfront: it has no app logs" in result.stderr
    assert "docs: docs is" not in result.stderr  # named once (found in review)


def test_destroying_a_built_static_site_asks_its_bucket_not_the_docker_host(tmp_path):
    """A static site with a build command needs the Docker host to deploy, and `app destroy`
    took that to mean it ran there (it opened the host and removed containers, leaving the
    bucket). It is destroyed as a site: here, with the sandbox's emulators stopped, nothing
    of it is left to remove and no Docker host is needed."""
    root = project(tmp_path)
    result = run_pilot(
        "app", "destroy", "docs", "--yes", cwd=root, env={"DOCKER_HOST": "unix:///nonexistent"}
    )
    assert result.returncode == 0, result.stderr
    assert "nothing of docs is left to remove" in result.stderr
    assert "nothing left to remove for docs" in result.stderr
