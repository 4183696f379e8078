"""An app at the project's root (`path = "."`, the New-app form's default) built on the
private dockerd: the image holds the app's files and none of Pilot's state, keys, secrets or
VCS folders, whatever .dockerignore says, and no link out of the folder (issue 11, items 1
and 2). The context is checked as data in tests/unit/test_shipped_files.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from pilot_tui.deploy import secrets
from tests.support.deploy_fixtures import HELLO, get

TOKEN = "tok-91d3c0ffee-in-pilot-secrets"
CREDENTIALS = "aws_secret_access_key = LEAKED-7c1f0e"


def _run(docker_engine, image: str, script: str) -> str:
    """What ``script`` prints in a throwaway container of ``image``."""
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        return client.containers.run(image, ["sh", "-c", script], remove=True).decode()
    finally:
        client.close()


def test_an_app_at_the_project_root_ships_no_state_keys_vcs_or_outside_links(
    engine_project, cli, docker_engine, tmp_path
):
    root, port, add = engine_project
    for item in HELLO.iterdir():  # the hello app, copied to the project's root
        (shutil.copytree if item.is_dir() else shutil.copy)(item, root / item.name)
    lines = (root / "Dockerfile").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("CMD"))
    (root / "Dockerfile").write_text("\n".join([*lines[:at], "COPY . /app", *lines[at:]]) + "\n")
    # What must stay on this machine: keys, a secret value, Terraform state, VCS folders.
    keys = root / ".pilot" / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "server_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (keys / "aws-deployer.json").write_text('{"SecretAccessKey": "x"}')
    secrets.store(root / ".pilot", "web", "API_TOKEN", TOKEN)
    (root / ".pilot" / "terraform" / "sandbox").mkdir(parents=True)
    (root / ".pilot" / "terraform" / "sandbox" / "terraform.tfstate").write_text("{}")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".hg").mkdir()
    (root / ".hg" / "hgrc").write_text("[paths]\n")
    # A .dockerignore that tries to let all of it in.
    (root / ".dockerignore").write_text("!.pilot\n!.pilot/**\n!.git\n!.git/**\n!.hg\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "credentials").write_text(CREDENTIALS)
    os.symlink(outside / "credentials", root / "aws-credentials")
    add(
        {
            "name": "web",
            "path": ".",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 10},
            "secrets": ["API_TOKEN"],
        }
    )

    result = cli("deploy", "web")
    assert result.code == 0, result.err
    assert get(port, "web.localhost") == "hello v1"

    release = json.loads((root / ".pilot" / "releases" / "web.json").read_text())[-1]
    files = sorted(_run(docker_engine, release["image"], "find /app").split())
    assert "/app/Dockerfile" in files and "/app/www/index.html" in files  # the app is there
    assert not [f for f in files if f.split("/")[2:3] in ([".pilot"], [".git"], [".hg"])]
    assert "/app/aws-credentials" not in files
    found = _run(docker_engine, release["image"], f"grep -rl -e {TOKEN} -e LEAKED /app || true")
    assert found == ""  # no file in the image holds the secret value or the credentials
    # The skipped link is named even without --verbose.
    assert f"warning: skipped aws-credentials: a link to {outside / 'credentials'}" in result.err
