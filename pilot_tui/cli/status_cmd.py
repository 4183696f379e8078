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
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.targets.base import AppStatus


def status(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.host import HostError

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    try:
        return _status(ns, loaded, None)
    except HostError as exc:
        # The apps elsewhere can still be asked: those on the host are said to be unknown.
        say(f"warning: {exc}")
        return _status(ns, loaded, "the Docker host could not be opened: see above")


def _status(
    ns: argparse.Namespace, loaded: tuple[ProjectFile, PilotConfig], unreachable: str | None
) -> int:
    """Print the rows; ``unreachable``: why the Docker host was not opened (its deployed
    apps and its databases are then unknown; its apps could not be asked: exit 1)."""
    from pilot_tui.deploy.status import statuses
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
            proxy, apps = f"unknown ({unreachable})", _without_the_host(engine, unreachable)
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
            for a in listed:
                print(f"{a.app:16} {a.release:8} {a.health:24} {a.where()}")
                for note in a.notes:
                    print(f"{'':16} {note}")
        asked_all = unreachable is None or not (served or databases)
        return EXIT_OK if asked_all and all(a.ok for a in apps) else EXIT_FAILED


def _without_the_host(engine: Deployer, unreachable: str) -> list[AppStatus]:
    """The rows when the Docker host could not be opened: its deployed apps and databases
    unknown (its never-deployed apps are not deployed, wherever), the rest asked as ever."""
    from pilot_tui.deploy import history
    from pilot_tui.deploy.status import database_statuses
    from pilot_tui.deploy.targets import target_for
    from pilot_tui.deploy.targets.base import AppStatus

    rows = []
    for app in engine.config.apps:
        kind = target_for(app)
        if not kind.on_docker_host:
            rows.append(kind.status(engine))
            continue
        live = history.live_release(engine.state_dir, app.name)
        said = f"unknown ({unreachable})" if live else "not deployed"
        rows.append(AppStatus(app.name, live.id if live else "-", said, "-"))
    return rows + database_statuses(engine, unreachable)
