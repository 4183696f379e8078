"""`pilot-tui waypoint export` and `deploy` with server.engine = "waypoint"."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pilot_tui.cli.config_cmds import error, load_valid, say
from pilot_tui.cli.main import EXIT_FAILED, EXIT_INVALID, EXIT_OK


def waypoint_export(ns: argparse.Namespace) -> int:
    """Write waypoint.hcl (or print it with --stdout); hand-made files are not overwritten."""
    from pilot_tui.fsutil import atomic_write
    from pilot_tui.waypoint import HEADER, WaypointError, waypoint_hcl

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    if ns.app is not None and config.app(ns.app) is None:
        error(f"no app {ns.app!r} in {pf.display}")
        return EXIT_INVALID
    try:
        text = waypoint_hcl(config, ns.app)
    except WaypointError as exc:
        error(str(exc))
        return EXIT_INVALID
    if ns.stdout:
        sys.stdout.write(text)
        return EXIT_OK
    target = pf.path.parent / "waypoint.hcl"
    if target.exists() and not target.read_text(encoding="utf-8").startswith(HEADER) \
            and not ns.force:
        error(f"{target} was not written by Pilot; not overwritten (--force replaces it, "
              "--stdout prints instead)")
        return EXIT_INVALID
    atomic_write(target, text)
    say(f"wrote {target}")
    return EXIT_OK


def waypoint_up(engine_config: Any, root: Any, names: list[str]) -> int:
    """`deploy` with server.engine = "waypoint": `waypoint up` per app, streamed."""
    import asyncio
    import shutil

    from pilot_tui import redact
    from pilot_tui.fsutil import atomic_write
    from pilot_tui.runner import Command, RunnerError, stream
    from pilot_tui.waypoint import HEADER, WaypointError, waypoint_hcl

    binary = shutil.which("waypoint")
    if binary is None:
        error('server.engine = "waypoint" needs the waypoint binary, which is not on PATH '
              "(https://developer.hashicorp.com/waypoint/install). `pilot-tui waypoint export` "
              'writes waypoint.hcl for it; or set server.engine = "pilot" to use Pilot\'s '
              "own engine.")
        return EXIT_FAILED
    hcl = root / "waypoint.hcl"
    if not hcl.exists() or hcl.read_text(encoding="utf-8").startswith(HEADER):
        try:
            atomic_write(hcl, waypoint_hcl(engine_config))
        except WaypointError as exc:
            error(str(exc))
            return EXIT_INVALID
    failed = 0
    for name in names:
        say(f"==> {name}: waypoint up")
        command = Command((binary, "up", f"-app={name}", "-plain"), cwd=root)
        try:
            code = asyncio.run(stream(command, lambda line: say(
                f"    {redact.text(line.text)}")))
        except RunnerError as exc:
            error(str(exc))
            return EXIT_FAILED
        if code != 0:
            error(f"{name}: waypoint up exited with code {code}")
            failed += 1
        else:
            print(f"{name}\twaypoint")
    return EXIT_FAILED if failed else EXIT_OK
