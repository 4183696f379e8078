"""The one place a managed database service's class is chosen (RDS, Cloud SQL): by the
server's home, as each target's class is chosen by its kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilot_tui.config.schema import PilotConfig
from pilot_tui.data.managed import ManagedDatabases, home_service


def open_managed(
    config: PilotConfig, root: Path, aws: Callable[[str], Any] | None
) -> ManagedDatabases | None:
    """The managed databases of the server's home, through its cloud's API: RDS through
    ``aws`` (the project's clients: the sandbox's emulator or the profile), Cloud SQL
    through the admin's Google credentials. None when the home has no such service (or
    AWS cannot be reached: then there is nothing of RDS to lift or back up here)."""
    service = home_service(config.server.home)
    if service is None:
        return None
    if service.on == "rds":
        if aws is None:
            return None
        from pilot_tui.data.rds import RdsDatabases

        return RdsDatabases(aws("rds"), config.project.name)
    from pilot_tui.cloud.clients import google_transport
    from pilot_tui.data.cloud_sql import CloudSqlDatabases
    from pilot_tui.provision.backends import bucket_name

    assert config.gcp.project, "pilot.toml is refused with a server on gcp and no gcp.project"
    return CloudSqlDatabases(
        google_transport(config, root, role="admin"),
        config.gcp.project,
        config.project.name,
        bucket_name(config) if config.state.backend == "gcs" else None,
    )
