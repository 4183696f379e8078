"""Releases through the edge under keep-alive load, as `pilot-tui deploy` makes them: three
new releases and one that fails its health check, while a pool of keep-alive clients asks
the app without pause. No request fails; the count (and the closed idle connections the
clients retried, as browsers do) is reported; each release is seen, the last one at the
end, and the failed one never."""

from __future__ import annotations

import time

from pilot_tui.config.document import ProjectFile
from tests.polling import wait_until
from tests.support.load import KeepAliveLoad


def test_three_releases_and_a_failed_one_under_keep_alive_load_fail_no_request(site, cli):
    root, port = site
    index = root / "hello" / "www" / "index.html"
    assert cli("deploy", "hello").code == 0
    with KeepAliveLoad(port, "hello.localhost", clients=6, path="/index.html") as load:
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
    assert report.failures == [], report.failures[:5]
    assert report.retried <= 6 * 8  # at most one per client and config load (two a deploy)
    bodies = [body.decode().strip() for _, _, body in report.answers]
    assert {"hello v1", "hello v2", "hello v3", "hello v4"} <= set(bodies)
    assert "hello v5" not in bodies
    assert report.bodies_after(settled) == {b"hello v4\n"}
