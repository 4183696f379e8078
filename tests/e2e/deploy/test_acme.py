"""Automatic HTTPS end to end, offline: Pilot deploys an app with `target.domain` to the
private engine, the edge (Caddy) gets its certificate from Let's Encrypt's own test CA,
Pebble, over a real ACME validation, and serves it; HTTP redirects; a restart or an upgrade
(a new container) of the proxy reuses the certificate from its volume (Pebble's issuance
count does not move); a certificate due for renewal (Pebble issues it for a minute) is
renewed when the edge starts again. Caddy is free to pick the challenge (HTTP-01 on 80 or
TLS-ALPN-01 on 443): Pebble validates both against the edge's address on the private
network."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import shutil
import ssl
import time

import pytest

from pilot_tui.cloud.sandbox import free_port
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy.targets.docker_host.containers import NETWORK, PROXY_NAME
from tests.polling import wait_until
from tests.support import acme
from tests.support.deploy_fixtures import HELLO

DOMAIN = "app.example.test"
# Caddy (certmagic) renews a certificate with a third of its life left, and at once one
# with less than 50 minutes left (5 x its 10-minute check): a two-hour certificate stays
# put for the reuse checks, a one-minute one is always due.
LONG, SHORT = 7200, 60


def _set(root, **values) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.text
    for key, value in values.items():
        text = ProjectFile(pf.path, text).with_value(key, value)
    pf.save(text)


def _why(client, pebble: acme.Pebble) -> str:
    """What Pebble issued and what the edge said about certificates: the story of a
    failure."""
    issued = [
        line
        for line in client.containers.get(pebble.container_id).logs().decode().splitlines()
        if "Issued" in line
    ]
    edge = [
        line
        for line in client.containers.get(PROXY_NAME).logs().decode().splitlines()
        if '"logger":"tls' in line or "acme" in line
    ]
    return "\n".join([time.strftime("now %H:%M:%S"), *issued, *edge[-30:]])


def _expires(certificate: dict) -> float:
    when = datetime.datetime.strptime(certificate["notAfter"], "%b %d %H:%M:%S %Y %Z")
    return when.replace(tzinfo=datetime.UTC).timestamp()


@pytest.fixture
def pebble_site(engine_project, docker_client, python_base, monkeypatch):
    reason = acme.available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    import docker

    root, http_port, add = engine_project
    https_port = free_port()
    certs = acme.ca_and_server_cert()
    (root / "pebble-ca.pem").write_bytes(certs[0])
    _set(
        root,
        **{
            "server.tls": "auto",
            "server.https_port": https_port,
            "server.acme_ca": acme.DIRECTORY,
            "server.acme_ca_root": "pebble-ca.pem",
            "server.acme_email": "ops@example.test",
        },
    )
    monkeypatch.setenv("API_TOKEN", "unused")
    shutil.copytree(HELLO, root / "hello")
    add(
        {
            "name": "hello",
            "path": "hello",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 20},
            "secrets": ["API_TOKEN"],
        }
    )
    acme.build_image(docker_client, python_base)
    with_pebble = []
    yield root, http_port, https_port, certs, with_pebble
    for pebble in with_pebble:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.containers.get(pebble.container_id).remove(force=True)
    # The proxy and its volume (the certificate and the ACME account Pebble forgets).
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(PROXY_NAME).remove(force=True)
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.volumes.get("pilot-proxy-data").remove(force=True)


def _certified(pebble_site, cli, docker_client, validity: int):
    """Deploy hello, start Pebble issuing for ``validity`` seconds, add the domain and
    deploy again: (pebble, https port, the first certificate served, served())."""
    root, _, https_port, certs, with_pebble = pebble_site
    # The first deploy makes the edge (hello.localhost only: nothing to certify yet).
    first = cli("deploy", "hello")
    assert first.code == 0, first.err
    edge = docker_client.containers.get(PROXY_NAME)
    address = edge.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    pebble = acme.start(docker_client, NETWORK, address, free_port(), validity, certs)
    with_pebble.append(pebble)
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.text.replace(
        'target = { kind = "server", ', f'target = {{ kind = "server", domain = "{DOMAIN}", '
    )
    assert text != pf.text
    pf.save(text)
    second = cli("deploy", "hello")
    assert second.code == 0, second.err
    assert f"https://{DOMAIN}:{https_port}/" in second.out, second.out
    roots = pebble.roots()

    def served():
        try:
            return acme.https_get(https_port, DOMAIN, roots, "/index.html")
        except (OSError, ssl.SSLError):
            return None

    certificate, status, body = wait_until(served, what="the certificate from Pebble", timeout=60)
    assert status == 200 and body.decode().strip() == "hello v1", body
    assert ("DNS", DOMAIN) in certificate["subjectAltName"]
    assert acme.issued(docker_client, pebble) == 1, _why(docker_client, pebble)
    return pebble, certificate, served


def test_a_certificate_from_pebble_is_served_and_kept_across_restarts_and_upgrades(
    pebble_site, cli, docker_client, edge_image, monkeypatch
):
    _, http_port, https_port, _, _ = pebble_site
    pebble, certificate, served = _certified(pebble_site, cli, docker_client, LONG)
    serial = certificate["serialNumber"]

    # `status` shows the certificate the edge holds: Pebble's, and when it expires.
    shown = cli("status", "--json")
    row = next(r for r in json.loads(shown.out) if r["app"] == "hello")
    [held] = row["edge"]["certificates"]
    assert held["host"] == DOMAIN and held["issuer"].startswith("Pebble"), held
    assert abs(held["expires"] - _expires(certificate)) < 1 and held["error"] is None
    assert f"certificate {DOMAIN}: by Pebble" in cli("status").out

    # Plain HTTP redirects to the HTTPS name and port.
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    conn.request("GET", "/index.html?x=1", headers={"Host": DOMAIN})
    redirect = conn.getresponse()
    assert redirect.status == 308
    assert redirect.getheader("Location") == f"https://{DOMAIN}:{https_port}/index.html?x=1"
    conn.close()

    # A restart reads the certificate from the volume: Pebble is not asked again.
    docker_client.containers.get(PROXY_NAME).restart()
    again = wait_until(served, what="HTTPS after the proxy restarted", timeout=30)
    assert again[0]["serialNumber"] == serial, _why(docker_client, pebble)

    # An upgrade (another image: a new container) keeps the volume, and so the certificate.
    docker_client.images.get(edge_image).tag("pilot/caddy", "upgraded")
    monkeypatch.setenv("PILOT_PROXY_IMAGE", "pilot/caddy:upgraded")
    before = docker_client.containers.get(PROXY_NAME).id
    upgraded = cli("deploy", "hello")
    assert upgraded.code == 0, upgraded.err
    assert docker_client.containers.get(PROXY_NAME).id != before
    again = wait_until(served, what="HTTPS after the proxy was replaced", timeout=30)
    assert again[0]["serialNumber"] == serial, _why(docker_client, pebble)
    time.sleep(3)  # a renewal, were one started, would have reached Pebble by now
    assert acme.issued(docker_client, pebble) == 1, _why(docker_client, pebble)


def test_a_certificate_due_for_renewal_is_renewed(pebble_site, cli, docker_client):
    pebble, certificate, served = _certified(pebble_site, cli, docker_client, SHORT)
    # A one-minute certificate is due at once: the edge renews it (at the latest when it
    # starts again and finds it due), and serves the new one.
    docker_client.containers.get(PROXY_NAME).restart()
    renewed = wait_until(
        lambda: (
            (got := served()) is not None
            and got[0]["serialNumber"] != certificate["serialNumber"]
            and got
        ),
        what="a renewed certificate",
        timeout=60,
        interval=0.5,
    )
    assert renewed[1] == 200 and _expires(renewed[0]) > _expires(certificate)
    assert acme.issued(docker_client, pebble) >= 2, _why(docker_client, pebble)
