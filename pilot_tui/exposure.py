"""How much of the internet a set of CIDRs lets in, judged once for every front end.

``config validate``, ``init``, the server form and the plan's warnings all ask
:func:`judge`, so ``["0.0.0.0/1", "128.0.0.0/1"]`` is the whole internet everywhere, not
only ``0.0.0.0/0``. What counts is the sum of *public* addresses covered: private ranges
(10.0.0.0/8, a VPC, a VPN) let no stranger in, however large.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ports that administer the server: never to be opened through the public web rule.
ADMIN_PORTS = {
    22: "SSH",
    2375: "plain-TCP Docker",
    2376: "Docker over mutual TLS",
    9701: "Waypoint's UI/API",
    9702: "Waypoint's runners",
}

# Address space nobody on the internet comes from (RFC 6890 special-purpose blocks).
_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
# IPv6 hosts on the internet have global unicast addresses, all inside 2000::/3.
_PUBLIC_V6 = ipaddress.IPv6Network("2000::/3")
_PUBLIC_TOTAL = {
    4: 2**32 - sum(n.num_addresses for n in _NOT_PUBLIC_V4),
    6: _PUBLIC_V6.num_addresses,
}
# "A large share": as many public addresses as a big provider's whole block, a /8 of IPv4 or
# a /32 of IPv6 (a whole ISP's allocation). A team's own networks are far smaller.
WIDE = {4: 2**24, 6: 2**96}


@dataclass(frozen=True)
class Exposure:
    """The public addresses a set of CIDRs covers, per IP version, and which CIDRs did."""

    public: dict[int, int]
    culprits: tuple[str, ...]

    def share(self, version: int) -> float:
        return self.public.get(version, 0) / _PUBLIC_TOTAL[version]

    @property
    def whole(self) -> bool:
        """All of one family's public internet: anyone there can connect."""
        return any(self.public.get(v, 0) >= _PUBLIC_TOTAL[v] for v in (4, 6))

    @property
    def wide(self) -> bool:
        return any(self.public.get(v, 0) >= WIDE[v] for v in (4, 6))

    def scope(self, *, loud: bool = False) -> str:
        """Who gets in, in words: "the whole internet" or "50% of the IPv4 internet"."""
        if self.whole:
            return "the WHOLE INTERNET" if loud else "the whole internet"
        parts = [
            f"{_percent(self.share(v))} of the IPv{v} internet"
            for v in (4, 6)
            if self.public.get(v, 0) >= WIDE[v]
        ]
        text = " and ".join(parts)
        return text.upper().replace("IPV", "IPv") if loud else text


def judge(cidrs: Iterable[str]) -> Exposure:
    """The public addresses ``cidrs`` cover together (overlaps counted once; entries that
    are not CIDRs are left to the validator's own message)."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    culprits: list[str] = []
    for text in cidrs:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        else:
            v6.append(net)
        if _public_in(net) and text.strip() not in culprits:
            culprits.append(text.strip())
    public = {
        4: sum(map(_public_in, ipaddress.collapse_addresses(v4))),
        6: sum(map(_public_in, ipaddress.collapse_addresses(v6))),
    }
    return Exposure(public, tuple(culprits))


def warning(cidrs: Iterable[str], reaches: str = "SSH and Docker") -> str | None:
    """The one warning every front end shows for a wide set, or None when it is narrow."""
    exposure = judge(cidrs)
    if not exposure.wide:
        return None
    shown = ", ".join(f'"{c}"' for c in exposure.culprits[:4])
    if len(exposure.culprits) > 4:
        shown += f" and {len(exposure.culprits) - 4} more"
    verb = "lets" if len(exposure.culprits) == 1 else "let"
    return f"{shown} {verb} {exposure.scope()} reach {reaches}; list your own addresses instead"


def _public_in(net: Network) -> int:
    """How many of ``net``'s addresses are public."""
    if isinstance(net, ipaddress.IPv6Network):
        return _overlap(net, _PUBLIC_V6)
    return net.num_addresses - sum(_overlap(net, special) for special in _NOT_PUBLIC_V4)


def _overlap(a: Network, b: Network) -> int:
    """Addresses two blocks of one IP version share."""
    low = max(int(a.network_address), int(b.network_address))
    high = min(int(a.broadcast_address), int(b.broadcast_address))
    return max(0, high - low + 1)


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 else f"{share:.2%}"
