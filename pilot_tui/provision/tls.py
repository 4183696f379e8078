"""Mutual-TLS material for the Pilot Server's Docker engine (`docker_access = "mtls"`).

Generated locally with `cryptography`: a private CA, a server certificate for the server's
address, and a client certificate for this machine. Everything lives in .pilot/keys/tls/
(keys 0600, the directory 0700); only the server's half is ever copied to the server. Docker
then listens on 2376 with --tlsverify: no client without a certificate from this CA gets in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.fsutil import atomic_write, ensure_private_dir

if TYPE_CHECKING:  # cryptography is imported only when material is made
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate, GeneralName, ObjectIdentifier

VALID_DAYS = 825  # the longest lifetime clients still accept for a server certificate


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the TLS material, in Docker's file naming."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "key.pem"


def ensure_tls(directory: Path, project: str, server_names: list[str]) -> TlsFiles:
    """Create the CA (once) and certificates for ``server_names`` (IPs or DNS names)."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    files = TlsFiles(ensure_private_dir(directory))
    now = dt.datetime.now(dt.UTC)
    ca = _ensure_ca(files, project, now)
    _issue(
        ca,
        now,
        f"pilot-{project} docker",
        ExtendedKeyUsageOID.SERVER_AUTH,
        _subject_names(server_names),
        (files.server_cert, files.server_key),
    )
    if not (files.client_cert.exists() and files.client_key.exists()):
        _issue(
            ca,
            now,
            f"pilot-{project} client",
            ExtendedKeyUsageOID.CLIENT_AUTH,
            [],
            (files.client_cert, files.client_key),
        )
    return files


def _write_key(path: Path, key: EllipticCurvePrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    atomic_write(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )


def _write_cert(path: Path, cert: Certificate) -> None:
    from cryptography.hazmat.primitives import serialization

    atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _ensure_ca(
    files: TlsFiles, project: str, now: dt.datetime
) -> tuple[EllipticCurvePrivateKey, Certificate]:
    """The project's CA: the stored one, else a new one (stored)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if files.ca_cert.exists() and files.ca_key.exists():
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pilot-{project} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS * 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.ca_key, ca_key)
    _write_cert(files.ca_cert, ca_cert)
    return ca_key, ca_cert


def _subject_names(server_names: list[str]) -> list[GeneralName]:
    """Each name as the certificate's subject alternative name: an IP or a DNS name."""
    from cryptography import x509

    sans: list[GeneralName] = []
    for host in server_names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return sans


def _issue(
    ca: tuple[EllipticCurvePrivateKey, Certificate],
    now: dt.datetime,
    common_name: str,
    usage: ObjectIdentifier,
    sans: list[GeneralName],
    paths: tuple[Path, Path],
) -> None:
    """A new key and a certificate for it signed by ``ca``, stored at ``paths`` (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(paths[1], key)
    _write_cert(paths[0], cert)


REMOTE_DIR = "/etc/docker/pilot-tls"


def server_bundle(files: TlsFiles) -> str:
    """The server's half (CA certificate, server certificate and key) as base64 of a tar
    whose key member is 0600: sent over SSH on stdin, never on a command line."""
    import base64
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, mode in (
            (files.ca_cert, 0o644),
            (files.server_cert, 0o644),
            (files.server_key, 0o600),
        ):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buffer.getvalue()).decode()


def install_script(remote_dir: str = REMOTE_DIR, *, sudo: bool = True, restart: bool = True) -> str:
    """The shell run on the server: wait for cloud-init, unpack the bundle, restart Docker."""
    s = "sudo " if sudo else ""
    steps = [
        "set -e",
        "if command -v cloud-init >/dev/null; then " + s + "cloud-init status --wait >/dev/null"
        " || true; fi",
        f"{s}install -d -m 0700 {remote_dir}",
        f"base64 -d | {s}tar -x -f - -C {remote_dir} --no-same-owner",
    ]
    if restart:
        steps.append(f"{s}systemctl restart docker")
    return "; ".join(steps)
