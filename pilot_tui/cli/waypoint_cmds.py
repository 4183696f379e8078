"""`pilot-tui waypoint export` and `deploy` with server.engine = "waypoint"."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.cli.common import error, load_valid, say
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from pilot_tui.waypoint import Export


def _hand_made(path: Path) -> bool:
    from pilot_tui.waypoint import HEADER

    return path.exists() and not path.read_text(encoding="utf-8").startswith(HEADER)


def write_export(root: Path, made: Export, *, force: bool = False) -> list[Path] | None:
    """waypoint.hcl and the files it names, beside pilot.toml, each written atomically; None
    (nothing written, the reason said) when one of them was not written by Pilot."""
    from pilot_tui.fsutil import atomic_write

    files = {root / "waypoint.hcl": made.text} | {root / n: t for n, t in made.files.items()}
    kept = [path for path in files if _hand_made(path)]
    if kept and not force:
        error(
            f"{', '.join(map(str, kept))} {'was' if len(kept) == 1 else 'were'} not "
            "written by Pilot; not overwritten (--force replaces it, --stdout prints "
            "waypoint.hcl instead)"
        )
        return None
    for path, text in files.items():
        atomic_write(path, text)
    return list(files)


def waypoint_export(ns: argparse.Namespace) -> int:
    """Write waypoint.hcl and the Dockerfiles it names (or print it with --stdout);
    hand-made files are not overwritten. What was left out is said, one note a line."""
    from pilot_tui.waypoint import export

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    if ns.app is not None and config.app(ns.app) is None:
        error(config.no_app(ns.app, pf.display))
        return EXIT_INVALID
    made = export(config, pf.path.parent, ns.app)  # a WaypointError goes to main: exit 2
    for note in made.notes:
        say(f"note: {note}")
    if ns.stdout:
        sys.stdout.write(made.text)
        return EXIT_OK
    written = write_export(pf.path.parent, made, force=ns.force)
    if written is None:
        return EXIT_INVALID
    say(f"wrote {', '.join(map(str, written))}")
    return EXIT_OK


def waypoint_up(engine_config: PilotConfig, root: Path, names: list[str]) -> int:
    """`deploy` with server.engine = "waypoint": `waypoint up` per app, streamed."""
    import asyncio
    import shutil

    from pilot_tui import redact
    from pilot_tui.runner import Command, stream
    from pilot_tui.waypoint import export

    binary = shutil.which("waypoint")
    if binary is None:
        error(
            'server.engine = "waypoint" needs the waypoint binary, which is not on PATH '
            "(https://developer.hashicorp.com/waypoint/install). `pilot-tui waypoint export` "
            'writes waypoint.hcl for it; or set server.engine = "pilot" to use Pilot\'s '
            "own engine."
        )
        return EXIT_FAILED
    if not _hand_made(root / "waypoint.hcl"):  # a hand-made one is the team's to keep
        made = export(engine_config, root)
        for note in made.notes:
            say(f"note: {note}")
        if write_export(root, made) is None:
            return EXIT_INVALID
    failed = 0
    for name in names:
        say(f"==> {name}: waypoint up")
        command = Command((binary, "up", f"-app={name}", "-plain"), cwd=root)
        code = asyncio.run(stream(command, lambda line: say(f"    {redact.text(line.text)}")))
        if code != 0:
            error(f"{name}: waypoint up exited with code {code}")
            failed += 1
        else:
            print(f"{name}\twaypoint")
    return EXIT_FAILED if failed else EXIT_OK
