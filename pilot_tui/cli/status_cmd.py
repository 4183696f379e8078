"""`pilot-tui status`: the proxy and each app on the Docker host, and each app elsewhere,
with its live release, health and URL; exit 1 when a deployed app is unhealthy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pilot_tui.cli.common import load_valid, print_json
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.targets.base import AppStatus


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
        apps += _databases(engine) if databases else []
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
            for a in listed:
                print(f"{a.app:16} {a.release:8} {a.health:24} {a.where()}")
                for note in a.notes:
                    print(f"{'':16} {note}")
        return EXIT_OK if all(a.ok for a in apps) else EXIT_FAILED


def _databases(engine: Deployer) -> list[AppStatus]:
    """Each database, listed like an app: "(db NAME)", its kind and version, its health."""
    from pilot_tui.data import docker_db
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.deploy.targets.base import AppStatus

    found: list[AppStatus] = []
    for settings in engine.config.databases:
        kind = kind_for(engine.config.project.name, settings)
        apps = ", ".join(settings.apps) or "no app"
        found.append(
            AppStatus(
                f"(db {settings.name})",
                f"{settings.kind} {settings.version}",
                docker_db.health(engine.docker_client, kind),
                "-",
                notes=(f"{kind.container} · {settings.url_env} for {apps}",),
            )
        )
    return found
