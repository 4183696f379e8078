"""In the sandbox, Pilot shows the addresses that answer on this machine and marks the ones
the emulators made up ("simulated: …"): a site's files on the local emulator instead of a
CloudFront domain nobody serves, the server's made-up public IP and SSH address.

Everything runs the real `pilot-tui` against the real emulators (moto, the GCS emulator) and
opens what it printed with urllib, as a person would in a browser."""

from __future__ import annotations

import json
import os
import re
import urllib.request

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from tests.conftest import run_pilot


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return bytes(answer.read())


def site_project(root, apps: dict[str, str]) -> None:
    """``apps``: name -> target kind, each a folder with its own index.html."""
    assert run_pilot("init", "--name", "acme", cwd=root).returncode == 0
    if "gcs-cdn" in apps.values():  # a GCP target needs a project, even in the sandbox
        assert (
            run_pilot("config", "set", "gcp.project", "acme-sandbox-123", cwd=root).returncode == 0
        )
    for name, kind in apps.items():
        (root / name).mkdir()
        (root / name / "index.html").write_text(f"<h1>{name} here</h1>")
        added = run_pilot("app", "new", "--path", name, "--name", name, "--target", kind, cwd=root)
        assert added.returncode == 0, added.stderr


@pytest.mark.slow
def test_a_sandbox_site_is_shown_where_it_answers_and_the_cdn_as_simulated(tmp_path):
    site_project(tmp_path, {"docs": "s3-cloudfront", "blog": "gcs-cdn"})
    try:
        urls = {}
        for name in ("docs", "blog"):
            deployed = run_pilot("deploy", name, cwd=tmp_path)
            assert deployed.returncode == 0, deployed.stderr
            app, release, url = deployed.stdout.strip().split("\t")
            assert (app, release) == (name, "v1")
            # What a script gets is what answers here: the site's own index.html.
            assert url.startswith("http://127.0.0.1:")
            assert fetch(url) == f"<h1>{name} here</h1>".encode()
            urls[name] = url
        running = Sandbox(tmp_path / ".pilot").running()
        assert urls["docs"].startswith(running["aws"].url + "/")
        assert urls["blog"].startswith(running["gcs"].url + "/")
        assert (
            f"is live at {urls['blog']} (simulated: https://storage.googleapis.com/"
            in deployed.stderr
        )

        status = run_pilot("status", "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {row["app"]: row for row in json.loads(status.stdout)}
        assert rows["docs"]["url"] == urls["docs"] and rows["blog"]["url"] == urls["blog"]
        assert rows["docs"]["simulated_url"].endswith(".cloudfront.net/")
        assert rows["blog"]["simulated_url"].startswith("https://storage.googleapis.com/")
        for row in rows.values():
            assert fetch(row["url"]).startswith(b"<h1>")

        text = run_pilot("status", cwd=tmp_path)
        docs = next(line for line in text.stdout.splitlines() if line.startswith("docs "))
        assert f"{urls['docs']} (simulated: {rows['docs']['simulated_url']})" in docs

        listed = run_pilot("app", "list", cwd=tmp_path)
        assert listed.returncode == 0
        # a header row, and no trailing spaces (found walking the app)
        assert listed.stdout.splitlines()[0].split() == [
            "APP",
            "BUILD",
            "TARGET",
            "LIVE",
            "ADDRESS",
        ]
        assert all(line == line.rstrip() for line in listed.stdout.splitlines())
        docs = next(line for line in listed.stdout.splitlines() if line.startswith("docs "))
        assert f"{urls['docs']} (simulated: {rows['docs']['simulated_url']})" in docs
        assert ".cloudfront.net" not in docs.replace(
            f"simulated: {rows['docs']['simulated_url']}", ""
        )
        # --json says an address as status --json does (found walking: there was none)
        listed = run_pilot("app", "list", "--json", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        apps = {row["name"]: row for row in json.loads(listed.stdout)}
        for name in ("docs", "blog"):
            assert apps[name]["url"] == rows[name]["url"]
            assert apps[name]["simulated_url"] == rows[name]["simulated_url"]
            assert apps[name]["live"] == rows[name]["release"]
        assert apps["docs"]["target"] == "s3-cloudfront" and apps["docs"]["build"] == "static"
    finally:
        Sandbox(tmp_path / ".pilot").stop()

    # Once the emulators are gone, so is the site: status says so instead of a dead link.
    gone = run_pilot("status", "--json", cwd=tmp_path)
    rows = {row["app"]: row for row in json.loads(gone.stdout)}
    # nothing answers: null, as releases --json says it (found walking: "-" beside null)
    assert rows["docs"]["health"].startswith("stopped") and rows["docs"]["url"] is None
    assert gone.returncode == 1


LOCAL = re.compile(r"http://127\.0\.0\.1:\d+/\S+/index\.html")


@pytest.mark.slow
async def test_the_deploy_result_and_the_home_screen_show_the_local_site(tmp_path):
    """In the app, as a person would: deploy a site from the Apps screen, read where it is
    live, open that address; back home, the app's row says the same."""
    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.deploy import DeployScreen
    from pilot_tui.screens.welcome import WelcomeScreen
    from tests.integration.deploy.test_tui_deploy import text, until

    site_project(tmp_path, {"docs": "s3-cloudfront"})
    app = create_app(str(tmp_path / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a", "d")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        assert await until(
            pilot,
            lambda: (
                "is live" in text(screen, "#deploy-result")
                or "Not deployed" in text(screen, "#deploy-result")
            ),
            seconds=120,
        )
        result = " ".join(text(screen, "#deploy-result").split())
        found = LOCAL.search(result)
        assert found is not None, result
        assert fetch(found.group()) == b"<h1>docs here</h1>"
        assert "(simulated: https://" in result and ".cloudfront.net/)" in result
        await pilot.press("escape", "escape")
        home = app.screen
        assert isinstance(home, WelcomeScreen)
        assert await until(pilot, lambda: "live" in text(home, "#project-status"))
        row = next(
            line for line in text(home, "#project-status").splitlines() if "docs: v1" in line
        )
        assert f"at {found.group()} (simulated: https://" in row
        assert fetch(LOCAL.search(row).group()) == b"<h1>docs here</h1>"  # type: ignore[union-attr]


async def test_the_sandbox_server_s_addresses_are_marked_simulated(provisioned_sandbox):
    """moto's instance has a public IP and an SSH address that nothing answers at: `server
    up`, `server status` (and --json) and the home screen say so, and where apps really run."""
    sandbox_project, up = provisioned_sandbox  # `server up --yes`, shared: this test only reads
    assert up.returncode == 0, up.stderr
    outputs = json.loads((sandbox_project / ".pilot/outputs/server.json").read_text())["outputs"]
    ip = outputs["public_ip"]
    docker = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    summary = up.stdout.split("The Pilot Server is up.")[1]
    assert f"public_ip    simulated: {ip}\n" in summary
    assert f"docker_host  simulated: ssh://ubuntu@{ip}\n" in summary
    assert f"apps run on  this machine's Docker ({docker})" in summary
    # Found walking the app: the server is "up" in the local AWS API alone; with no engine
    # at that address (as here: the tests' dockerd is a private one), that is said.
    assert ("no engine answers there: start Docker" in summary) is not _answers(docker)

    status = run_pilot("server", "status", cwd=sandbox_project)
    assert f"public_ip          simulated: {ip}\n" in status.stdout
    assert f"docker_host        simulated: ssh://ubuntu@{ip}\n" in status.stdout
    assert f"instance_id        {outputs['instance_id']}\n" in status.stdout  # an id, no address
    info = json.loads(run_pilot("server", "status", "--json", cwd=sandbox_project).stdout)
    assert info["simulated"] == ["public_ip", "docker_host"]
    assert info["outputs"]["public_ip"] == ip  # the outputs stay as Terraform gave them

    from pilot_tui.screens.app import create_app
    from tests.integration.deploy.test_tui_deploy import text

    app = create_app(str(sandbox_project / "pilot.toml"))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        shown = " ".join(text(app.screen, "#project-status").split())
        # the server is up in the simulation; where apps run is said apart (found walking:
        # "up at this machine's Docker … · no engine answers there" contradicted itself)
        assert (
            f"Server (sandbox): up (simulated at ssh://ubuntu@{ip}); its apps run on this "
            f"machine's Docker ({docker})" in shown
        )
        assert ("no engine answers there" in shown) is not _answers(docker)


def _answers(docker: str) -> bool:
    from pathlib import Path

    from pilot_tui.dockerd import ping

    return docker.startswith("unix://") and ping(Path(docker.removeprefix("unix://")))
