"""The walk of a deploy's app name through the code (issue 12): run `pilot-tui deploy fn` (a zip
Lambda in the sandbox, moto) in this process under a profiler, and count every Pilot function
that is handed the app, as its name or as its settings, in an argument:

- rooms: the modules those functions live in;
- hand-offs: the functions themselves (each a place the name is passed on, checked or
  looked up again).

Prints figures and, with --list, the rooms and hand-offs in the order first entered; asserts
nothing.

    .venv/bin/python tests/bench/app_name_walk.py [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
FUNCTION = HERE.parent / "fixtures" / "lambda" / "hello_fn"
APP = "fn"
CODE_ROOTS = ("pilot_tui", "screens")


def carries_app(value: object) -> bool:
    # Only plain reads: a profiler must not call into half-built objects.
    if isinstance(value, str):
        return value == APP
    if type(value).__name__ == "AppSettings":
        return vars(value).get("name") == APP
    return False


def walk(argv: list[str]) -> tuple[int, list[str], list[str]]:
    """Run the CLI with ``argv``; its exit code, the rooms and the hand-offs."""
    from pilot_tui.cli.main import main

    rooms: dict[str, None] = {}
    handoffs: dict[str, None] = {}

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(CODE_ROOTS) or module.endswith("__main__"):
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(carries_app(frame.f_locals.get(name)) for name in names):
            rooms.setdefault(module, None)
            handoffs.setdefault(f"{module}.{code.co_qualname}", None)

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return code, list(rooms), list(handoffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the rooms and hand-offs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pilot-bench-walk-"))
    here = Path.cwd()
    try:
        os.chdir(root)
        from pilot_tui.cli.main import main as cli

        with contextlib.suppress(SystemExit):
            cli(["init", "--name", "walk"])
        shutil.copytree(FUNCTION, root / APP)
        with (root / "pilot.toml").open("a") as toml:
            toml.write(
                f'\n[[apps]]\nname = "{APP}"\npath = "{APP}"\n[apps.target]\nkind = "lambda"\n'
                'package = "zip"\nmemory = 128\n'
            )
        try:
            from pilot_tui.cloud.sandbox import Sandbox
        except ImportError:  # before issue 12
            from pilot_tui.sandbox import Sandbox  # type: ignore[no-redef]

        Sandbox(root / ".pilot").ensure()  # the emulators' start-up is not the walk
        code, rooms, handoffs = walk(["deploy", APP])
        print(f"pilot-tui deploy {APP} (zip Lambda, sandbox): exit {code}")
        print(f"rooms (modules handed the app)      {len(rooms)}")
        print(f"hand-offs (functions handed it)     {len(handoffs)}")
        if args.list:
            print("\nrooms:\n  " + "\n  ".join(rooms))
            print("\nhand-offs:\n  " + "\n  ".join(handoffs))
    finally:
        try:
            from pilot_tui.cli.main import main as cli

            cli(["sandbox", "stop"])
        except SystemExit:
            pass
        os.chdir(here)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
