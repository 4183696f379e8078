"""`pilot-tui logs`: an app's log lines as its target streams them (its container's, from
the Docker host, or its cloud's own logs, CloudWatch or Cloud Logging, polled), or with
--access its requests as the edge logged them; the Docker host is opened only for an app
that runs on it."""

from __future__ import annotations

import argparse

from pilot_tui.cli.common import error, load_app, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.deploy import previews
from pilot_tui.errors import EXIT_INVALID, EXIT_OK


def logs(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.targets import on_docker_host, target_for

    if ns.tail < 0:  # (found walking: -3 was taken)
        error(f"--tail {ns.tail}: the lines to start with must be 0 or more")
        return EXIT_INVALID
    found = load_app(ns, previews=True)  # a preview's logs are its own
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    on_host = on_docker_host([app])  # else no Docker host is opened
    preview = previews.split(app.name) if config.app(app.name) is None else None
    with deployer(ns, share=False, apps=on_host, loaded=(pf, config)) as engine:
        if preview is not None:  # one never made has no logs: said, not "none yet"
            try:
                engine.find_preview(*preview)
            except previews.NoSuchPreview as exc:
                error(str(exc))
                return exc.exit_code
        target = target_for(app)
        read = target.requests if ns.access else target.stream
        for line in read(engine, say, tail=ns.tail, follow=ns.follow):
            print(line, flush=True)
    return EXIT_OK
