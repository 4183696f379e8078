"""`pilot-tui secrets set|list`: an app's secret values in .pilot/secrets/APP.env (0600);
pilot.toml only names them."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from pilot_tui.cli.common import error, load_app, print_json, say
from pilot_tui.deploy import secrets
from pilot_tui.deploy.targets import on_docker_host
from pilot_tui.errors import EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project


def secrets_set(ns: argparse.Namespace) -> int:
    found = load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    if sys.stdin.isatty():
        value = getpass.getpass(f"{ns.name} for {ns.app} (not echoed): ")
    else:  # bytes as given (no newline translation); only the final newline is dropped
        try:
            value = sys.stdin.buffer.read().decode("utf-8").removesuffix("\n")
        except UnicodeDecodeError as exc:
            error(f"the value on stdin is not UTF-8 text (byte {exc.start}): nothing stored")
            return EXIT_INVALID
    if not value:
        error("empty value: nothing stored")
        return EXIT_INVALID
    state_dir = Project(pf.path).state_dir
    path = secrets.store(state_dir, ns.app, ns.name, value, preview=ns.preview)
    whose = f"the previews of {ns.app}" if ns.preview else ns.app
    say(f"stored {ns.name} for {whose} in {path} (0600)")
    if ns.name not in app.secrets:
        say(
            f"note: apps.{ns.app}.secrets does not list {ns.name}; add it so deploys pass "
            f"it: pilot-tui config set apps.{ns.app}.secrets "
            f"'{json.dumps([*app.secrets, ns.name])}'"
        )
    if config.server.ci_worker and on_docker_host([app]):
        say(
            "note: the CI worker on the Pilot Server keeps the value it was given until your "
            f"next deploy from here (pilot-tui deploy {ns.app}); CI runs release "
            + ("their previews" if ns.preview else "it")
            + " with that one"
        )
    return EXIT_OK


def secrets_list(ns: argparse.Namespace) -> int:
    found = load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, _, app = found
    state_dir = Project(pf.path).state_dir
    stored = secrets.read_file(secrets.secrets_file(state_dir, ns.app, preview=ns.preview))
    names = sorted(set(app.secrets) | set(stored))
    if ns.json:  # (found walking: the one listing without --json); names, never values
        print_json(
            [
                {
                    "name": name,
                    "from": _source(name, stored, ns.preview),
                    "passed": name in app.secrets,
                }
                for name in names
            ]
        )
        return EXIT_OK
    if not names:  # (found walking: it printed nothing at all)
        say(
            f"{ns.app} has no secrets: list their names in apps.{ns.app}.secrets, then "
            f"`pilot-tui secrets set {ns.app} NAME` stores each value"
        )
        return EXIT_OK
    width = max(len(name) for name in names) + 2  # (a name, then where its value comes from)
    for name in names:
        where = _source(name, stored, ns.preview)
        where = where or f"nowhere yet: pilot-tui secrets set {ns.app} {name}"
        listed = "" if name in app.secrets else "  (not in apps.secrets: not passed)"
        print(f"{name:{width}}{where}{listed}")
    return EXIT_OK


def _source(name: str, stored: dict[str, str], preview: bool) -> str | None:
    """Where a secret's value comes from: "environment", ".pilot/secrets", or None (not
    set). The previews' values come from their file only, never the environment."""
    if name in os.environ and not preview:
        return "environment"
    return ".pilot/secrets" if name in stored else None
