"""What the edge says of an app, from its logs and its certificates folder, as data: access
log lines (Caddy's JSON), traffic over a window (req/s, 5xx rate, p95), the last certificate
error per name, and the certificates held."""

from __future__ import annotations

import datetime
import io
import json
import tarfile

from pilot_tui.deploy.targets.docker_host.edge_facts import (
    Certificate,
    Traffic,
    bare_host,
    certificate_errors,
    held_certificates,
    parse_access,
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


def test_the_last_certificate_error_is_kept_until_a_success():
    def log(level: str, logger: str, name: str, msg: str, error: str | None = None) -> str:
        entry = {"level": level, "logger": logger, "identifier": name, "msg": msg}
        if error is not None:
            entry["error"] = error
        return json.dumps(entry)

    lines = [
        log("error", "tls.obtain", "a.test", "could not get certificate", "DNS problem: NXDOMAIN"),
        log("error", "tls.obtain", "b.test", "could not get certificate", "first"),
        "plain text",
        log("info", "tls.obtain", "a.test", "certificate obtained successfully"),
        log("error", "tls.renew", "b.test", "will retry", "connection refused"),
        log("error", "http.log", "c.test", "not about certificates", "x"),
    ]
    assert certificate_errors(lines) == {"b.test": "connection refused"}


def _cert(name: str, issuer: str, days: int) -> bytes:
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
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_newest_certificate_held_for_each_name():
    files = {
        "certificates/acme-v02/a.test/a.test.crt": _cert("a.test", "R11", 30),
        "certificates/acme-v02/a.test/a.test.key": b"never read",
        "certificates/acme-v02/a.test/a.test.json": b"{}",
        "certificates/pebble-dir/a.test/a.test.crt": _cert("a.test", "Pebble CA", 60),
        "certificates/pebble-dir/b.test/b.test.crt": _cert("b.test", "Pebble CA", 1),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    held = held_certificates(out.getvalue())
    assert set(held) == {"a.test", "b.test"}
    assert held["a.test"][0] == "Pebble CA"  # 60 days beats 30
    left = held["b.test"][1] - datetime.datetime.now(datetime.UTC).timestamp()
    assert 86000 < left <= 86400


def test_a_certificate_in_words():
    expires = 1_800_000_000.0
    said = Certificate("a.test", "Pebble CA", expires, "").text(expires - 59 * 86400)
    assert said == "a.test: by Pebble CA, expires 2027-01-15 08:00 UTC (in 59 d)"
    soon = Certificate("a.test", "Pebble CA", expires, "rate limited").text(expires - 600)
    assert soon.endswith("(in 10 min); last renewal failed: rate limited")
    none = Certificate("a.test", "", None, "DNS problem").text(expires)
    assert none == "a.test: no certificate yet (DNS problem)"
