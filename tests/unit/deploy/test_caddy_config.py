"""The edge's Caddy config as data: which hosts get HTTPS, the redirect, the 404 that ends
every server, the ACME issuer, and the admin API kept on the container's loopback."""

from __future__ import annotations

from pilot_tui.deploy.targets.docker_host import caddy_config
from pilot_tui.deploy.targets.docker_host.caddy_config import EdgeSettings, build, certifiable

ROUTES = {
    "api.localhost": "pilot-acme-api-v1:8080",
    "api.34.120.5.9.sslip.io": "pilot-acme-api-v1:8080",
    "shop.example.com": "pilot-acme-shop-v4:3000",
}


def _hosts(route: dict) -> list[str]:
    return [h for m in route.get("match", []) for h in m.get("host", [])]


def _handlers(route: dict) -> list[str]:
    return [h["handler"] for h in route["handle"]]


def test_names_a_public_ca_can_certify():
    assert certifiable("shop.example.com") and certifiable("api.34.120.5.9.sslip.io")
    assert certifiable("App.Example.Test.") and certifiable("api.34.120.5.9.nip.io")
    for name in (
        "api.localhost",
        "localhost",
        "34.120.5.9",
        "::1",
        "intranet",
        "build.internal",
        "printer.local",
        "nas.home.arpa",
        "api.10.0.0.5.sslip.io",  # a private address: no CA can reach it
        "api.127.0.0.1.sslip.io",
        "api.203.0.113.7.sslip.io",  # documentation range, not routed
        "api.sslip.io",
    ):
        assert not certifiable(name), name


def test_with_tls_off_every_host_is_plain_http_and_there_is_no_https_server():
    config = build(ROUTES, EdgeSettings(tls=False))
    servers = config["apps"]["http"]["servers"]
    assert list(servers) == ["http"] and "tls" not in config["apps"]
    routes = servers["http"]["routes"]
    assert routes[0]["match"] == [{"path": [caddy_config.HEALTH_PATH]}]
    proxied = {h: r for r in routes[1:-1] for h in _hosts(r)}
    assert set(proxied) == set(ROUTES)
    for host, route in proxied.items():
        upstreams = route["handle"][-1]["upstreams"]
        dial = f"{{file.{caddy_config.UPSTREAMS_DIR}/{host}}}"  # the host's file, per request
        assert upstreams == [{"dial": dial}] and route["terminal"] is True


def test_the_config_names_hosts_only_so_a_release_does_not_change_it():
    moved = {host: "pilot-acme-api-v2:8080" for host in ROUTES}
    for tls in (False, True):
        assert build(moved, EdgeSettings(tls=tls)) == build(ROUTES, EdgeSettings(tls=tls))


def test_a_host_that_is_no_file_name_is_refused():
    for bad in ("../etc/passwd", "a/b", "Upper.example.com", "-x.example.com", "a b", ""):
        try:
            caddy_config.upstream_file(bad)
        except ValueError as exc:
            assert "not a host name" in str(exc)
        else:
            raise AssertionError(f"{bad!r} accepted")
    assert caddy_config.upstream_file("api.1.2.3.4.sslip.io", "/u") == "/u/api.1.2.3.4.sslip.io"


def test_with_tls_on_certifiable_hosts_are_served_over_https_and_redirected():
    config = build(ROUTES, EdgeSettings(tls=True, https_port=8443, acme_email="ops@acme.test"))
    http, https = (config["apps"]["http"]["servers"][n] for n in ("http", "https"))
    secure = ["api.34.120.5.9.sslip.io", "shop.example.com"]
    redirect = http["routes"][1]
    assert _hosts(redirect) == secure
    assert redirect["handle"][0]["status_code"] == 308
    assert redirect["handle"][0]["headers"]["Location"] == [
        "https://{http.request.host}:8443{http.request.uri}"
    ]
    # The name only this machine resolves stays plain; it gets no certificate.
    assert [h for r in http["routes"][2:-1] for h in _hosts(r)] == ["api.localhost"]
    assert [h for r in https["routes"][:-1] for h in _hosts(r)] == secure
    assert https["listen"] == [":443"] and https["automatic_https"] == {"disable_redirects": True}
    policy = config["apps"]["tls"]["automation"]["policies"][0]
    assert policy["subjects"] == secure
    assert policy["issuers"] == [
        {
            "module": "acme",
            "ca": "https://acme-v02.api.letsencrypt.org/directory",
            "email": "ops@acme.test",
        }
    ]


