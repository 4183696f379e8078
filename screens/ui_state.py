"""What the app remembers between runs: the screen a project was left on (.pilot/tui.json)
and the person's theme (the user config dir, shared by all projects).

Both are conveniences: unreadable or missing files mean "start fresh", never an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pilot_tui.fsutil import atomic_write, ensure_private_dir

# Screens the welcome screen can reopen; "home" is the welcome screen itself.
RESUMABLE = ("credentials", "server", "server_settings", "apps", "data", "logs", "settings")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, **values: str) -> None:
    data = _read(path) | values
    try:
        ensure_private_dir(path.parent)
        atomic_write(path, json.dumps(data, indent=2) + "\n")
    except OSError:
        pass  # a read-only project still works; it just will not resume


def last_screen(state_dir: Path) -> str:
    screen = _read(state_dir / "tui.json").get("screen", "home")
    return screen if screen in RESUMABLE else "home"


def remember_screen(state_dir: Path, screen: str) -> None:
    if screen != last_screen(state_dir):
        _write(state_dir / "tui.json", screen=screen)


def settings_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("pilot-tui")) / "tui.json"


def saved_theme() -> str | None:
    theme = _read(settings_file()).get("theme")
    return theme if isinstance(theme, str) else None


def save_theme(theme: str) -> None:
    if theme != saved_theme():
        _write(settings_file(), theme=theme)
