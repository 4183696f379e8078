"""What the edge says of an app, through the CLI: `status` counts its requests, 5xx and p95
from the edge's access logs, and `logs APP --access` prints those requests (the edge logs
no query string and no header)."""

from __future__ import annotations

import json

import docker

from tests.polling import wait_until
from tests.support.deploy_fixtures import SECRET, get


def test_status_counts_the_apps_requests_and_5xx_through_the_edge(site, cli, docker_engine):
    _, port = site
    assert cli("deploy", "hello").code == 0
    for _ in range(20):
        assert get(port) == "hello v1"
    shown = cli("status", "--json")
    row = next(r for r in json.loads(shown.out) if r["app"] == "hello")
    seen = row["edge"]["traffic"]
    assert seen["requests"] >= 20 and seen["error_rate_5xx"] == 0.0, seen
    assert seen["p95_ms"] is not None and seen["p95_ms"] > 0
    assert row["edge"]["certificates"] == []  # hello.localhost: plain HTTP
    # The app's container stops: the edge answers 502, which counts as 5xx.
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        for container in client.containers.list(filters={"label": "pilot.app=hello"}):
            container.stop(timeout=1)
    finally:
        client.close()
    import urllib.error

    for _ in range(5):
        try:
            get(port)
        except urllib.error.HTTPError as exc:
            assert exc.code == 502
    after = json.loads(cli("status", "--json").out)
    seen = next(r for r in after if r["app"] == "hello")["edge"]["traffic"]
    assert seen["requests"] >= 25 and seen["error_rate_5xx"] > 0, seen
    printed = cli("status").out
    assert "traffic " in printed and "% 5xx" in printed, printed


def test_logs_access_prints_the_apps_requests_and_never_a_query_or_header(site, cli, docker_engine):
    """The edge logs no query string and no header: tokens travel there (a secret that
    needs percent-encoding would slip past masking by value)."""
    _, port = site
    assert cli("deploy", "hello").code == 0
    encoded = "s3cr%2Ft+v%40lue"
    assert get(port, path=f"/index.html?q={SECRET}") == "hello v1"
    assert get(port, path=f"/index.html?q={encoded}&x=1") == "hello v1"

    def printed() -> list[str]:
        shown = cli("logs", "hello", "--access")
        assert shown.code == 0, shown.err
        return [line for line in shown.out.splitlines() if "/index.html" in line]

    lines = wait_until(lambda: len(printed()) >= 2 and printed(), what="both requests")
    assert all(" 200 GET hello.localhost/index.html " in line for line in lines), lines
    assert not any("?" in line or SECRET in line for line in lines), lines
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        edge = client.containers.get("pilot-proxy")
        raw = edge.logs().decode()  # Caddy's own lines (stderr) too
        access = edge.logs(stdout=True, stderr=False).decode()
    finally:
        client.close()
    assert SECRET not in raw and encoded not in raw
    assert '"uri":"/index.html"' in access  # the path is logged, as the figures need
    assert "User-Agent" not in access and "headers" not in access


def test_logs_access_of_an_app_not_behind_the_edge_says_where_its_requests_are(cli, tmp_path):
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hi")
    from pilot_tui.apps import add_app
    from pilot_tui.config.document import ProjectFile

    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, {"name": "web", "path": "site", "target": {"kind": "s3-cloudfront"}}))
    shown = cli("logs", "web", "--access")
    assert shown.code != 0
    assert "not behind Pilot's edge" in shown.err and "Traceback" not in shown.err