def test_the_redirect_leaves_out_the_default_https_port():
    config = build(ROUTES, EdgeSettings(tls=True))
    location = config["apps"]["http"]["servers"]["http"]["routes"][1]["handle"][0]["headers"]
    assert location["Location"] == ["https://{http.request.host}{http.request.uri}"]


def test_staging_a_directory_url_and_a_private_root():
    staging = build(ROUTES, EdgeSettings(tls=True, acme_ca="staging"))
    issuer = staging["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]
    assert issuer["ca"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert "email" not in issuer and "trusted_roots_pem_files" not in issuer
    private = build(
        ROUTES,
        EdgeSettings(tls=True, acme_ca="https://ca.internal/dir", acme_ca_root="/etc/pilot/r.pem"),
    )
    issuer = private["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]
    assert issuer["ca"] == "https://ca.internal/dir"
    assert issuer["trusted_roots_pem_files"] == ["/etc/pilot/r.pem"]


def test_hsts_only_when_asked_and_only_over_https():
    without = build(ROUTES, EdgeSettings(tls=True))
    with_hsts = build(ROUTES, EdgeSettings(tls=True, hsts=True))
    for route in without["apps"]["http"]["servers"]["https"]["routes"][:-1]:
        assert _handlers(route) == ["reverse_proxy"]
    for route in with_hsts["apps"]["http"]["servers"]["https"]["routes"][:-1]:
        assert _handlers(route) == ["headers", "reverse_proxy"]
        header = route["handle"][0]["response"]["set"]["Strict-Transport-Security"]
        assert header == [caddy_config.HSTS]
    for route in with_hsts["apps"]["http"]["servers"]["http"]["routes"]:
        assert "headers" not in _handlers(route)


def test_every_server_ends_in_a_404_that_names_nothing():
    config = build(ROUTES, EdgeSettings(tls=True))
    for server in config["apps"]["http"]["servers"].values():
        last = server["routes"][-1]
        assert "match" not in last and last["terminal"] is True
        assert last["handle"] == [
            {"handler": "static_response", "status_code": 404, "body": caddy_config.NOT_FOUND}
        ]
        assert not any(host in caddy_config.NOT_FOUND for host in ROUTES)


def test_the_admin_api_is_on_the_containers_loopback_and_access_logs_are_json():
    config = build(ROUTES, EdgeSettings())
    assert config["admin"] == {"listen": "localhost:2019"}
    assert config["storage"] == {"module": "file_system", "root": "/data/caddy"}
    access = config["logging"]["logs"]["access"]
    assert access["include"] == ["http.log.access"]
    # Headers and query strings carry tokens: never logged.
    encoder = access["encoder"]
    assert encoder["format"] == "filter" and encoder["wrap"] == {"format": "json"}
    fields = encoder["fields"]
    assert fields["request>headers"] == fields["resp_headers"] == {"filter": "delete"}
    assert fields["request>uri"] == {"filter": "regexp", "regexp": r"\?.*$", "value": ""}
    assert config["logging"]["logs"]["default"] == {"exclude": ["http.log.access"]}
    assert all(s["logs"] == {} for s in config["apps"]["http"]["servers"].values())


def test_no_routes_is_health_and_404_only():
    config = build({}, EdgeSettings(tls=True))
    routes = config["apps"]["http"]["servers"]["http"]["routes"]
    assert len(routes) == 2 and list(config["apps"]["http"]["servers"]) == ["http"]
