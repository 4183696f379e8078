"""`pilot-tui status`: the proxy and each app on the Docker host, each app elsewhere and each
database, with its live release, health and URL; exit 1 when a deployed app (or a
database) is unhealthy."""

from __future__ import annotations

import argparse

from pilot_tui.cli.common import load_valid, print_json
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK


def status(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.status import statuses
    from pilot_tui.deploy.targets import on_docker_host
    from pilot_tui.deploy.targets.base import AppStatus

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    served = on_docker_host(loaded[1].apps)
    databases = loaded[1].databases
    with deployer(ns, share=False, apps=None if databases else served, loaded=loaded) as engine:
        proxy, apps = statuses(engine)
        listed = (
            []
            if engine.target is None
            else [
                AppStatus(
                    "(proxy)",
                    "-",
                    proxy,
                    f"{engine.target.address} · port {engine.config.server.http_port}",
                )
            ]
        )
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
            for a in listed:
                print(f"{a.app:16} {a.release:8} {a.health:24} {a.where()}")
                for note in a.notes:
                    print(f"{'':16} {note}")
        return EXIT_OK if all(a.ok for a in apps) else EXIT_FAILED
