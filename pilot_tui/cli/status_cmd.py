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
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.config.schema import PilotConfig


def status(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.host import HostError
    from pilot_tui.deploy.status import HOST_NOT_OPENED

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    try:
        return _status(ns, loaded, None)
    except HostError as exc:
        # The apps elsewhere can still be asked: those on the host are said to be unknown.
        say(f"warning: {exc}")
        return _status(ns, loaded, HOST_NOT_OPENED)


def _status(
    ns: argparse.Namespace, loaded: tuple[ProjectFile, PilotConfig], unreachable: str | None
) -> int:
    """Print the rows; ``unreachable``: why the Docker host was not opened (its deployed
    apps and its databases are then unknown; its apps could not be asked: exit 1)."""
    from pilot_tui.deploy.status import statuses, statuses_without_host
    from pilot_tui.deploy.targets import on_docker_host
    from pilot_tui.deploy.targets.base import AppStatus

    config = loaded[1]
    served = on_docker_host(config.apps)
    databases = config.databases
    opened: list[str] | None = None if databases else served
    with deployer(ns, share=False, apps=[] if unreachable else opened, loaded=loaded) as engine:
        if unreachable is None:
            proxy, apps = statuses(engine)
        else:
            proxy, apps = f"unknown ({unreachable})", statuses_without_host(engine, unreachable)
        listed = []
        if engine.target is not None or (unreachable and served):
            where = (
                "-"
                if engine.target is None
                else f"{engine.target.address} · port {config.server.http_port}"
            )
            listed.append(AppStatus("(proxy)", "-", proxy, where))
        listed += apps
        if ns.json:  # url: what answers (here, in the sandbox); simulated_url: what the
            # sandbox's cloud made up in its place, where nothing answers
            print_json(
                [
                    {
                        "app": a.app,
                        "release": a.release,
                        "health": a.health,
                        "url": a.url,
                        "simulated_url": a.simulated or None,
                        **({"edge": a.facts} if a.facts else {}),
                    }
                    for a in listed
                ]
            )
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
            for a in listed:
                print(f"{a.app:{name}} {a.release:{release}} {a.health:{health}} {a.where()}")
                for note in a.notes:
                    print(f"{'':{name}} {note}")
        asked_all = unreachable is None or not (served or databases)
        return EXIT_OK if asked_all and all(a.ok for a in apps) else EXIT_FAILED
