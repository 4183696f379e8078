"""How a person runs Pilot here, for the hints it prints ("next: pilot-tui deploy web").

`bash .ci/pilot` installs into a virtualenv that is not on PATH, so a hint saying
`pilot-tui` would fail as typed: the hints name the command that works instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

LAUNCHER_ENV = "PILOT_LAUNCHER"  # set by .ci/pilot: `bash /path/to/.ci/pilot`


def pilot_command(env: Mapping[str, str] | None = None, argv0: str | None = None) -> str:
    """`pilot-tui` when that is what PATH runs; else the launcher that started this process
    (`bash …/.ci/pilot`); else the running entry point's own path; else `python -m`."""
    env = os.environ if env is None else env
    argv0 = sys.argv[0] if argv0 is None else argv0
    running = Path(argv0).absolute() if Path(argv0).name == "pilot-tui" else None
    on_path = shutil.which("pilot-tui", path=env.get("PATH", os.defpath))
    if on_path and (running is None or _same_file(Path(on_path), running)):
        return "pilot-tui"
    if env.get(LAUNCHER_ENV):
        return env[LAUNCHER_ENV]
    if running is not None and running.is_file():
        return shlex.quote(str(running))
    return f"{shlex.quote(sys.executable)} -m pilot_tui"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
