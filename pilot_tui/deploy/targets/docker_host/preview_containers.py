"""An app's previews on a Docker host, found by their containers' labels (previews.py names
them): the host is where they are, so a teammate's and CI's are listed alike."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
from typing import TYPE_CHECKING

from pilot_tui.config.schema import AppSettings, PilotConfig, ServerTarget
from pilot_tui.deploy import previews
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.targets.base import target_settings
from pilot_tui.naming import image_repository
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container


def preview_app(app: AppSettings, name: str) -> AppSettings:
    """``app`` as its preview ``name`` runs on the Docker host: at APP--NAME.<previews'
    domain> (or the server's sslip.io name), never watched (nothing of its own to go back
    to)."""
    target = target_settings(app, ServerTarget)
    domain = app.previews.domain
    host = f"{previews.full_name(app.name, name)}.{domain}" if domain else None
    return previews.preview_app(app, name, dataclasses.replace(target, domain=host, watch=0))


def found(
    client: DockerClient, config: PilotConfig, docker: DockerTarget, app: AppSettings
) -> list[Preview]:
    """``app``'s previews, by name: each one's newest container says its release and when
    it expires; its address is the one its settings give."""
    from pilot_tui.deploy.targets.docker_host import release

    labels = [f"pilot.project={config.project.name}", f"{previews.PREVIEW_OF}={app.name}"]
    newest: dict[str, tuple[float, Preview]] = {}
    for container in client.containers.list(all=True, filters={"label": labels}):
        preview = previews.from_labels(container.labels)
        if preview is None:
            continue
        started = preview.expires
        if preview.name in newest and newest[preview.name][0] >= started:
            continue
        address = release.url(config, docker, preview_app(app, preview.name))
        preview = dataclasses.replace(
            preview,
            release=container.labels.get("pilot.release", ""),
            url=address,
            state=str(container.status),
        )
        newest[preview.name] = (started, preview)
    return [preview for _, preview in sorted(newest.values(), key=lambda p: p[1].name)]


def deploying(client: DockerClient, project: str, app: str, ours: str) -> list[Preview]:
    """``app``'s other previews whose deploys hold their lock (lock.py) since before the
    lock container ``ours`` was made, as state "deploying": their containers come only at
    their end. Both are ordered by the engine's own clock. A lock older than a first
    deploy may take (previews.DATABASE_GRACE) is a killed deploy's, and not counted."""
    from pilot_tui.deploy import lock

    held = client.containers.list(
        all=True, filters={"label": [f"pilot.project={project}", lock.LOCK_LABEL]}
    )
    mine = next((c for c in held if c.id == ours), None)
    if mine is None:  # broken by a teammate meanwhile: only what runs counts
        return []
    first = created(mine)
    found = []
    for container in held:
        whose = previews.split(container.labels.get(lock.LOCK_LABEL, ""))
        if whose is None or whose[0] != app or container.id == ours:
            continue
        made = created(container)
        if made < first and first[0] - made[0] <= previews.DATABASE_GRACE:
            found.append(Preview(app, whose[1], float("inf"), state="deploying"))
    return found


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def created(container: Container) -> tuple[int, int, str]:
    """When the engine made ``container``: seconds since the epoch, nanoseconds, then its
    id (a tie-break every reader agrees on). Docker's "…T12:00:00.1234Z" drops trailing
    zeros, so the fraction is compared as a number, not as text."""
    stamp = str(container.attrs.get("Created", ""))
    found = _STAMP.fullmatch(stamp)
    if found is None:
        return 0, 0, str(container.id)
    moment, fraction, zone = found.groups()
    iso = moment + ("+00:00" if zone == "Z" else zone)
    seconds = int(datetime.datetime.fromisoformat(iso).timestamp())
    return seconds, int((fraction or "")[:9].ljust(9, "0")), str(container.id)


def remove_images(client: DockerClient, project: str, full: str) -> list[str]:
    """The images built for preview ``full`` (APP--NAME: tagged with its name); the layers
    it shares with the app's own stay."""
    from docker.errors import DockerException

    repository = image_repository(project, full)
    removed = 0
    for image in client.images.list(name=repository):
        for tag in image.tags:
            if tag.startswith(f"{repository}:"):
                with contextlib.suppress(DockerException):  # in use by a running one
                    client.images.remove(tag, noprune=False)
                    removed += 1
    return [f"removed {counted(removed, 'image tag')} of {full}"] if removed else []
