"""`pilot-tui`: the headless CLI, and the door to the Textual app.

With no subcommand it opens the app; every subcommand works without it, for scripts and CI.
Exit codes: 0 success, 1 an operation failed, 2 bad input (invalid pilot.toml, unknown key,
usage), 130 interrupted. A command that must ask first (server up/destroy, app destroy,
deploy --break-lock) with no terminal to ask and no --yes is a usage error: 2, nothing done.
Answering no is not a failure: 0, "nothing was changed". Ctrl+C at a question is 130, and
Ctrl+D (the input ended unanswered) is 2.

A command raises what it cannot do as a PilotError (pilot_tui/errors.py): `main` catches it
here, once, prints its message and hint and exits with its exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pilot_tui import __version__
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, PilotError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "main", "run_app"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):  # the hot path: answer before importing anything
        sys.stdout.write(f"pilot-tui {__version__}\n")
        return EXIT_OK
    if not args:  # the app, as most people start it: no parser to import and build
        try:
            return run_app(None)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    from pilot_tui.cli.parser import build_parser

    parser = build_parser()
    ns = parser.parse_args(args)
    try:
        if ns.command is None:
            return run_app(ns.project, sandbox=ns.sandbox)
        from pilot_tui.redact import masked_output

        with masked_output():  # no secret value of the project is ever printed
            try:
                return int(ns.handler(ns))
            except PilotError as exc:  # every command's errors end here
                from pilot_tui.cli.common import error

                error(str(exc))  # its message and hint
                return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\npilot-tui: interrupted; nothing was left half-written\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pilot-tui config show | head`
        return EXIT_OK


def run_app(project: str | None, *, sandbox: bool = False) -> int:
    """Open the Textual app (the only place the core reaches into the UI)."""
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        sys.stderr.write(
            "pilot-tui: error: the app needs an interactive terminal; for scripts use the "
            "subcommands (see `pilot-tui --help`)\n"
        )
        return EXIT_INVALID
    from pilot_tui.screens.app import create_app

    app = create_app(project, sandbox=sandbox)
    app.run()
    return app.return_code or EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
