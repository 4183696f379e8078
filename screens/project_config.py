"""pilot.toml's configuration as this run of the app uses it.

`pilot-tui --sandbox` runs everything against the local sandbox whatever `server.home` says,
leaving the file alone (PilotConfig.in_sandbox, as every CLI command does). Screens that
act on the project read the configuration here, so none forgets the flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

if TYPE_CHECKING:  # the home screen imports this before its first frame: kept light
    from pilot_tui.config.schema import PilotConfig


def sandbox_forced(app: App[object]) -> bool:
    """Whether the app was opened with --sandbox."""
    from pilot_tui.screens.app import PilotApp

    return isinstance(app, PilotApp) and app.sandbox


def as_run(app: App[object], config: PilotConfig) -> PilotConfig:
    """``config`` with --sandbox applied when the app was opened with it."""
    return config.in_sandbox() if sandbox_forced(app) else config


def effective_config(app: App[object], path: Path) -> PilotConfig | None:
    """The valid configuration in ``path`` as this run uses it; None when it is invalid."""
    from pilot_tui.config.document import ProjectFile

    config = ProjectFile.load(path).check().config
    return None if config is None else as_run(app, config)
