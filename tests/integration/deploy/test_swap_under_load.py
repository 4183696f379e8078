"""Releases through the edge under load, as `pilot-tui deploy` makes them: three new
releases and one that fails its health check, while a pool of keep-alive clients and a pool
of clients opening a new connection per request ask the app without pause. No request
fails and no idle keep-alive connection is closed (a release renames the host's upstream
file; it does not reload Caddy, whose reloads drop connections arriving while its listeners
change hands and close idle ones); the counts are reported; each release is seen, the last
one at the end, and the failed one never."""

from __future__ import annotations

import time

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy.targets.docker_host.containers import PROXY_NAME
from tests.polling import wait_until
from tests.support.load import KeepAliveLoad


def _config_loads(client) -> int:
    """How many configs the edge has been given through its admin API (`caddy reload`)."""
    logs = client.containers.get(PROXY_NAME).logs(stdout=False, stderr=True).decode()
    return sum('"uri":"/load"' in line for line in logs.splitlines())


def test_three_releases_and_a_failed_one_under_load_fail_no_request(site, cli, docker_client):
    root, port = site
    index = root / "hello" / "www" / "index.html"
    assert cli("deploy", "hello").code == 0
    loads = _config_loads(docker_client)
    fresh = KeepAliveLoad(port, "hello.localhost", clients=4, path="/index.html", fresh=True)
    with (
        KeepAliveLoad(port, "hello.localhost", clients=6, path="/index.html") as load,
        fresh,
    ):
        wait_until(lambda: load.count() >= 100, what="100 answers from v1", timeout=60)
        for version in ("v2", "v3", "v4"):
            index.write_text(f"hello {version}\n")
            deployed = cli("deploy", "hello")
            assert deployed.code == 0, deployed.err
        pf = ProjectFile.load(root / "pilot.toml")
        pf.save(pf.with_value("apps.hello.target.health_path", "/missing"))
        index.write_text("hello v5\n")
        failed = cli("deploy", "hello")
        assert failed.code != 0 and "did not answer 2xx" in failed.err, failed.err
        settled, before = time.monotonic(), load.count()
        wait_until(
            lambda: time.monotonic() > settled + 1 and load.count() >= before + 100,
            what="a second and 100 answers after the failed release",
        )
    report = load.report
    print(f"3 releases and a failed one under 6 keep-alive clients: {report.summary()}")
    print(f"... and under 4 clients with a new connection a request: {fresh.report.summary()}")
    assert _config_loads(docker_client) == loads  # releases switch upstream files only
    assert report.failures == [], report.failures[:5]
    assert fresh.report.failures == [], fresh.report.failures[:5]
    assert len(fresh.report.answers) >= 100
    assert report.retried == 0  # no idle connection was closed under the clients
    bodies = [body.decode().strip() for _, _, body in report.answers]
    assert {"hello v1", "hello v2", "hello v3", "hello v4"} <= set(bodies)
    assert "hello v5" not in bodies
    assert report.bodies_after(settled) == {b"hello v4\n"}
