"""`pilot-tui status` when the Docker host does not answer: found walking (no Docker on the
machine), it failed outright, saying nothing of the apps elsewhere. Now the apps on the
host that were deployed, and the databases, are "unknown" (exit 1), the others are asked
as ever, and the warning says why and what to do. No engine runs here on purpose: the
sandbox's Docker is pointed at a socket nothing listens on."""

from __future__ import annotations

import json

import pytest

from pilot_tui.deploy import history


def test_status_says_the_hosts_apps_are_unknown_and_asks_the_rest(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    assert cli("init", "--name", "acme").code == 0
    for name, target in (("api", "server"), ("web", "s3-cloudfront"), ("new", "server")):
        (tmp_path / name).mkdir()
        if target == "server":
            (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
        else:
            (tmp_path / name / "index.html").write_text("hello\n")
        made = cli("app", "new", "--path", name, "--name", name, "--target", target, "--yes")
        assert made.code == 0, made.err
    live = history.Release(
        "v2", "api", "pilot/acme-api:2", "sha256:2", "2026-12-05T10:00:00Z", "live"
    )
    history.save(tmp_path / ".pilot", "api", [live])
    assert cli("db", "new", "main", "--app", "api").code == 0  # a database on the host

    shown = cli("status")
    assert shown.code == 1, shown.err  # a deployed app nobody could ask
    assert "warning: the sandbox deploys apps on this machine's Docker" in shown.err
    header, *table = shown.out.splitlines()
    assert header.split() == ["APP", "RELEASE", "HEALTH", "ADDRESS"]  # (walk: no headings)
    rows = {line.split()[0]: line for line in table}
    unknown = "unknown (the Docker host could not be opened)"
    assert "v2" in rows["api"] and unknown in rows["api"]
    assert "not deployed" in rows["web"] and "not deployed" in rows["new"]
    assert unknown in rows["(proxy)"] and unknown in rows["(db"]
    # columns as wide as what they hold: each row's address (here "-") in one column
    lines = [line for line in table if not line.startswith(" ")]  # no notes
    assert all(line.endswith(" -") for line in lines), shown.out
    assert len({line.rindex(" -") for line in lines}) == 1, shown.out
    assert header.index("ADDRESS") == lines[0].rindex(" -") + 1  # headed where it is

    as_json = {row["app"]: row for row in json.loads(cli("status", "--json").out)}
    assert as_json["api"]["health"] == unknown
    assert as_json["web"]["health"] == "not deployed"
    # none is null in JSON, as releases --json says it, never the table's "-" (found walking)
    assert as_json["web"]["release"] is None and as_json["web"]["url"] is None


async def test_the_home_screen_asks_the_apps_elsewhere_when_the_host_does_not_answer(
    cli, tmp_path, monkeypatch
):
    """Found walking: with Docker down, the home screen gave every app, a live S3 site's
    too, "health unknown: the Docker host did not answer", where `status` asked the site."""
    from pilot_tui.screens.app import create_app
    from tests.integration.deploy.test_tui_deploy import text, until

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    assert (
        cli("app", "new", "--path", "api", "--name", "api", "--target", "server", "--yes").code == 0
    )
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hello\n")
    made = cli(
        "app", "new", "--path", "site", "--name", "web", "--target", "s3-cloudfront", "--yes"
    )
    assert made.code == 0, made.err
    stamp = "2026-12-05T10:00:00Z"
    for app in ("api", "web"):
        live = history.Release("v1", app, f"{app}:1", "sha256:1", stamp, "live")
        history.save(tmp_path / ".pilot", app, [live])
    app = create_app(str(tmp_path / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        home = app.screen
        assert await until(pilot, lambda: "Docker host:" in text(home, "#health"))
        shown = text(home, "#project-status")
        health = text(home, "#health")  # an unknown is no failure: ?, not ✗ (found walking)
        assert "api ? unknown (the Docker host could not be opened)" in health, health
        # Found walking: after `server destroy` nothing is live, yet `r` left the old
        # "Health: web ✓ healthy" under "web: not deployed". It goes with what it said.
        for app_name in ("api", "web"):
            history.history_file(tmp_path / ".pilot", app_name).unlink()
        await pilot.press("r")
        assert await until(pilot, lambda: home.query_one("#health").has_class("hidden"))
        assert "not deployed" in text(home, "#project-status")
    assert "api: v1 unknown (the Docker host could not be opened)" in shown, shown
    assert "web: v1 live" in shown, shown  # asked for itself, as `status` asks it


def test_deploy_of_several_apps_deploys_those_elsewhere_when_the_host_does_not_answer(
    cli, tmp_path, monkeypatch
):
    """Found walking: `deploy web api` (or --all) with Docker down failed outright on the
    host's error, so the S3 site beside the app on the host was not released either, and
    nothing named the app that needed the host. Now the site is released, api is said to
    be not deployed and why, and the exit is 1."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    assert cli("init", "--name", "acme").code == 0
    for name, target in (("api", "server"), ("web", "s3-cloudfront")):
        (tmp_path / name).mkdir()
        if target == "server":
            (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
        else:
            (tmp_path / name / "index.html").write_text("hello\n")
        made = cli("app", "new", "--path", name, "--name", name, "--target", target, "--yes")
        assert made.code == 0, made.err
    try:
        both = cli("deploy", "web", "api")
        assert both.code == 1, both.err
        assert both.out.startswith("web\tv1\t"), both.out  # released all the same
        assert "api: not deployed: the sandbox deploys apps on this machine's Docker" in both.err
        assert history.live_release(tmp_path / ".pilot", "web") is not None
        assert history.live_release(tmp_path / ".pilot", "api") is None
        alone = cli("deploy", "api")  # nothing else to deploy: the host's error, as before
        assert alone.code == 1 and "api: not deployed" not in alone.err
        assert "no engine answers" in alone.err
    finally:
        from pilot_tui.cloud.sandbox import Sandbox
        from pilot_tui.runner import pid_alive, stop_pid

        for emulator in Sandbox(tmp_path / ".pilot").load().values():
            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)


@pytest.mark.terraform  # its destroy plans with the real Terraform (nothing to destroy)
def test_server_destroy_never_says_nothing_remains_of_a_docker_it_could_not_ask(
    cli, tmp_path, monkeypatch
):
    """Found walking: with this machine's Docker down, `server destroy` in the sandbox said
    there was nothing (and, after a destroy, "What remains: nothing."), though the
    project's stopped containers and its databases' volumes there went unchecked."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-listens.sock")
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    made = cli("app", "new", "--path", "api", "--name", "api", "--target", "server", "--yes")
    assert made.code == 0, made.err
    gone = cli("server", "destroy", "--yes")
    assert gone.code == 0, gone.err
    assert "Nothing to destroy found where Pilot could look." in gone.out
    assert "warning: this machine's Docker did not answer: the project's containers" in gone.err
