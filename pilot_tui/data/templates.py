"""Empty clusters a restore starts from: one per database and image, made once by the
image's own first start (initdb and its setup), stopped cleanly, then copied into each
drill's or restore's new volume. The copy takes a tenth of a second where a first start
takes one or two: most of a restore's fixed cost.

A template holds no data: the database's owner and its empty database as the image makes
them, with a throwaway password (a restore sets the real one). It is found by its labels
like the database's other volumes (``db destroy`` and ``server destroy`` remove it) and is
made again when the image changes. Drills and restores in place use it; a copy into a new
database (``restore --to``, a preview's) happens once per name and starts as any first
start does.

Only a finished template is copied: its READY file is written once its making stopped
cleanly. A check container that finds none (a making under way, or cut short) starts as a
first start instead and says so in its output; the restore then removes that template, and
the next one makes it again.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from typing import TYPE_CHECKING

from pilot_tui.data import docker_db, passwords
from pilot_tui.data.backups import Say
from pilot_tui.data.kinds import Kind
from pilot_tui.deploy.targets.docker_host.containers import created_at

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

ROLE = docker_db.TEMPLATE_ROLE
IMAGE = "pilot.database.image"  # label: the image id the template was made by
MOUNT = "/pilot-template"  # where a check container sees it (read-only)
READY = "pilot-template-ready"  # in the volume's root once the template is whole
UNFINISHED = "pilot: the empty cluster is not finished; initialising one instead"
# A making container older than this was left by a run that was killed: no making takes it.
ABANDONED_SECONDS = docker_db.READY_SECONDS + docker_db.STOP_SECONDS + 60


def name_of(kind: Kind) -> str:
    """The template volume's name: a prefix no database's own names take."""
    return f"pilot-dbtemplate-{kind.project}-{kind.name}"


def ensure(client: DockerClient, kind: Kind, say: Say) -> str | None:
    """The name of the database's template volume, made now unless one made by the
    database's image is there; None when none can be used now (the kind has none, another
    run is making it, or the name is another's): the restore then starts as a first start."""
    from docker.errors import NotFound

    if kind.template_copy(MOUNT) is None:
        return None
    name = name_of(kind)
    image = str(client.images.get(kind.image).id)
    with contextlib.suppress(NotFound):
        maker = client.containers.get(f"{name}-make")
        if not _mine(maker.labels, kind):
            return None
        age = time.time() - created_at(maker.attrs.get("Created", ""))
        if maker.status == "running" and age < ABANDONED_SECONDS:
            return None  # another run is making it: this one starts without
        # Left by a run cut short (or killed): its template is half made.
        if not discard(client, kind, maker):
            return None
    try:
        labels = client.volumes.get(name).attrs.get("Labels") or {}
    except NotFound:
        labels = None
    if labels is not None:
        if not _mine(labels, kind):
            return None
        if labels.get(IMAGE) == image:
            return name
        if not discard(client, kind):  # an older image's
            return None
    return _make(client, kind, name, image, say)


def _make(client: DockerClient, kind: Kind, name: str, image: str, say: Say) -> str | None:
    from docker.errors import APIError, DockerException

    labels = {**kind.at(1).labels(), "pilot.role": ROLE, IMAGE: image}
    password = passwords.new()
    run = kind.run(password)
    client.volumes.create(name, labels=labels)  # or the one another run has just made
    try:
        container = client.containers.create(
            run.image,
            name=f"{name}-make",
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
        container.stop(timeout=docker_db.STOP_SECONDS)
        status = container.wait(timeout=docker_db.STOP_SECONDS).get("StatusCode")
        if status != 0:  # killed, or failed as it stopped: not a clean cluster
            raise docker_db.DatabaseError(f"it stopped with status {status}")
        container.put_archive(run.mount, _ready_file())  # whole: it may be copied now
        container.remove(force=True)
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


def discard(client: DockerClient, kind: Kind, maker: Container | None = None) -> bool:
    """Remove the database's template (and ``maker``, a making cut short); False when it
    cannot go now (a restore is copying it) or is another's."""
    from docker.errors import APIError, NotFound

    try:
        if maker is not None:
            maker.remove(force=True)
        volume = client.volumes.get(name_of(kind))
        if not _mine(volume.attrs.get("Labels") or {}, kind):
            return False
        volume.remove(force=True)
    except NotFound:
        pass
    except APIError:
        return False
    return True


def _mine(labels: dict[str, str], kind: Kind) -> bool:
    return (
        labels.get("pilot.project") == kind.project
        and labels.get("pilot.database") == kind.name
        and labels.get("pilot.role") == ROLE
    )


def _ready_file() -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(READY)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(b""))
    return archive.getvalue()


def starting(
    client: DockerClient, kind: Kind, template: str, command: list[str] | None
) -> tuple[list[str], list[str]]:
    """(entrypoint, command) of a container that copies ``template`` (mounted at MOUNT)
    into its new volume, then runs the image's own entrypoint with ``command`` (the
    image's own when None). Without READY it says UNFINISHED and starts as a first start.
    The copy is not on disk yet: ``SYNC`` puts it there before the data is used."""
    copy = kind.template_copy(MOUNT)
    assert copy is not None  # ensure() gives a template only to a kind that copies one
    config = client.images.get(kind.image).attrs.get("Config") or {}
    own = [*(config.get("Entrypoint") or []), *(command or config.get("Cmd") or [])]
    broken = (
        f"could not copy the empty cluster in volume {template} into the new volume (if it "
        f"is damaged: docker volume rm {template}; the next restore makes it again)"
    )
    script = (
        f'if [ -e {MOUNT}/{READY} ]; then {copy} || {{ echo "$0" >&2; exit 1; }}; '
        f'else echo "{UNFINISHED}" >&2; fi; exec "$@"'
    )
    return ["sh", "-c", script, broken], own


def sync(kind: Kind) -> list[str]:
    """A command putting the copied template on disk: a clean stop syncs only the files
    the database wrote, initdb synced every file it made, and a copy syncs none. Run once
    the restore is loaded (the dump it came from, removed by then, is never written out):
    the filesystem's dirty pages, with the fallback of all of them where ``sync -f`` is
    not known."""
    return ["sh", "-c", f"sync -f {kind.mount} 2>/dev/null || sync"]


def unfinished(container: Container) -> bool:
    """Whether ``container`` (started by ``starting``) found its template unfinished."""
    return UNFINISHED in container.logs(stdout=False, stderr=True).decode(errors="replace")
