"""The platform at a glance: the proxy, each app's live release, health and URL, and each
database beside the apps ("(db NAME)": kind and version, healthy when it takes connections).

One function for `pilot-tui status` and the app's home screen. Each app's target says how
it is (targets/base.py Target.status): an app on the Docker host is asked at its live
release's own container, a managed target of its cloud, a static site in the sandbox at its
address on this machine (addresses.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from pilot_tui import redact
from pilot_tui.deploy.context import Context
from pilot_tui.deploy.host import HostError
from pilot_tui.deploy.targets import target_for
from pilot_tui.deploy.targets.base import AppStatus
from pilot_tui.deploy.targets.docker_host import containers

__all__ = ["AppStatus", "statuses"]


def statuses(engine: Context) -> tuple[str, list[AppStatus]]:
    """(the proxy's state, one AppStatus per app) for a Deployer (or any Context) with the
    Docker host open when some app runs on it."""
    proxy = None
    with contextlib.suppress(Exception):  # docker.errors.NotFound: not started yet
        if engine.client is not None:
            proxy = engine.client.containers.get(containers.PROXY_NAME)
    rows = [target_for(app).status(engine) for app in engine.config.apps]
    rows += database_statuses(engine)
    return (proxy.status if proxy is not None else "not started"), rows


HOST_NOT_OPENED = "the Docker host could not be opened"


@dataclass(frozen=True)
class Looked:
    """What `status` and the home screen show: the proxy's state, a row per app and
    database, the Docker host's address (None: not opened), and why it could not be."""

    proxy: str
    rows: list[AppStatus]
    host: str | None
    refused: HostError | None = None


def look(
    opened: Callable[[list[str] | None], AbstractContextManager[Context]], apps: list[str] | None
) -> Looked:
    """The statuses, through ``opened(apps)`` (a project context with the Docker host
    opened for ``apps``, None: all); when the host cannot be opened, through
    ``opened([])``, the apps elsewhere asked as ever and those on the host unknown."""
    try:
        with opened(apps) as engine:
            proxy, rows = statuses(engine)
            return Looked(proxy, rows, engine.target.address if engine.target else None)
    except HostError as exc:
        with opened([]) as engine:
            rows = statuses_without_host(engine, HOST_NOT_OPENED)
            return Looked(f"unknown ({HOST_NOT_OPENED})", rows, None, exc)


def statuses_without_host(engine: Context, why: str) -> list[AppStatus]:
    """One AppStatus per app and database when the Docker host could not be opened
    (``why``): its deployed apps and databases "unknown (why)" (its never-deployed apps
    are not deployed, wherever), the rest asked as ever."""
    from pilot_tui.deploy import history

    rows = []
    for app in engine.config.apps:
        kind = target_for(app)
        if not kind.on_docker_host:
            rows.append(kind.status(engine))
            continue
        live = history.live_release(engine.state_dir, app.name)
        said = f"unknown ({why})" if live else "not deployed"
        rows.append(AppStatus(app.name, live.id if live else "-", said, "-"))
    return rows + database_statuses(engine, why)


def database_statuses(engine: Context, unreachable: str | None = None) -> list[AppStatus]:
    """Each database, listed like an app (none when the Docker host was not opened: open it
    whenever pilot.toml has databases; with ``unreachable``, why it could not be, the
    databases on it are "unknown (why)" and the managed ones asked as ever)."""
    from docker.errors import DockerException

    from pilot_tui.data import docker_db
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.data.overview import managed_row, server_outputs

    if engine.client is None and unreachable is None:
        return []
    found: list[AppStatus] = []
    outputs = server_outputs(engine.config, engine.state_dir)
    for settings in engine.config.databases:
        apps = ", ".join(settings.apps) or "no app"
        if row_service := settings.service:
            row = managed_row(engine.config, settings, outputs)
            found.append(
                AppStatus(
                    f"(db {settings.name})",
                    f"{settings.kind} {settings.version}",
                    row.state,
                    "-",
                    notes=(f"{row_service.title} {row.container} · {settings.url_env} for {apps}",),
                    kind="database",
                    name=settings.name,
                )
            )
            continue
        kind = kind_for(engine.config.project.name, settings)
        if engine.client is None:
            health = f"unknown ({unreachable})"
        else:
            try:
                health = docker_db.health(engine.client, kind)
            except (docker_db.DatabaseError, DockerException) as exc:  # a row, not the status
                health = f"unknown ({redact.clip(str(exc), 120)})"
        found.append(
            AppStatus(
                f"(db {settings.name})",
                f"{settings.kind} {settings.version}",
                health,
                "-",
                notes=(f"{kind.container} · {settings.url_env} for {apps}",),
                kind="database",
                name=settings.name,
            )
        )
    return found
