"""Caddy's JSON config for a Docker host's edge, built as data from the routes table and the
server's TLS settings (no Docker, no I/O: tested as data, applied by proxy_container.py).

Two servers:

- ``http`` on :80: Pilot's health path (any host), a redirect to HTTPS for every host that has
  a certificate, plain routes for the others (``APP.localhost`` in the sandbox, names with TLS
  off), and a 404 that names nothing for any other host. ACME's HTTP-01 challenges are
  answered here by Caddy itself before any route.
- ``https`` on :443 (only when some host has TLS): those hosts, with certificates Caddy
  obtains and renews from the ACME CA, optionally with HSTS; any other name gets no
  certificate (the TLS handshake fails), so nothing is revealed either.

Caddy's own automatic redirects are off: the :80 server ends in a catch-all 404, which
would shadow the routes Caddy appends, so the redirects are written here, where a test can
read them. An absolute-form request (``GET http://elsewhere/``) is matched by its own host
like any other, so it can only reach an app's route, never another host: no open proxy.

A host's upstream is not in the config: its route dials ``{file.UPSTREAMS_DIR/HOST}``, a
file holding the live release's ``CONTAINER:PORT`` (on the private network), read by Caddy
on every request. A release swap renames a new file over it, one atomic step, with no reload:
a reload closes idle keep-alive connections and drops connections that arrive while the
listeners change hands (``tests/integration/deploy/test_swap_under_load.py``). The config,
and a reload, change only with the set of hosts or the TLS settings. ``{file.*}`` needs
Caddy 2.8 or newer.

The admin API listens on the container's own loopback: nothing outside the container (not
the host's published ports, not an app container on the network) can reach it; Pilot reaches
it with ``docker exec … caddy reload``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

ADMIN = "localhost:2019"  # inside the proxy container's own network namespace only
CONFIG_DIR = "/etc/pilot"  # inside the proxy container: what Pilot writes
UPSTREAMS_DIR = f"{CONFIG_DIR}/upstreams"  # one file per host: the live CONTAINER:PORT
MIN_VERSION = (2, 8)  # the {file.*} placeholder
HEALTH_PATH = "/_pilot/health"
HEALTH_BODY = b"ok\n"  # what the edge answers there
DATA_DIR = "/data"  # the named volume: certificates and the ACME account survive upgrades
ACME_DIRECTORIES = {
    "production": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
# A new host or new TLS settings reload Caddy's config (a swap does not): responses still
# streaming on the old config (a download, server-sent events) finish within this time,
# then are cut; a WebSocket is not cut by a reload for STREAM_CLOSE_DELAY (Caddy closes
# upgraded streams when the config that made them goes). A reload waits for neither.
GRACE_PERIOD = "10m"
STREAM_CLOSE_DELAY = "8h"
HSTS = "max-age=31536000"
QUERY = r"\?.*$"  # what the access logs leave out of a request's URI
NOT_FOUND = "404 page not found\n"


@dataclass(frozen=True)
class EdgeSettings:
    """What the server's settings decide about the edge."""

    tls: bool = False  # server.tls, resolved ("auto" -> True where a name can get a cert)
    https_port: int = 443  # the published port, for the redirect's location
    acme_email: str | None = None
    acme_ca: str = "production"  # "production", "staging" or a directory URL
    acme_ca_root: str | None = None  # a PEM file inside the container trusted for the CA
    hsts: bool = False


def acme_directory(ca: str) -> str:
    """The ACME directory URL of ``server.acme_ca``."""
    return ACME_DIRECTORIES.get(ca, ca)


# Names no public CA issues for: only this machine, or only a private network, resolves them.
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
# DNS that answers with the address a name spells (app.203.0.113.7.sslip.io).
ADDRESS_DNS = (".sslip.io", ".nip.io")


def certifiable(host: str) -> bool:
    """Whether a public CA can issue for ``host``: a dotted DNS name, not an IP address, not
    a name only this machine or a private network resolves (``*.localhost``, ``*.internal``,
    an sslip.io name spelling a private address)."""
    name = host.rstrip(".").lower()
    if _address(name) is not None or "." not in name or name == "localhost":
        return False
    if name.endswith(INTERNAL_SUFFIXES):
        return False
    for suffix in ADDRESS_DNS:
        if name.endswith(suffix):
            spelled = _address(".".join(name.removesuffix(suffix).split(".")[-4:]))
            return spelled is not None and spelled.is_global
    return True


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


def upstream_file(host: str, folder: str = UPSTREAMS_DIR) -> str:
    """The file naming ``host``'s live upstream (a host is a file name: checked here)."""
    if not HOST_NAME.fullmatch(host):
        raise ValueError(f"not a host name the edge routes: {host!r}")
    return f"{folder}/{host}"


