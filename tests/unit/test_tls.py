"""Docker mTLS material: a real TLS handshake on loopback accepts only this CA's client."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
import time

from pilot_tui.provision.tls import ensure_tls


def serve_once(files, results):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files.server_cert, files.server_key)
    ctx.load_verify_locations(files.ca_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED  # what dockerd --tlsverify does
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    def run():
        for _ in range(3):
            conn, _ = sock.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
                    results.append("accepted")
            except (ssl.SSLError, OSError):
                results.append("refused")
        sock.close()

    threading.Thread(target=run, daemon=True).start()
    return port


def attempt(port, files, cert=None, key=None) -> str:
    """ "served" when the server answered, "refused" when the handshake or read failed."""
    ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    if cert:
        ctx.load_cert_chain(cert, key)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            return "served" if tls.recv(2) == b"ok" else "refused"
    except (ssl.SSLError, OSError):
        return "refused"


def test_only_a_client_certificate_from_this_ca_gets_in(tmp_path):
    files = ensure_tls(tmp_path / "tls", "acme", ["127.0.0.1"])
    other = ensure_tls(tmp_path / "other", "intruder", ["127.0.0.1"])
    for key in (files.ca_key, files.server_key, files.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700

    results: list[str] = []
    port = serve_once(files, results)
    assert attempt(port, files, files.client_cert, files.client_key) == "served"
    assert attempt(port, files) == "refused"  # no client certificate
    assert attempt(port, files, other.client_cert, other.client_key) == "refused"  # other CA
    deadline = time.monotonic() + 5
    while len(results) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert results == ["accepted", "refused", "refused"]


def test_the_ca_is_kept_when_server_certificates_are_reissued(tmp_path):
    first = ensure_tls(tmp_path / "tls", "acme", ["127.0.0.1"])
    ca = first.ca_cert.read_bytes()
    client = first.client_cert.read_bytes()
    again = ensure_tls(tmp_path / "tls", "acme", ["203.0.113.9"])
    assert again.ca_cert.read_bytes() == ca  # existing clients stay trusted
    assert again.client_cert.read_bytes() == client
