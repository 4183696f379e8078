"""Empty clusters a restore starts from: one per database and image, made once by the
image's own first start (initdb and its setup), stopped cleanly, then copied into each
restore's or drill's new volume. The copy takes a tenth of a second where a first start
takes one or two: most of a restore's fixed cost.

The template holds no data: the database's owner and its empty database as the image makes
them, with a throwaway password (a restore sets the real one). It is found by its labels
like the database's other volumes (``db destroy`` and ``server destroy`` remove it) and is
made again when the image changes. Drills and restores in place use it; a copy into a new
database (``restore --to``, a preview's) is made once and starts as any first start does.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pilot_tui.data import docker_db, passwords
from pilot_tui.data.backups import Say
from pilot_tui.data.kinds import Kind

if TYPE_CHECKING:
    from docker import DockerClient

ROLE = docker_db.TEMPLATE_ROLE
IMAGE = "pilot.database.image"  # label: the image id the template was made by
MOUNT = "/pilot-template"  # where a check container sees it (read-only)


def name_of(kind: Kind) -> str:
    """The template volume's name: a prefix no database's own names take."""
    return f"pilot-dbtemplate-{kind.project}-{kind.name}"


def ensure(client: DockerClient, kind: Kind, say: Say) -> str | None:
    """The name of the database's template volume, made now unless one made by the
    database's image is there; None when none can be used now (the kind has none, another
    run is making it, or the name is another's): the restore then starts as a first start."""
    from docker.errors import APIError, DockerException, NotFound

    if kind.template_copy(MOUNT) is None:
        return None
    name = name_of(kind)
    image = str(client.images.get(kind.image).id)
    making = f"{name}-make"
    with contextlib.suppress(NotFound):
        maker = client.containers.get(making)
        if maker.status == "running":
            return None  # another run is making it: this one starts without
        maker.remove(force=True)  # a run cut short left it: its template is half made
        with contextlib.suppress(NotFound):
            client.volumes.get(name).remove(force=True)
    with contextlib.suppress(NotFound):
        labels = client.volumes.get(name).attrs.get("Labels") or {}
        if not _mine(labels, kind):
            return None
        if labels.get(IMAGE) == image:
            return name
        try:
            client.volumes.get(name).remove(force=True)  # an older image's
        except APIError:
            return None  # a restore is copying it now: this one starts without
    labels = {**kind.at(1).labels(), "pilot.role": ROLE, IMAGE: image}
    password = passwords.new()
    run = kind.run(password)
    client.volumes.create(name, labels=labels)  # or the one another run has just made
    try:
        container = client.containers.create(
            run.image,
            name=making,
            network_mode="none",
            environment=run.environment,
            volumes={name: {"bind": run.mount, "mode": "rw"}},
            mem_limit=run.memory,
            labels=labels,
        )
    except APIError as exc:
        if exc.status_code == 409:
            return None  # another run has just begun making it
        raise
    say(f"making an empty {kind.what} for restores to start from (once per image)")
    try:
        container.start()
        docker_db.wait_ready(container, kind, password)
        docker_db.stop_and_remove(container)  # cleanly: the copy must be a stopped cluster
    except BaseException as exc:
        with contextlib.suppress(DockerException):
            container.remove(force=True)
            client.volumes.get(name).remove(force=True)
        if not isinstance(exc, DockerException | docker_db.DatabaseError):
            raise
        # Only a shortcut: the restore starts as a first start, which says what is wrong.
        say(f"could not make it ({exc}); restoring without it")
        return None
    return name


def _mine(labels: dict[str, str], kind: Kind) -> bool:
    return (
        labels.get("pilot.project") == kind.project
        and labels.get("pilot.database") == kind.name
        and labels.get("pilot.role") == ROLE
    )


def starting(
    client: DockerClient, kind: Kind, template: str, command: list[str] | None
) -> tuple[list[str], list[str]]:
    """(entrypoint, command) of a container that copies ``template`` (mounted at MOUNT)
    into its new volume, then runs the image's own entrypoint with ``command`` (the
    image's own when None). A template found incomplete is named in its output."""
    copy = kind.template_copy(MOUNT)
    assert copy is not None  # ensure() gives a template only to a kind that copies one
    config = client.images.get(kind.image).attrs.get("Config") or {}
    own = [*(config.get("Entrypoint") or []), *(command or config.get("Cmd") or [])]
    broken = (
        f"the empty cluster in volume {template} is incomplete: remove it "
        f"(docker volume rm {template}) and the next restore makes it again"
    )
    script = f'{{ {copy}; }} || {{ echo "$0" >&2; exit 1; }}; exec "$@"'
    return ["sh", "-c", script, broken], own
