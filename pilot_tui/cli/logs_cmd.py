"""`logs` of apps that do not run on the Docker host: their cloud's own logs (CloudWatch,
Cloud Logging), polled through their target (deploy.app_logs); and the note both kinds of
`logs` print when --tail cut older lines off."""

from __future__ import annotations

import time

from pilot_tui.cli.config_cmds import say
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.errors import EXIT_OK, framed
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
