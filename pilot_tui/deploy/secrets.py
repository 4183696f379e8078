"""Secret values for an app, read at deploy time and never written anywhere but .pilot/.

pilot.toml lists only the names (`secrets = ["DATABASE_URL"]`). Each value comes from the
environment of the deploying process, else from .pilot/secrets/APP.env (mode 0600): one
`NAME=value` line each, the value as is when it is plain printable text, else as a JSON
string (`NAME="a\\u000bb"`), so any text an environment variable can hold round-trips (tabs,
vertical tabs, U+2028, newlines, quotes). Lines are split at newlines only. The redactor
masks every stored value (register_project) and every value read here, wherever it would
be printed or logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.data import passwords
from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.wording import plural

if TYPE_CHECKING:
    from pilot_tui.config.schema import PilotConfig

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretsError(PilotError):
    """A secret is missing, or its file is unsafe; the message says which and how to fix it."""

    title = "Secret missing or unsafe"


def secrets_file(state_dir: Path, app: str, *, preview: bool = False) -> Path:
    """The app's values, or (``preview``) the values its previews get instead."""
    return state_dir / "secrets" / ("previews" if preview else "") / f"{app}.env"


def encode(name: str, value: str) -> str:
    """One line of the file. Plain values stay readable; anything else (control or
    line-breaking characters, surrounding spaces, a leading quote) is a JSON string, with
    every non-ASCII character escaped so no reader can split the line."""
    plain = value.isprintable() and value == value.strip() and not value.startswith('"')
    return f"{name}={value if plain else json.dumps(value)}\n"


def _entries(path: Path) -> Iterator[tuple[int, str, str] | int]:
    """(line number, name, value) per entry, or the number of a line that is not one."""
    text = path.read_bytes().decode("utf-8")  # no newline translation: "\r" may be a value's
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")  # a file edited on Windows
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not NAME.match(name.strip()):
            yield number
            continue
        if value.startswith('"'):  # a JSON string; before this format, a raw value
            with contextlib.suppress(ValueError):  # that began with a quote: kept as is
                decoded = json.loads(value)
                value = decoded if isinstance(decoded, str) else value
        yield number, name.strip(), value


def _parse(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in _entries(path):
        if isinstance(entry, int):
            raise SecretsError(f"{path}:{entry}: expected NAME=value")
        values[entry[1]] = entry[2]
    return values


def stored_values(state_dir: Path) -> list[str]:
    """Every value stored for any app, for the redactor: read even from a file whose mode
    `read_file` refuses, or with a broken line (masking them is the point). The versions
    releases ran with (secret_versions.py) too."""
    found: list[str] = []
    folder = state_dir / "secrets"
    kept = ["*.env", "previews/*.env", "versions/*/*.env"]
    for path in sorted(path for pattern in kept for path in folder.glob(pattern)):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found += [entry[2] for entry in _entries(path) if not isinstance(entry, int)]
    return found


def register_project(
    state_dir: Path, config: PilotConfig, env: Mapping[str, str] | None = None
) -> None:
    """Register with redact every secret value this project holds: each stored in
    .pilot/secrets/ (all apps', listed or not), the environment's value of each secret name
    pilot.toml declares, the private halves of Pilot's own keys in .pilot/keys/ and the
    databases' passwords in .pilot/databases/."""
    env = os.environ if env is None else env
    names = {name for app in config.apps for name in app.secrets}
    redact.register(stored_values(state_dir))
    redact.register(env[name] for name in names if name in env)
    redact.register(redact.key_values(state_dir / "keys"))
    redact.register(passwords.stored_values(state_dir))  # the databases'


def read_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsError(f"{path} can be read by other users (mode {mode:o}): chmod 600 {path}")
    return _parse(path)


def resolve(
    state_dir: Path, app: str, names: Iterable[str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The value of each secret ``names``; all missing ones are named in one error."""
    from pilot_tui.cloud.oidc_exchange import in_github_actions

    env = os.environ if env is None else env
    names = list(names)
    if not names:
        return {}
    # In GitHub Actions `${{ secrets.X }}` of an unset secret is "": missing, not a value.
    in_ci = in_github_actions(env)
    path = secrets_file(state_dir, app)
    stored = read_file(path)
    values: dict[str, str] = {}
    missing = []
    for name in names:
        if name in env and not (in_ci and env[name] == ""):
            values[name] = env[name]
        elif name in stored:
            values[name] = stored[name]
        else:
            missing.append(name)
    if missing:
        listed = ", ".join(missing)
        if in_ci:
            raise SecretsError(
                f"app {app!r} needs {plural(len(missing), 'secret')} {listed}: empty or unset "
                "in this run",
                hint="set the repository secret of the same name (gh secret set NAME); the "
                "workflow `pilot-tui ci github` writes passes each one",
            )
        them = "it" if len(missing) == 1 else "them"
        raise SecretsError(
            f"app {app!r} needs {plural(len(missing), 'secret')} {listed}: export {them}, or "
            f"store {them} with `pilot-tui secrets set {app} NAME` (kept in {path}, 0600)"
        )
    redact.register(values.values())
    return values


def store(state_dir: Path, app: str, name: str, value: str, *, preview: bool = False) -> Path:
    """Save one secret into .pilot/secrets/APP.env (0600), keeping the others (``preview``:
    into the previews' file, secrets/previews/APP.env)."""
    if not NAME.match(name):
        raise SecretsError(f"{name!r} is not an environment variable name", exit_code=EXIT_INVALID)
    if "\0" in value:
        raise SecretsError(
            f"the value of {name} contains a NUL character, which no "
            "environment variable can hold: nothing stored",
            exit_code=EXIT_INVALID,
        )
    path = secrets_file(state_dir, app, preview=preview)
    ensure_private_dir(path.parent)
    values = read_file(path)
    values[name] = value
    atomic_write(path, "".join(encode(k, v) for k, v in values.items()), mode=0o600)
    return path


def remove(state_dir: Path, app: str, name: str) -> bool:
    path = secrets_file(state_dir, app)
    values = read_file(path)
    if values.pop(name, None) is None:
        return False
    atomic_write(path, "".join(encode(k, v) for k, v in values.items()), mode=0o600)
    return True
