"""What a deploy lease in the state bucket is, with the standard library alone: where it is
kept and whether it still holds. shared_lease.py takes and gives leases back; the agent on
the Pilot Server reads them, so a preview being deployed is not removed under its deploy.
"""

from __future__ import annotations

import json

LOCKS = "pilot/locks"
LEASE = 300.0  # seconds a lease holds without being renewed
RENEW = 60.0  # seconds between its holder's renewals


def key(app: str) -> str:
    """Where ``app``'s lease is kept in the state bucket (a preview's: APP--NAME)."""
    return f"{LOCKS}/{app}.json"


def given_up(released: bool, age: float, lease: float = LEASE) -> bool:
    """Whether a lease no longer holds: given back, or not renewed for ``lease`` seconds
    (``age``: since it was last written, by the bucket's clock)."""
    return released or age >= lease


def holds(data: bytes, age: float, lease: float = LEASE) -> bool:
    """Whether the lease kept as ``data``, written ``age`` seconds ago by the bucket's
    clock, still holds: not given back and renewed less than ``lease`` seconds ago. One
    that cannot be read guards nothing."""
    try:
        found = json.loads(data)
    except ValueError:
        return False
    return holds_read(found, age, lease)


def holds_read(found: object, age: float, lease: float = LEASE) -> bool:
    """``holds`` for a lease already read as JSON (``found``)."""
    if not isinstance(found, dict) or "holder" not in found:
        return False
    return not given_up(bool(found.get("released", False)), age, lease)
