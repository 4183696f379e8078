"""`pilot-tui sandbox status|stop`: the local emulators of this project."""

from __future__ import annotations

import argparse

from pilot_tui.cli.common import print_json
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.errors import EXIT_OK
from pilot_tui.project import find_project


def _sandbox(ns: argparse.Namespace) -> Sandbox:
    return Sandbox(find_project(getattr(ns, "project", None)).state_dir)


def status(ns: argparse.Namespace) -> int:
    sandbox = _sandbox(ns)
    running = sandbox.running()
    if ns.json:
        print_json({n: {"pid": e.pid, "port": e.port, "url": e.url} for n, e in running.items()})
    elif not running:
        print(
            "the sandbox emulators are not running (a command that needs them, a deploy or "
            "`pilot-tui server up`, starts them)"
        )
    for name, emulator in running.items() if not ns.json else ():
        print(f"{name:4} {emulator.url}  pid {emulator.pid}")
    return EXIT_OK


def stop(ns: argparse.Namespace) -> int:
    sandbox = _sandbox(ns)
    stopped = sandbox.stop()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    if stopped:
        print(
            "the sandbox's resources lived in memory and are gone: `pilot-tui server up` "
            "makes the server's again, and each app's next deploy makes its own (earlier "
            "releases of a site cannot be rolled back to)"
        )
    return EXIT_OK
