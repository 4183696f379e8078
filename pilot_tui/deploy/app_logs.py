"""An app's own log lines, wherever it runs: its container on the Pilot Server (`docker
logs`) or its managed target's cloud (CloudWatch for Lambda and ECS, Cloud Logging for Cloud
Run). The TUI's app-log pane polls this; every line is redacted before it is returned, by
every secret value the project holds (not only those a deploy in this process read)."""

from __future__ import annotations

import calendar
import time
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.deploy.targets.docker_host import containers as server_target
from pilot_tui.deploy.targets.managed import CONTAINER_TARGETS, LogLine, open_target


class NoLogs(Exception):
    """This app has no log lines to show (a static site); the message says why."""


CLOUD_LOGS = {"lambda": "CloudWatch Logs", "ecs": "CloudWatch Logs", "cloud-run": "Cloud Logging"}
DOCKER_HOSTS = {"sandbox": "this machine's Docker", "host": "the Docker host"}


def docker_host_name(config: Any) -> str:
    """What runs apps of target "server", in a person's words: the sandbox uses this
    machine's Docker and `home = "host"` a host of the team's, not a Pilot Server."""
    return DOCKER_HOSTS.get(config.server.home, "the Pilot Server")


def source_name(config: Any, app: Any) -> str:
    """Where ``app``'s log lines come from, for the log pane and `logs`."""
    kind = app.target.kind
    if kind == "server":
        return f"its container on {docker_host_name(config)}"
    return CLOUD_LOGS.get(kind, kind)


def _parse_docker(raw: str) -> LogLine:
    """'2026-11-25T20:11:17.123456789Z text' (docker logs --timestamps) -> LogLine."""
    stamp, _, text = raw.partition(" ")
    try:
        seconds = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
        fraction = float("0." + stamp[20:].rstrip("Z")) if len(stamp) > 20 else 0.0
    except ValueError:
        return LogLine(time.time(), raw, "container")
    return LogLine(seconds + fraction, text, "container")


def container_lines(
    client: Any, project: str, app: str, *, since: float | None, limit: int
) -> list[LogLine]:
    running = server_target.running_containers(client, project, app)
    if not running:
        return []
    raw = running[-1].logs(
        timestamps=True, tail=limit, since=int(since) if since is not None else None
    )
    return [_parse_docker(line) for line in raw.decode(errors="replace").splitlines() if line]


def poll(
    config: Any,
    state_dir: Path,
    root: Path,
    app: Any,
    *,
    since: float | None = None,
    limit: int = 200,
    client: Any = None,
) -> list[LogLine]:
    """The app's lines after ``since`` (all recent ones when None), oldest first. ``client``
    is the Docker host's, needed only for apps on the Pilot Server."""
    kind = app.target.kind
    if kind in CONTAINER_TARGETS:
        lines = list(open_target(config, state_dir, root, app).logs(since=since, limit=limit))
    elif kind == "server":
        if client is None:
            raise NoLogs(
                f"{app.name} runs on {docker_host_name(config)}: its Docker host is needed"
            )
        lines = container_lines(client, config.project.name, app.name, since=since, limit=limit)
    else:
        raise NoLogs(f"{app.name} is a static site on {kind}: it has no app logs")
    return [LogLine(line.timestamp, redact.text(line.text), line.source) for line in lines]


class Follower:
    """Polls an app's logs again and again for `logs --follow` and the app's log pane; each
    call returns only the lines not returned before (each poll starts at the newest line
    seen, so the windows overlap by design)."""

    def __init__(
        self,
        config: Any,
        state_dir: Path,
        root: Path,
        app: Any,
        *,
        limit: int = 200,
        client: Any = None,
    ) -> None:
        self.config, self.state_dir, self.root, self.app = config, state_dir, root, app
        redact.load_project(state_dir, config)  # a fresh process masks what a deploy would
        self.limit, self.client = limit, client
        self.since: float | None = None
        self.seen: set[tuple[float, str, str]] = set()

    def poll(self) -> list[LogLine]:
        lines = poll(
            self.config,
            self.state_dir,
            self.root,
            self.app,
            since=self.since,
            limit=self.limit,
            client=self.client,
        )
        fresh = [
            line for line in lines if (line.timestamp, line.source, line.text) not in self.seen
        ]
        self.seen.update((line.timestamp, line.source, line.text) for line in fresh)
        if lines:
            self.since = max(line.timestamp for line in lines)
        return fresh
