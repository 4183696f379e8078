"""`logs`, `status` and `app destroy` for apps on managed targets (Lambda, ECS, Cloud Run):
the cloud's own logs (CloudWatch, Cloud Logging) and state, through deploy.managed."""

from __future__ import annotations

import time
from typing import Any

from pilot_tui.cli.config_cmds import confirm, error, not_confirmed, say
from pilot_tui.cli.main import EXIT_FAILED, EXIT_OK
from pilot_tui.deploy import history
from pilot_tui.deploy.targets.managed import TargetError
from pilot_tui.project import Project

POLL_SECONDS = 2.0


def print_logs(project: Project, config: Any, app: Any, *, tail: int, follow: bool) -> int:
    """The app's recent log lines from its cloud; with ``follow``, new ones until Ctrl+C."""
    from pilot_tui.deploy.app_logs import Follower

    try:
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
                from pilot_tui.cli.deploy_cmds import tail_note

                say(tail_note(tail))
            first = False
            if not follow:
                return EXIT_OK
            time.sleep(POLL_SECONDS)
    except TargetError as exc:
        error(f"{app.name}: {exc}")
        return EXIT_FAILED


def destroy(project: Project, config: Any, app: Any, yes: bool) -> int:
    from pilot_tui.deploy.app_teardown import destroy_app

    where = {
        "lambda": "function, its URL and logs",
        "ecs": "service, load balancer and logs",
        "cloud-run": "Cloud Run service",
    }[app.target.kind]
    answer = confirm(f"Delete {app.name}'s {where} on {app.target.kind}? (history is kept)", yes)
    if not answer:
        return not_confirmed(answer)
    from pilot_tui.deploy.targets.s3_site.bucket import SiteError

    try:
        destroy_app(config, project.state_dir, project.root, app, say)
    except (TargetError, SiteError) as exc:
        error(f"{app.name}: {exc}")
        return EXIT_FAILED
    history.retire(project.state_dir, app.name, "app destroyed")
    return EXIT_OK
