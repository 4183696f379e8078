"""The Pilot Server's SSH key: ed25519, generated locally, private half 0600 under .pilot/."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.fsutil import atomic_write, ensure_private_dir

KEY_NAME = "server_ed25519"


def server_key(keys_dir: Path, comment: str) -> tuple[Path, str]:
    """(private key path, OpenSSH public key), generating the pair on first use."""
    private = keys_dir / KEY_NAME
    public = keys_dir / f"{KEY_NAME}.pub"
    if private.is_file() and public.is_file():
        return private, public.read_text().strip()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ensure_private_dir(keys_dir)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    pub = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    line = f"{pub} {comment}"
    atomic_write(private, pem, mode=0o600)
    atomic_write(public, line + "\n", mode=0o644)
    return private, line