def tls_hosts(hosts: Collection[str], settings: EdgeSettings) -> list[str]:
    """The routed hosts served over HTTPS: every one a certificate can be had for, when
    TLS is on."""
    return sorted(h for h in hosts if certifiable(h)) if settings.tls else []


def build(
    hosts: Collection[str], settings: EdgeSettings, upstreams: str = UPSTREAMS_DIR
) -> dict[str, Any]:
    """Caddy's whole config for the routed ``hosts`` (each one's upstream is read from its
    file under ``upstreams``, so the config does not change with a release)."""
    https = tls_hosts(hosts, settings)
    plain = sorted(h for h in hosts if h not in https)
    servers: dict[str, Any] = {
        "http": {
            "listen": [":80"],
            "routes": [
                _health(),
                *([_redirect(https, settings.https_port)] if https else []),
                *(_proxy(host, upstreams) for host in plain),
                _not_found(),
            ],
            "logs": {},  # access logs: JSON lines on stdout
        }
    }
    config: dict[str, Any] = {
        "admin": {"listen": ADMIN},
        "logging": _logging(),
        "storage": {"module": "file_system", "root": f"{DATA_DIR}/caddy"},
        # No HTTP metrics: they cost 7% of the edge's throughput (on the setup of
        # tests/bench/edge.py), and the request figures come from the access logs. The
        # admin API's /metrics (inside the container only) still has Caddy's own.
        "apps": {"http": {"grace_period": GRACE_PERIOD, "servers": servers}},
    }
    if https:
        servers["https"] = {
            "listen": [":443"],
            "routes": [
                *(_proxy(h, upstreams, hsts=settings.hsts) for h in https),
                _not_found(),
            ],
            "automatic_https": {"disable_redirects": True},
            "logs": {},
        }
        config["apps"]["tls"] = {"automation": {"policies": [_policy(https, settings)]}}
    return config


def _health() -> dict[str, Any]:
    return {
        "match": [{"path": [HEALTH_PATH]}],
        "handle": [
            {"handler": "static_response", "status_code": 200, "body": HEALTH_BODY.decode()}
        ],
        "terminal": True,
    }


def _redirect(hosts: list[str], https_port: int) -> dict[str, Any]:
    port = "" if https_port == 443 else f":{https_port}"
    return {
        "match": [{"host": hosts}],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 308,
                "headers": {
                    "Location": [f"https://{{http.request.host}}{port}{{http.request.uri}}"]
                },
            }
        ],
        "terminal": True,
    }


def _proxy(host: str, upstreams: str, *, hsts: bool = False) -> dict[str, Any]:
    handlers: list[dict[str, Any]] = []
    if hsts:
        handlers.append(
            {"handler": "headers", "response": {"set": {"Strict-Transport-Security": [HSTS]}}}
        )
    handlers.append(
        {
            "handler": "reverse_proxy",
            "upstreams": [{"dial": f"{{file.{upstream_file(host, upstreams)}}}"}],
            # Caddy keeps 32 idle connections to an upstream by default: past 32 requests at
            # once it would open and close a connection to the app for each further request.
            "transport": {"protocol": "http", "keep_alive": {"max_idle_conns_per_host": 1024}},
            "stream_close_delay": STREAM_CLOSE_DELAY,
        }
    )
    return {"match": [{"host": [host]}], "handle": handlers, "terminal": True}


def _not_found() -> dict[str, Any]:
    return {
        "handle": [{"handler": "static_response", "status_code": 404, "body": NOT_FOUND}],
        "terminal": True,
    }


def _policy(hosts: list[str], settings: EdgeSettings) -> dict[str, Any]:
    issuer: dict[str, Any] = {"module": "acme", "ca": acme_directory(settings.acme_ca)}
    if settings.acme_email:
        issuer["email"] = settings.acme_email
    if settings.acme_ca_root:
        issuer["trusted_roots_pem_files"] = [settings.acme_ca_root]
    return {"subjects": hosts, "issuers": [issuer]}


def _logging() -> dict[str, Any]:
    """Access logs as JSON lines on stdout (``docker logs pilot-proxy``), Caddy's own lines
    apart: request metrics and ``logs --access`` read the former. No request or response
    headers and no query string are logged: they carry tokens and personal data (the path,
    status, duration, size and host are what the figures need)."""
    return {
        "logs": {
            "default": {"exclude": ["http.log.access"]},
            "access": {
                "writer": {"output": "stdout"},
                "encoder": {
                    "format": "filter",
                    "wrap": {"format": "json"},
                    "fields": {
                        "request>headers": {"filter": "delete"},
                        "request>tls": {"filter": "delete"},
                        "resp_headers": {"filter": "delete"},
                        "request>uri": {"filter": "regexp", "regexp": QUERY, "value": ""},
                    },
                },
                "include": ["http.log.access"],
            },
        }
    }
