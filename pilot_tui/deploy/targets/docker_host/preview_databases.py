"""The databases previews get on the Docker host. For each database linked to the app whose
``preview`` is not "none": NAME--PREVIEW, a database of its own (container, volume,
password), made empty or from the newest backup (restored and checked as a drill checks it),
once: a redeploy of the preview keeps its data. The previews of one branch share it (a
change spanning two apps sees one database); it goes with the last of them. A preview
never gets the database itself."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, Database
from pilot_tui.data.kinds import Kind, kind_for
from pilot_tui.deploy import previews
from pilot_tui.deploy.context import Context, DeployContext, DeployError, RunLog, Say
from pilot_tui.deploy.events import StageFailed
from pilot_tui.deploy.targets.docker_host import containers

if TYPE_CHECKING:
    from docker import DockerClient


def preview_kind(project: str, settings: Database, preview: str) -> Kind:
    """The database ``settings`` as the previews named ``preview`` get it."""
    copy = dataclasses.replace(settings, name=previews.full_name(settings.name, preview))
    return kind_for(project, copy, preview=preview)


def linked(ctx: DeployContext, log: RunLog, owner: AppSettings, preview: str) -> dict[str, str]:
    """Each preview database the preview of ``owner`` gets, made if it is not there yet;
    the variables carrying their URLs (masked like every secret)."""
    from pilot_tui.data import backups, docker_db, restore
    from pilot_tui.data.stores import store_for
    from pilot_tui.errors import PilotError

    urls: dict[str, str] = {}
    full = previews.full_name(owner.name, preview)
    line = log.line("deploy", full)
    client = ctx.docker_client
    for settings in ctx.config.databases:
        if owner.name not in settings.apps or settings.preview == "none":
            continue
        kind = preview_kind(ctx.project, settings, preview)
        try:
            found = docker_db.find(client, kind)
            if settings.preview == "copy-of-latest-backup" and not (
                found.container or found.volume
            ):
                line(f"making {kind.name} from {settings.name}'s newest backup")
                store = store_for(ctx.config, ctx.state_dir, ctx.root)
                source = kind_for(ctx.project, settings)
                restore.restore_copy(client, source, kind, store, ctx.state_dir, None, line)
            live, password = docker_db.ensure(client, kind, ctx.state_dir, line)
        except (PilotError, backups.BackupError) as exc:
            message = f"the preview's database {kind.name}: {exc}"
            log.emit(StageFailed(full, "deploy", message))
            raise DeployError("deploy", message) from exc
        urls[settings.url_env] = live.url(password)
    redact.register(urls.values())
    return urls


def remove_unused(ctx: Context, say: Say, gone: frozenset[str] = frozenset()) -> list[str]:
    """The preview databases no preview of their branch uses any more: those of the
    previews ``gone`` (just removed), and others made more than DATABASE_GRACE ago (a first
    deploy makes its database before its container); their containers, volumes and
    passwords. What was removed."""
    from docker.errors import NotFound

    from pilot_tui.data import passwords

    client: DockerClient | None = ctx.client
    if client is None:
        return []
    project = f"pilot.project={ctx.project}"
    names = {
        c.labels.get(previews.PREVIEW, "")
        for c in client.containers.list(all=True, filters={"label": [project, previews.PREVIEW_OF]})
    }
    done = []
    made = [project, previews.PREVIEW_DATABASE]
    kept = set()
    now = time.time()
    for container in client.containers.list(all=True, filters={"label": made}):
        name = container.labels.get(previews.PREVIEW_DATABASE, "")
        made_at = containers.created_at(container.attrs.get("Created", ""))
        young = now - made_at < previews.DATABASE_GRACE
        if young and name not in gone:
            names.add(name)  # a first deploy's, maybe, whose container is not made yet
    for container in client.containers.list(all=True, filters={"label": made}):
        if container.labels.get(previews.PREVIEW_DATABASE) not in names:
            container.remove(force=True)
            done.append(f"removed the preview database container {container.name}")
    for volume in client.volumes.list(filters={"label": made}):
        labels = volume.attrs.get("Labels") or {}
        if labels.get(previews.PREVIEW_DATABASE) in names:
            kept.add(labels.get("pilot.database", ""))
        else:
            try:
                volume.remove(force=True)
            except NotFound:
                continue
            database = labels.get("pilot.database", "")
            if database:
                passwords.password_file(ctx.state_dir, database).unlink(missing_ok=True)
            done.append(f"removed the preview database volume {volume.name}")
    # Passwords of preview databases gone meanwhile (the agent removed expired ones).
    folder = passwords.password_file(ctx.state_dir, "x").parent
    for path in folder.glob(f"*{previews.PREVIEW_SEPARATOR}*.password"):
        if path.name.removesuffix(".password") not in kept:
            path.unlink(missing_ok=True)
    for line in done:
        say(line)
    return done
