"""What the edge says of an app, from its logs and its certificates folder, as data: access
log lines (Caddy's JSON), traffic over a window (req/s, 5xx rate, p95), the last certificate
error per name, and the certificates held."""

from __future__ import annotations

import datetime
import json

from pilot_tui.deploy.targets.docker_host.edge_facts import (
    Certificate,
    Traffic,
    bare_host,
    certificate_errors,
    newest_certificate,
    parse_access,
    parse_system_time,
    traffic,
)

# A line as Caddy 2.11 writes it (seen in the edge tests), shortened.
ACCESS = (
    '{"level":"info","ts":1796293921.12,"logger":"http.log.access","msg":"handled request",'
    '"request":{"remote_ip":"172.30.0.1","proto":"HTTP/1.1","method":"GET",'
    '"host":"App.Example.test:8443","uri":"/x?y=1","headers":{}},"bytes_read":0,'
    '"duration":0.0125,"size":19,"status":404,"resp_headers":{}}'
)


def _line(at: float, host: str, status: int, duration: float) -> str:
    entry = json.loads(ACCESS)
    entry.update(ts=at, status=status, duration=duration)
    entry["request"]["host"] = host
    return json.dumps(entry)


def test_an_access_line_is_parsed_and_anything_else_is_not():
    entry = parse_access(ACCESS)
    assert entry is not None
    assert (entry.host, entry.method, entry.uri, entry.status) == (
        "app.example.test",
        "GET",
        "/x?y=1",
        404,
    )
    assert entry.duration == 0.0125 and entry.size == 19
    assert "404 GET app.example.test/x?y=1 12.5 ms 19 B" in entry.text()
    for other in ("", "not json", '{"logger":"tls.obtain","msg":"x"}', "[1, 2]", '{"logger":1}'):
        assert parse_access(other) is None
    broken = json.loads(ACCESS)
    del broken["status"]
    assert parse_access(json.dumps(broken)) is None


def test_hosts_lose_their_port_and_case():
    assert bare_host("App.Example.Test:443") == "app.example.test"
    assert bare_host("app.example.test.") == "app.example.test"
    assert bare_host("[::1]:80") == "[::1]"
    assert bare_host("hello.localhost") == "hello.localhost"


def test_traffic_counts_the_apps_names_in_the_window_with_its_5xx_and_p95():
    now = 10_000.0
    lines = [_line(now - 10 - i, "a.test", 200, 0.001 * (i + 1)) for i in range(95)]
    lines += [_line(now - 5, "a.test:80", 502, 0.5) for _ in range(5)]
    lines += [_line(now - 5, "b.test", 500, 0.1)]  # another app
    lines += [_line(now - 400, "a.test", 500, 0.1)]  # before the window
    entries = [e for e in map(parse_access, lines) if e]
    seen = traffic(entries, {"a.test"}, now, 300)
    assert (seen.requests, seen.errors) == (100, 5)
    assert seen.per_second == 100 / 300 and seen.error_rate == 0.05
    assert seen.p95_ms == 95.0  # the 95th of 100 sorted durations: 0.095 s
    assert seen.text() == "0.33 req/s, 5.0% 5xx, p95 95 ms (100 in 5 min)"
    quiet = traffic(entries, {"c.test"}, now, 300)
    assert quiet == Traffic(300, 0, 0, None) and quiet.text() == "no requests in 5 min"
    assert Traffic(30, 0, 0, None).text() == "no requests in 30 s"  # (walk: "in 0 min")


def test_the_last_certificate_error_is_kept_until_a_success():
    # Lines as Caddy 2.11 writes them (seen in the edge's logs), shortened.
    failed = (
        '{"level":"error","ts":1796293919.37,"logger":"tls.obtain","msg":"could not get '
        'certificate from issuer","identifier":"%s","issuer":"acme-v02","error":"%s"}'
    )
    obtained = (
        '{"level":"info","ts":1796295243.35,"logger":"tls.obtain","msg":"certificate obtained '
        'successfully","identifier":"%s","issuer":"pebble:14000-dir"}'
    )
    renewed = (
        '{"level":"info","ts":1796294725.23,"logger":"tls.renew","msg":"certificate renewed '
        'successfully","identifier":"%s","issuer":"pebble:14000-dir"}'
    )
    lines = [
        failed % ("a.test", "DNS problem: NXDOMAIN looking up A for a.test"),
        failed % ("b.test", "first"),
        failed % ("c.test", "connection refused"),
        "plain text",
        obtained % "a.test",
        renewed % "c.test",
        failed % ("b.test", "rate limited"),
        '{"level":"error","logger":"http.log","identifier":"d.test","error":"not tls"}',
    ]
    assert certificate_errors(lines) == {"b.test": "rate limited"}


def _cert(name: str, issuer: str, days: int, ca: bool = False) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_newest_leaf_among_the_names_crt_files():
    # Two issuers' files for one name, concatenated; each a chain, leaf first.
    pem = (
        _cert("a.test", "R11", 30)
        + _cert("R11", "ISRG Root X1", 900, ca=True)
        + _cert("a.test", "Pebble Intermediate CA", 60)
        + _cert("Pebble Intermediate CA", "Pebble Root CA", 3650, ca=True)
    )
    issuer, expires = newest_certificate(pem)
    assert issuer == "Pebble Intermediate CA"  # 60 days beats 30; intermediates skipped
    left = expires - datetime.datetime.now(datetime.UTC).timestamp()
    assert 59 * 86400 < left <= 60 * 86400
    assert newest_certificate(b"") is None
    assert (
        newest_certificate(b"-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        is None
    )


def test_a_certificate_in_words():
    expires = 1_800_000_000.0
    said = Certificate("a.test", "Pebble CA", expires, "").text(expires - 59 * 86400)
    assert said == "a.test: by Pebble CA, expires 2027-01-15 08:00 UTC (in 59 d)"
    soon = Certificate("a.test", "Pebble CA", expires, "rate limited").text(expires - 600)
    assert soon.endswith("(in 10 min); last renewal failed: rate limited")
    gone = Certificate("a.test", "R11", expires, "").text(expires + 3 * 86400)
    assert gone == "a.test: by R11, EXPIRED 2027-01-15 08:00 UTC (3 d ago)"
    none = Certificate("a.test", "", None, "DNS problem").text(expires)
    assert none == "a.test: no certificate yet (DNS problem)"


def test_the_docker_hosts_clock_is_read_in_its_zone():
    assert parse_system_time("2026-12-03T12:03:55.123456789Z") == 1796299435.123456
    assert parse_system_time("2026-12-03T13:03:55.5+01:00") == 1796299435.5
    assert parse_system_time("2026-12-03T12:03:55Z") == 1796299435.0
    assert parse_system_time("yesterday") is None
