"""Versions of an app's secret values, so a release can name the ones it ran with and a
rollback can run with them again.

Each version is a file of its own, ``.pilot/secrets/versions/APP/sN-XXXXXX.env`` (0600,
in 0700 folders, the format of .pilot/secrets/APP.env), written once and never changed. N
counts this machine's versions; XXXXXX is random, so a teammate's ``s3`` (the shared
history holds their releases too) is never taken for this machine's. A deploy whose values
equal the newest version's reuses that version, so an unchanged redeploy makes no new file.
Release records hold only the version's name (``s3-1f0c9a``), never a value or a digest of
one (a digest of a short secret could be guessed offline).

The versions stay on the machine that deployed: a teammate rolling back to a release made
elsewhere is told the version is not here, and nothing is released.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from secrets import token_hex

from pilot_tui import redact
from pilot_tui.deploy import secrets
from pilot_tui.fsutil import atomic_write, ensure_private_dir

VERSION = re.compile(r"^s([0-9]+)-[0-9a-f]{6}$")


def versions_dir(state_dir: Path, app: str) -> Path:
    return state_dir / "secrets" / "versions" / app


def version_file(state_dir: Path, app: str, version: str) -> Path:
    return versions_dir(state_dir, app) / f"{version}.env"


def _numbers(state_dir: Path, app: str) -> list[tuple[int, str]]:
    folder = versions_dir(state_dir, app)
    found = []
    for path in folder.glob("s*.env") if folder.is_dir() else ():
        match = VERSION.fullmatch(path.stem)
        if match:
            found.append((int(match.group(1)), path.stem))
    return sorted(found)


def read(state_dir: Path, app: str, version: str) -> dict[str, str] | None:
    """The values of ``version`` (None: not on this machine). Registered with redact."""
    if VERSION.fullmatch(version) is None:
        return None
    path = version_file(state_dir, app, version)
    if not path.is_file():
        return None
    values = secrets.read_file(path)
    redact.register(values.values())
    return values


def keep(state_dir: Path, app: str, values: Mapping[str, str]) -> str | None:
    """The version holding exactly ``values``: the newest when it does, else a new one.
    None when the app has no secrets (nothing to version)."""
    if not values:
        return None
    numbers = _numbers(state_dir, app)
    if numbers:
        newest = numbers[-1][1]
        if read(state_dir, app, newest) == dict(values):
            return newest
    folder = versions_dir(state_dir, app)
    ensure_private_dir(folder.parent)
    ensure_private_dir(folder)
    text = "".join(secrets.encode(k, v) for k, v in values.items())
    number = numbers[-1][0] if numbers else 0
    while True:  # written whole, then linked: a version another deploy took stays its own
        number += 1
        version = f"s{number}-{token_hex(3)}"
        scratch = folder / f".{version}.{os.getpid()}.partial"
        atomic_write(scratch, text, mode=0o600)
        try:
            os.link(scratch, version_file(state_dir, app, version))
        except FileExistsError:
            continue
        finally:
            scratch.unlink(missing_ok=True)
        return version


def keep_of(state_dir: Path, app: str, names: list[str], env: Mapping[str, str]) -> str | None:
    """The version of the secrets ``names`` as ``env`` (a deploy's environment) holds them
    (a preview's may lack some: those are not part of it)."""
    return keep(state_dir, app, {name: env[name] for name in names if name in env})


def changed_names(
    state_dir: Path, app: str, before: str | None, after: str | None
) -> list[str] | None:
    """The secret names whose value differs between two versions (added, removed or
    rotated); None when either version is not on this machine."""
    if before == after:
        return []
    old = read(state_dir, app, before) if before else {}
    new = read(state_dir, app, after) if after else {}
    if old is None or new is None:
        return None
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
