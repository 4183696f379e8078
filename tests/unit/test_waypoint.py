"""waypoint.hcl for every target, parsed with python-hcl2 and checked stanza by stanza, and
`deploy` with server.engine = "waypoint". No Waypoint binary exists here (the project is
unmaintained and not installable offline): running `waypoint up` is checked with a stand-in
script on PATH that records its arguments, and says so."""

from __future__ import annotations

import io
import os
import stat

import hcl2

from pilot_tui.config.document import ProjectFile
from tests.conftest import run_pilot

APPS = """
[[apps]]
name = "api"
path = "api"
build = { kind = "dockerfile", args = { VERSION = "1" } }
target = { kind = "server", port = 9000 }

[[apps]]
name = "fn"
path = "api"
target = { kind = "lambda", memory = 1024 }

[[apps]]
name = "jobs"
path = "api"
build = { kind = "buildpacks" }
target = { kind = "ecs", cpu = 512, memory = 1024, desired_count = 2 }

[[apps]]
name = "web"
path = "api"
target = { kind = "cloud-run", memory = "1Gi", max_instances = 5 }

[[apps]]
name = "docs"
path = "site"
build = { kind = "static", command = "npm run build", output = "dist" }
target = { kind = "s3-cloudfront" }

[[apps]]
name = "www"
path = "site"
build = { kind = "static" }
target = { kind = "gcs-cdn" }
"""


def project(tmp_path):
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "api").mkdir()
    (tmp_path / "site").mkdir()
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(ProjectFile(pf.path, pf.text).with_value("gcp.project", "acme-prod") + APPS)
    return tmp_path


def plain(value):
    """python-hcl2 keeps the quotes of string values and keys: drop them."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k != "__is_block__"}
    return value


def apps_of(text: str) -> dict[str, dict]:
    doc = plain(hcl2.load(io.StringIO(text)))
    assert doc["project"] == "acme"
    return {name: body for block in doc["app"] for name, body in block.items()}


def uses(stanza: list[dict]) -> tuple[str, dict]:
    (use,) = stanza[0]["use"]
    ((plugin, settings),) = use.items()
    return plugin, settings


def test_every_target_becomes_waypoint_stanzas(tmp_path):
    root = project(tmp_path)
    result = run_pilot("waypoint", "export", "--stdout", cwd=root)
    assert result.returncode == 0, result.stderr
    apps = apps_of(result.stdout)
    assert set(apps) == {"api", "fn", "jobs", "web", "docs", "www"}

    plugin, build = uses(apps["api"]["build"])
    assert plugin == "docker" and build["dockerfile"] == "Dockerfile"
    assert build["build_args"] == {"VERSION": "1"}
    assert uses(apps["api"]["build"][0]["registry"])[1]["local"] is True
    assert uses(apps["api"]["deploy"]) == ("docker", {"service_port": 9000})
    assert "release" not in apps["api"]

    assert uses(apps["fn"]["build"][0]["registry"])[0] == "aws-ecr"
    assert uses(apps["fn"]["deploy"])[1]["memory"] == 1024
    assert uses(apps["fn"]["release"])[0] == "lambda-function-url"

    assert uses(apps["jobs"]["build"]) == (
        "pack",
        {"builder": "paketobuildpacks/builder-jammy-base"},
    )
    plugin, ecs = uses(apps["jobs"]["deploy"])
    assert plugin == "aws-ecs" and (ecs["cpu"], ecs["memory"], ecs["count"]) == (512, 1024, 2)

    plugin, run = uses(apps["web"]["deploy"])
    assert plugin == "google-cloud-run" and run["capacity"][0]["memory"] == 1024
    assert run["auto_scaling"][0]["max"] == 5
    image = uses(apps["web"]["build"][0]["registry"])[1]["image"]
    assert image == "us-central1-docker.pkg.dev/acme-prod/pilot-acme/web"  # as Pilot pushes
    assert uses(apps["web"]["release"])[0] == "google-cloud-run"

    assert uses(apps["docs"]["build"]) == ("files", {"path": "dist"})
    sync = uses(apps["docs"]["deploy"])[1]["command"]
    assert sync[:3] == ["aws", "s3", "sync"] and sync[-1] == "s3://pilot-acme-docs-site"
    assert uses(apps["www"]["deploy"])[1]["command"][-1] == "gs://pilot-acme-www-site"


def test_export_writes_the_file_and_keeps_a_hand_made_one(tmp_path):
    root = project(tmp_path)
    assert run_pilot("waypoint", "export", "api", cwd=root).returncode == 0
    assert set(apps_of((root / "waypoint.hcl").read_text())) == {"api"}
    (root / "waypoint.hcl").write_text('project = "mine"\n')
    refused = run_pilot("waypoint", "export", cwd=root)
    assert refused.returncode == 2 and "was not written by Pilot" in refused.stderr
    assert (root / "waypoint.hcl").read_text() == 'project = "mine"\n'
    assert run_pilot("waypoint", "export", "--force", cwd=root).returncode == 0


def test_deploy_with_the_waypoint_engine(tmp_path):
    root = project(tmp_path)
    assert run_pilot("config", "set", "server.engine", "waypoint", cwd=root).returncode == 0
    missing = run_pilot("deploy", "api", cwd=root, env={"PATH": "/usr/bin:/bin"})
    assert missing.returncode == 1 and "needs the waypoint binary" in missing.stderr

    # A stand-in `waypoint` (no real one exists here): records its arguments and directory.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "waypoint"
    stub.write_text(
        '#!/bin/sh\necho "waypoint $* in $(pwd)" > "$0.called"\n'
        'echo "» Deploying api..."\necho "✓ Deployment successfully rolled out!"\n'
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"}
    ran = run_pilot("deploy", "api", cwd=root, env=env)
    assert ran.returncode == 0, ran.stderr
    assert "Deployment successfully rolled out" in ran.stderr  # streamed through
    assert (
        bin_dir / "waypoint.called"
    ).read_text().strip() == f"waypoint up -app=api -plain in {root}"
    assert 'app "api"' in (root / "waypoint.hcl").read_text()  # written for it first


def test_a_zip_function_is_skipped_with_a_note_and_refused_alone(tmp_path):
    """A zip Lambda used to make the whole export fail: now that app alone is left out, and
    the note says why; asked for by name, there is nothing to export (exit 2)."""
    root = project(tmp_path)
    text = (root / "pilot.toml").read_text()
    (root / "pilot.toml").write_text(
        text + '\n[[apps]]\nname = "zipfn"\n[apps.target]\nkind = "lambda"\npackage = "zip"\n'
    )
    exported = run_pilot("waypoint", "export", cwd=root)
    assert exported.returncode == 0, exported.stderr
    assert set(apps_of((root / "waypoint.hcl").read_text())) == {
        "api",
        "fn",
        "jobs",
        "web",
        "docs",
        "www",
    }
    note = "app 'zipfn' left out: Waypoint's aws-lambda plugin deploys container images only"
    assert note in exported.stderr and 'apps.zipfn.target.package = "image"' in exported.stderr
    alone = run_pilot("waypoint", "export", "zipfn", "--stdout", cwd=root)
    assert alone.returncode == 2 and note in alone.stderr


SETTINGS = """
[[apps]]
name = "node"
path = "node"
env = { GREETING = "hi", LOG_LEVEL = "debug" }
secrets = ["API_TOKEN"]
target = { kind = "server", port = 8080 }

