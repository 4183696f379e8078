"""`pilot-tui logs`: an app's container logs streamed from the Docker host, or, for an app
that does not run there, its cloud's own logs (CloudWatch, Cloud Logging) polled through its
target (deploy.app_logs); and the note both print when --tail cut older lines off."""

from __future__ import annotations

import argparse
import time

from pilot_tui.cli.common import error, load_app, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.project import Project

POLL_SECONDS = 2.0


def print_logs(
    project: Project, config: PilotConfig, app: AppSettings, *, tail: int, follow: bool
) -> int:
    """The app's recent log lines from its cloud; with ``follow``, new ones until Ctrl+C."""
    from pilot_tui.deploy.app_logs import Follower

    with framed(f"{app.name}: "):
        logs = Follower(config, project.state_dir, project.root, app, limit=tail)
        first = True
        while True:
            lines = logs.poll()
            for line in lines:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(line.timestamp))
                print(f"{stamp} {line.text}", flush=True)  # redacted by the follower
            if first and not lines:
                say(f"{app.name}: no log lines yet on {app.target.kind}")
            if first and len(lines) >= tail > 0:
                say(tail_note(tail))
            first = False
            if not follow:
                return EXIT_OK
            time.sleep(POLL_SECONDS)


def tail_note(tail: int) -> str:
    """Said when `logs` printed as many lines as --tail allows: there may be older ones."""
    return f"(the last {tail} line(s) shown; older ones with --tail N)"


def logs(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.targets import target_for
    from pilot_tui.deploy.targets.docker_host.target import stream_container

    found = load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    if not target_for(app).on_docker_host:  # the cloud's logs: no Docker host needed
        return print_logs(Project(pf.path), config, app, tail=ns.tail, follow=ns.follow)
    with deployer(ns, share=False, apps=[ns.app], loaded=(pf, config)) as engine:
        lines = stream_container(
            engine.docker_client, engine.project, ns.app, tail=ns.tail, follow=ns.follow
        )
        if lines is None:
            error(f"{ns.app} is not running; deploy it first (pilot-tui deploy {ns.app})")
            return EXIT_FAILED
        printed = 0
        for line in lines:
            print(line, flush=True)
            printed += 1
        if printed >= ns.tail > 0:
            say(tail_note(ns.tail))
        return EXIT_OK
