"""A redeploy with the same image and settings changes nothing, unless the proxy does not
route every one of the app's names to the live release: a `target.domain` added since, or a
proxy that lost its routes (removed by hand), is put right by the next deploy. (Both used
to say "nothing changed" and leave the name unrouted.)"""

from __future__ import annotations

import urllib.error

import pytest

from pilot_tui.config.document import ProjectFile
from tests.support.deploy_fixtures import get


def test_a_domain_added_since_the_last_deploy_is_routed_by_the_next(site, cli):
    root, port = site
    assert cli("deploy", "hello").code == 0
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.text.replace('kind = "server", ', 'kind = "server", domain = "hello.example.test", ')
    assert text != pf.text
    pf.save(text)
    again = cli("deploy", "hello")
    assert again.code == 0, again.err
    assert "nothing changed" not in again.err
    assert get(port, host="hello.example.test") == "hello v1"
    assert get(port) == "hello v1"  # hello.localhost still
    unchanged = cli("deploy", "hello")
    assert "nothing changed: v2 is live" in unchanged.err, unchanged.err


def test_a_lost_upstream_file_is_put_back_by_the_next_deploy(site, cli, docker_client):
    """The edge serves a host from its upstream file: one removed by hand (the routes file
    still naming the release, the host answering 502) is written again by the next deploy,
    even one that changes nothing else."""
    _, port = site
    assert cli("deploy", "hello").code == 0
    edge = docker_client.containers.get("pilot-proxy")
    assert edge.exec_run(["rm", "/etc/pilot/upstreams/hello.localhost"]).exit_code == 0
    with pytest.raises(urllib.error.HTTPError, match="502"):
        get(port)
    again = cli("deploy", "hello")
    assert again.code == 0, again.err
    assert get(port) == "hello v1"


def test_a_proxy_that_lost_its_routes_gets_them_back_from_the_next_deploy(site, cli, docker_client):
    _, port = site
    assert cli("deploy", "hello").code == 0
    docker_client.containers.get("pilot-proxy").remove(force=True)
    again = cli("deploy", "hello")
    assert again.code == 0, again.err
    assert get(port) == "hello v1"
