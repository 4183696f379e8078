"""`pilot-tui status`: the proxy and each app on the Docker host, each app elsewhere and each
database, with its live release, health and URL; exit 1 when a deployed app (or a
database) is unhealthy, or cannot be asked (a Docker host that does not answer: the apps
elsewhere are still shown)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pilot_tui.cli.common import load_valid, print_json, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from pilot_tui.deploy.targets.base import AppStatus


def status(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.status import look
    from pilot_tui.deploy.targets import on_docker_host
    from pilot_tui.deploy.targets.base import AppStatus

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    config = loaded[1]
    served = on_docker_host(config.apps)
    looked = look(
        lambda apps: deployer(ns, share=False, apps=apps, loaded=loaded),
        None if config.databases else served,
    )
    if looked.refused is not None:  # the apps elsewhere were asked: those on it are unknown
        say(f"warning: {looked.refused}")
    listed = []
    if looked.host is not None or (looked.refused and served):
        where = "-" if looked.host is None else f"{looked.host} · port {config.server.http_port}"
        listed.append(AppStatus("(proxy)", "-", looked.proxy, where, kind="proxy", name="proxy"))
    listed += looked.rows
    if ns.json:
        print_json([_as_json(a, looked.host, config.server.http_port) for a in listed])
    else:
        if not listed:  # said, not an empty screen
            print(
                f"nothing to show: no app or database in {loaded[0].display} yet "
                "(`pilot-tui app new` adds an app)"
            )
        # Columns as wide as what they hold ("postgres 16" overflowed a release of 8).
        name = max([16, *(len(a.app) for a in listed)])
        release = max([8, *(len(a.release) for a in listed)])
        health = max([24, *(len(a.health) for a in listed)])
        if listed:  # headed as `app list` is (found walking: columns with no names)
            print(f"{'APP':{name}} {'RELEASE':{release}} {'HEALTH':{health}} ADDRESS")
        for a in listed:
            print(f"{a.app:{name}} {a.release:{release}} {a.health:{health}} {a.where()}")
            for note in a.notes:
                print(f"{'':{name}} {note}")
    # A host that could not be opened, whose apps or databases went unasked: exit 1.
    asked_all = looked.refused is None or not (served or config.databases)
    return EXIT_OK if asked_all and all(a.ok for a in looked.rows) else EXIT_FAILED


def _as_json(row: AppStatus, host: str | None, port: int) -> dict[str, object]:
    """One row of `status --json`. url: what answers (here, in the sandbox); simulated_url:
    what the sandbox's cloud made up in its place, where nothing answers; none: null, as
    releases --json and preview list --json say it (the table's "-" is for people)."""
    return {
        "app": row.app,  # the table's name ("(db main)"); kind and name say it plainly
        "kind": row.kind,
        "name": row.name or row.app,
        "release": None if row.release == "-" else row.release,
        "health": row.health,
        "url": None if row.url == "-" or row.kind == "proxy" else row.url,
        "simulated_url": row.simulated or None,
        **({"edge": row.facts} if row.facts else {}),
        **({"notes": list(row.notes)} if row.notes else {}),
        # (found walking: the proxy's "url" was the table's "HOST · port N")
        **({"docker_host": host, "port": port} if row.kind == "proxy" else {}),
    }
