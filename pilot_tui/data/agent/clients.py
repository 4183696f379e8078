"""Managed databases' client containers, as the CLI (``managed_client``) and the backup
agent both make them: each run's own name, and which leftovers to remove (standard
library only: the agent's image has nothing else)."""

from __future__ import annotations

import secrets


def run_name(prefix: str) -> str:
    """A run's own container name: runs at once (a teammate's psql, the agent's dump)
    never meet, and none removes another's."""
    return f"{prefix}-{secrets.token_hex(3)}"


def left_over(state: str) -> bool:
    """Whether a client container in this engine state is a leftover to remove: made but
    never started (a run that failed there; a started one ends and is removed by itself).
    A running one is another run's."""
    return state == "created"
