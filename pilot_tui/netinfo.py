"""The operator's public address, for a default `server.allowed_cidrs`."""

from __future__ import annotations

import ipaddress
import urllib.request

CHECK_URLS = ("https://checkip.amazonaws.com", "https://api.ipify.org")


# HOST[:PORT] on this machine only: a stand-in's address (a local registry, a local API)
# that a token may be sent to.
LOOPBACK_HOST_PORT = r"(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?"


def public_address(timeout: float = 3.0) -> str | None:
    """Our public IPv4/IPv6 address as seen from outside, or None when it cannot be found."""
    for url in CHECK_URLS:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                text = response.read(64).decode().strip()
            return str(ipaddress.ip_address(text))
        except (OSError, ValueError):
            continue
    return None
