"""`pilot-tui status` when the Docker host does not answer: found walking (no Docker on the
machine), it failed outright, saying nothing of the apps elsewhere. Now the apps on the
host that were deployed, and the databases, are "unknown" (exit 1), the others are asked
as ever, and the warning says why and what to do. No engine runs here on purpose: the
sandbox's Docker is pointed at a socket nothing listens on."""

from __future__ import annotations

import json

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
    rows = {line.split()[0]: line for line in shown.out.splitlines()}
    unknown = "unknown (the Docker host could not be opened: see above)"
    assert "v2" in rows["api"] and unknown in rows["api"]
    assert "not deployed" in rows["web"] and "not deployed" in rows["new"]
    assert unknown in rows["(proxy)"] and unknown in rows["(db"]

    as_json = {row["app"]: row for row in json.loads(cli("status", "--json").out)}
    assert as_json["api"]["health"] == unknown
    assert as_json["web"]["health"] == "not deployed"
