"""Each database's password: generated once, kept in .pilot/databases/NAME.password (0600)
and masked wherever Pilot prints. The database's container is the truth: a teammate's
deploy that made it wins over a local file, which is then rewritten."""

from __future__ import annotations

import secrets
from pathlib import Path

from pilot_tui import redact
from pilot_tui.fsutil import atomic_write, ensure_private_dir


def password_file(state_dir: Path, name: str) -> Path:
    return state_dir / "databases" / f"{name}.password"


def stored(state_dir: Path, name: str) -> str | None:
    path = password_file(state_dir, name)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    redact.register([value])
    return value or None


def keep(state_dir: Path, name: str, value: str) -> None:
    """Write ``value`` as the database's password (0600, atomically), unless it is so."""
    redact.register([value])
    if stored(state_dir, name) == value:
        return
    path = password_file(state_dir, name)
    ensure_private_dir(path.parent)
    atomic_write(path, value + "\n", mode=0o600)


def new() -> str:
    """32 URL-safe characters (192 bits): no quoting in a URL or a shell."""
    return secrets.token_urlsafe(24)


def stored_values(state_dir: Path) -> list[str]:
    """Every database password kept here, for the redactor."""
    found = []
    for path in sorted((state_dir / "databases").glob("*.password")):
        try:
            found.append(path.read_text(encoding="utf-8").strip())
        except OSError:
            continue
    return [value for value in found if value]
