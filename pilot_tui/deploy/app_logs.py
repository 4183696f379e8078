"""An app's own log lines, wherever it runs: its container on the Pilot Server (`docker
logs`) or its managed target's cloud (CloudWatch for Lambda and ECS, Cloud Logging for Cloud
Run). The TUI's app-log pane polls this (`logs` reads the target's stream); every line is
redacted before it is returned, by every secret value the project holds (not only those a
deploy in this process read)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import secrets
from pilot_tui.deploy.context import ProjectContext
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import LogLine, NoLogs
from pilot_tui.deploy.targets.docker_host.target import docker_host_name
from pilot_tui.deploy.targets.log_follow import LogPoller

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["Follower", "LogLine", "NoLogs", "docker_host_name", "source_name"]


def source_name(config: PilotConfig, app: AppSettings) -> str:
    """Where ``app``'s log lines come from, for the log pane and `logs`."""
    return target_for(app).log_source(config)


class Follower(LogPoller):
    """Polls an app's logs again and again for the app's log pane; each call returns only
    the lines not returned before (targets.log_follow.LogPoller), with every secret value
    of the project masked."""

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
        secrets.register_project(state_dir, config)  # a fresh process masks what a deploy would
        context = ProjectContext(config, state_dir, root, client)
        super().__init__(target_for(app), context, limit=limit)
