"""Whether a Docker engine answers on a Unix socket (the sandbox deploys to this machine's
engine). Starting a private engine of our own is the tests' business: tests/support/dockerd.py."""

from __future__ import annotations

import socket
from pathlib import Path


def ping(sock: Path, timeout: float = 2.0) -> bool:
    """Whether an engine answers GET /_ping on ``sock`` (HTTP/1.0: the reply ends at close)."""
    reply = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]
