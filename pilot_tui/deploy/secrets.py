"""Secret values for an app, read at deploy time and never written anywhere but .pilot/.

pilot.toml lists only the names (`secrets = ["DATABASE_URL"]`). Each value comes from the
environment of the deploying process, else from .pilot/secrets/APP.env (NAME=value lines,
mode 0600). The redactor masks every stored value (redact.load_project) and every value read
here, wherever it would be printed or logged.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from pilot_tui import redact
from pilot_tui.fsutil import atomic_write, ensure_private_dir

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretsError(Exception):
    """A secret is missing, or its file is unsafe; the message says which and how to fix it."""


def secrets_file(state_dir: Path, app: str) -> Path:
    return state_dir / "secrets" / f"{app}.env"


def _parse(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not NAME.match(name.strip()):
            raise SecretsError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value
    return values


def stored_values(state_dir: Path) -> list[str]:
    """Every value stored for any app, for the redactor: read even from a file whose mode
    `read_file` refuses (masking it is the point), skipping what cannot be read."""
    found: list[str] = []
    for path in sorted((state_dir / "secrets").glob("*.env")):
        try:
            found += _parse(path).values()
        except (OSError, UnicodeDecodeError, SecretsError):
            continue
    return found


def read_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsError(f"{path} can be read by other users (mode {mode:o}): "
                           f"chmod 600 {path}")
    return _parse(path)


def resolve(state_dir: Path, app: str, names: Iterable[str],
            env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The value of each secret ``names``; all missing ones are named in one error."""
    env = os.environ if env is None else env
    names = list(names)
    if not names:
        return {}
    path = secrets_file(state_dir, app)
    stored = read_file(path)
    values: dict[str, str] = {}
    missing = []
    for name in names:
        if name in env:
            values[name] = env[name]
        elif name in stored:
            values[name] = stored[name]
        else:
            missing.append(name)
    if missing:
        listed = ", ".join(missing)
        raise SecretsError(f"app {app!r} needs secret(s) {listed}: export them, or store them "
                           f"with `pilot-tui secrets set {app} NAME` (kept in {path}, 0600)")
    redact.register(values.values())
    return values


def store(state_dir: Path, app: str, name: str, value: str) -> Path:
    """Save one secret into .pilot/secrets/APP.env (0600), keeping the others."""
    if not NAME.match(name):
        raise SecretsError(f"{name!r} is not an environment variable name")
    if "\n" in value:
        raise SecretsError("a secret value cannot span lines")
    path = secrets_file(state_dir, app)
    ensure_private_dir(path.parent)
    values = read_file(path)
    values[name] = value
    atomic_write(path, "".join(f"{k}={v}\n" for k, v in values.items()), mode=0o600)
    return path


def remove(state_dir: Path, app: str, name: str) -> bool:
    path = secrets_file(state_dir, app)
    values = read_file(path)
    if values.pop(name, None) is None:
        return False
    atomic_write(path, "".join(f"{k}={v}\n" for k, v in values.items()), mode=0o600)
    return True
