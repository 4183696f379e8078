"""An app's own log lines, wherever it runs: its container on the Pilot Server (`docker
logs`) or its managed target's cloud (CloudWatch for Lambda and ECS, Cloud Logging for Cloud
Run). The TUI's app-log pane polls this; every line is redacted before it is returned, by
every secret value the project holds (not only those a deploy in this process read)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import secrets
from pilot_tui.deploy.context import ProjectContext
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import LogLine, NoLogs
from pilot_tui.deploy.targets.docker_host.target import docker_host_name

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["Follower", "LogLine", "NoLogs", "docker_host_name", "poll", "source_name"]


def source_name(config: PilotConfig, app: AppSettings) -> str:
    """Where ``app``'s log lines come from, for the log pane and `logs`."""
    return target_for(app).log_source(config)


def poll(
    config: PilotConfig,
    state_dir: Path,
    root: Path,
    app: AppSettings,
    *,
    since: float | None = None,
    limit: int = 200,
    client: DockerClient | None = None,
) -> list[LogLine]:
    """The app's lines after ``since`` (all recent ones when None), oldest first. ``client``
    is the Docker host's, needed only for apps that run on it."""
    context = ProjectContext(config, state_dir, root, client)
    lines = target_for(app).logs(context, since=since, limit=limit)
    return [LogLine(line.timestamp, redact.text(line.text), line.source) for line in lines]


class Follower:
    """Polls an app's logs again and again for `logs --follow` and the app's log pane; each
    call returns only the lines not returned before (each poll starts at the newest line
    seen, so the windows overlap by design)."""

    def __init__(
        self,
        config: PilotConfig,
        state_dir: Path,
        root: Path,
        app: AppSettings,
        *,
        limit: int = 200,
        client: DockerClient | None = None,
    ) -> None:
        self.config, self.state_dir, self.root, self.app = config, state_dir, root, app
        secrets.register_project(state_dir, config)  # a fresh process masks what a deploy would
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
