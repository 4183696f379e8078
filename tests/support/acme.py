"""Let's Encrypt's own test CA, Pebble (Debian's `pebble`, with `pebble-challtestsrv` as its
DNS), in a container on the private engine's `pilot` network: the ACME CA the edge gets its
certificates from in the tests, with no network beyond this machine.

Pebble's own HTTPS certificate (for the name `pebble`) is signed by a throwaway CA made here;
the project trusts it through `server.acme_ca_root`. challtestsrv answers every name with
the address it is given (the edge's, on the network), so Pebble validates HTTP-01 at the
edge itself. Pebble's management API (its roots) is published on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import shutil
import ssl
import tarfile
import time
import urllib.request
from dataclasses import dataclass

from pilot_tui.deploy.targets.docker_host.proxy import folder_tar

NAME = "pebble"
IMAGE = "pilot/pebble:test"
DIRECTORY = f"https://{NAME}:14000/dir"


@dataclass
class Pebble:
    container_id: str
    management: int  # 127.0.0.1 port of the management API
    ca_pem: bytes  # the root of Pebble's own HTTPS certificate (not of what it issues)

    def roots(self) -> bytes:
        """The root Pebble signs certificates with (new on every start)."""
        return self._get("/roots/0")

    def _get(self, path: str) -> bytes:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        context.check_hostname = False  # its certificate names `pebble`, asked at 127.0.0.1
        url = f"https://127.0.0.1:{self.management}{path}"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return response.read()


def available() -> str | None:
    """Why Pebble cannot run here, or None."""
    for program in ("pebble", "pebble-challtestsrv"):
        if shutil.which(program) is None:
            return f"{program} is missing (bash .ci/setup --test installs Debian's pebble)"
    return None


def ca_and_server_cert() -> tuple[bytes, bytes, bytes]:
    """(CA certificate PEM, Pebble's certificate PEM for `pebble`, its key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pilot test ACME server CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def build_image(client, python_base: str) -> str:  # client: docker.DockerClient
    """Pebble and challtestsrv on the Debian base (both link glibc); built unless it exists."""
    import docker

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(IMAGE)
        return IMAGE
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = (
            f"FROM {python_base}\nCOPY pebble pebble-challtestsrv /usr/local/bin/\n"
        ).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        for program in ("pebble", "pebble-challtestsrv"):
            tar.add(shutil.which(program) or program, arcname=program)
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)
    return IMAGE


def start(
    client,
    network: str,
    answer_ip: str,
    management: int,
    validity: int,
    certs: tuple[bytes, bytes, bytes],
) -> Pebble:
    """Pebble on ``network`` as `pebble` with ``certs`` (ca_and_server_cert()), its DNS
    answering every name with ``answer_ip``, issuing certificates valid ``validity``
    seconds; waits until its directory answers."""
    ca_pem, cert_pem, key_pem = certs
    config = {
        "pebble": {
            "listenAddress": "0.0.0.0:14000",
            "managementListenAddress": "0.0.0.0:15000",
            "certificate": "/pebble/cert.pem",
            "privateKey": "/pebble/key.pem",
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "certificateValidityPeriod": validity,
        }
    }
    script = (
        f"pebble-challtestsrv -defaultIPv4 {answer_ip} -defaultIPv6 '' -dns01 127.0.0.1:8053 "
        "-http01 '' -https01 '' -tlsalpn01 '' -management 127.0.0.1:8055 & "
        "exec pebble -config /pebble/config.json -dnsserver 127.0.0.1:8053"
    )
    container = client.containers.create(
        IMAGE,
        ["sh", "-c", script],
        name=NAME,
        network=network,
        environment={
            "PEBBLE_VA_NOSLEEP": "1",  # validate at once
            "PEBBLE_WFE_NONCEREJECT": "0",  # no bad-nonce retries
            "PEBBLE_AUTHZREUSE": "0",  # every order validates again
        },
        ports={"15000/tcp": ("127.0.0.1", management)},
    )
    files = {
        "config.json": json.dumps(config).encode(),
        "cert.pem": cert_pem,
        "key.pem": key_pem,
    }
    container.put_archive("/", folder_tar("pebble", files))
    container.start()
    pebble = Pebble(container.id, management, ca_pem)
    deadline = time.monotonic() + 30
    while True:
        try:
            pebble.roots()
            return pebble
        except OSError:
            if time.monotonic() > deadline:
                logs = container.logs().decode(errors="replace")
                raise RuntimeError(f"pebble did not start:\n{logs}") from None
            time.sleep(0.2)


def issued(client, pebble: Pebble) -> int:
    """How many certificates Pebble has issued (its log says so for each)."""
    logs = client.containers.get(pebble.container_id).logs().decode(errors="replace")
    return sum("Issued certificate serial" in line for line in logs.splitlines())


def https_get(port: int, name: str, roots: bytes, path: str = "/") -> tuple[dict, int, bytes]:
    """GET https://``name````path`` at 127.0.0.1:``port``, the chain and the name verified
    against ``roots``: (the certificate, the status, the body)."""
    import http.client
    import socket

    context = ssl.create_default_context(cadata=roots.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=name) as tls,
    ):
        certificate = tls.getpeercert()
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        response.begin()
        return certificate, response.status, response.read()