[[apps]]
name = "queue"
path = "api"
build = { kind = "dockerfile" }
env = { MODE = "worker" }
secrets = ["DB_URL"]
target = { kind = "ecs" }

[[apps]]
name = "pages"
path = "site"
build = { kind = "static", command = "npm run build", output = "dist" }
target = { kind = "server" }
"""


def test_env_secret_references_and_a_generated_dockerfile_are_exported(tmp_path):
    root = project(tmp_path)
    (root / "node").mkdir()
    (root / "node" / "package.json").write_text('{"name": "node", "scripts": {"start": "x"}}')
    (root / "api" / "Dockerfile").write_text("FROM scratch\n")
    (root / "pilot.toml").write_text((root / "pilot.toml").read_text() + SETTINGS)
    exported = run_pilot("waypoint", "export", cwd=root)
    assert exported.returncode == 0, exported.stderr
    text = (root / "waypoint.hcl").read_text()
    apps = apps_of(text)

    env = apps["node"]["config"][0]["env"]
    assert (env["GREETING"], env["LOG_LEVEL"]) == ("hi", "debug")
    # The Pilot Server's secrets live in .pilot/secrets: never in the file, a note says how
    # Waypoint gets them (its own server-side config).
    assert "API_TOKEN" not in env
    assert "waypoint config set -app=node API_TOKEN=" in exported.stderr
    # On ECS, Pilot keeps secrets in SSM Parameter Store: a dynamic reference, no value.
    queue = apps["queue"]["config"][0]["env"]
    assert queue["MODE"] == "worker"
    assert "aws-ssm" in queue["DB_URL"] and "/pilot/acme/queue/DB_URL" in queue["DB_URL"]

    # No Dockerfile in node/: the one Pilot generates is written beside waypoint.hcl and
    # named in the build, not `use "docker" {}` (which would find none).
    plugin, build = uses(apps["node"]["build"])
    assert plugin == "docker" and build["dockerfile"] == "${path.project}/waypoint-node.Dockerfile"
    written = (root / "waypoint-node.Dockerfile").read_text()
    shown = run_pilot("app", "dockerfile", "node", cwd=root)
    assert shown.returncode == 0 and shown.stdout in written
    assert uses(apps["queue"]["build"])[1]["dockerfile"] == "Dockerfile"  # its own
    # A static site on the server: served from its output folder, which Waypoint cannot
    # build itself (the note says to run the command first).
    assert uses(apps["pages"]["build"])[1] == {
        "dockerfile": "${path.project}/waypoint-pages.Dockerfile",
        "context": "${path.app}/dist",
    }
    assert "app 'pages': run `npm run build` in site/ before `waypoint up`" in exported.stderr
