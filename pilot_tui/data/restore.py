"""Restores and drills: a backup goes into a fresh volume through a check container (no
network, never the apps'), is verified, and only then serves.

The check: the dump's size and sha256 against its record (read as it streams in), the
restore tool's exit status, then every table's row count against the record's. Anything
off removes the fresh volume and container; the live database is never touched.

- ``drill``: the check on a throwaway volume, removed afterwards; the result is recorded
  beside the backups (the dashboard shows the last good one).
- ``restore``: the check on the database's next generation's volume (``pilot-db-P-N-g2``,
  ``-g3``…), then that generation's container starts on the private network. The linked
  apps move to it by a redeploy (the caller's); ``retire`` then stops the previous
  generation's container and keeps its volume, the data from before the restore.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pilot_tui.data import backups, docker_db, execs, passwords, templates
from pilot_tui.data.backups import BackupError, BackupRecord, DrillRecord, Say
from pilot_tui.data.kinds import Kind
from pilot_tui.data.stores import BackupStore
from pilot_tui.wording import counted, plural

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.deploy import history as release_history
    from pilot_tui.deploy.context import CancelToken
    from pilot_tui.deploy.shared_history import SharedHistory

DRILL_ROLE = "database-drill"


class Deployer(Protocol):
    """What a restore needs of the deploy engine (deploy.engine.Deployer): named here, so
    the data wing never imports the engine (the deploy targets import this module)."""

    state_dir: Path
    shared: SharedHistory | None
    cancel: CancelToken  # set by a Ctrl+C (or Cancel) that a relaunch kept live

    @property
    def docker_client(self) -> DockerClient: ...

    def rollback(self, name: str, wanted: str | None = None) -> release_history.Release: ...

    def newest_live(self, name: str) -> release_history.Release | None: ...


@dataclass(frozen=True)
class Checked:
    """A backup restored and verified: how long it took and how many rows it holds."""

    record: BackupRecord
    seconds: float
    tables: int
    rows: int


def check_into(
    client: DockerClient,
    kind: Kind,
    volume: str,
    volume_labels: dict[str, str],
    password: str,
    record: BackupRecord,
    store: BackupStore,
    say: Say,
    *,
    from_template: bool = False,
) -> Checked:
    """Restore ``record`` into a new ``volume`` and verify it; the volume stays (a check
    container on it is stopped and removed), or on any failure is removed too. With
    ``from_template``, the volume starts as a copy of the database's empty cluster (made
    the first time): for its drills and restores, not a new database's one copy."""
    from docker.errors import DockerException

    if record.kind != kind.kind or record.version != kind.settings.version:
        raise BackupError(
            f"backup {record.id} is of {record.kind} {record.version}; {kind.name} is "
            f"{kind.kind} {kind.settings.version} in pilot.toml"
        )
    from pilot_tui.deploy.targets.docker_host.containers import ensure_image

    started = time.monotonic()
    container: Container | None = None
    checked: Container | None = None  # stopping, once checked: any failure is the stop's
    stale: str | None = None  # a template found unfinished: removed once not mounted
    _claim(client, kind, volume, volume_labels)  # before the try: never remove another's
    try:
        ensure_image(client, kind.image, say, f"the {kind.kind} image")
        template = templates.ensure(client, kind, say) if from_template else None
        client.volumes.create(volume, labels=volume_labels)
        container = _check_container(client, kind, volume, password, template)
        container.start()  # its first start (initdb, or a copy) runs while the dump arrives
        _check_room(container, kind, record)
        say(f"restoring backup {record.id} ({backups.mb(record.size)}) into volume {volume}")
        command, environment = kind.receive(record.size)
        received = execs.feed_in(
            client, container, command, environment, backups.verified_chunks(store, record)
        )
        if received.exit_code != 0:
            raise _failed(
                container,
                f"backup {record.id} could not be copied into volume {volume} "
                f"(exit status {received.exit_code})",
                received.tail(),
            )
        try:
            docker_db.wait_ready(container, kind, password)
        except docker_db.DatabaseError as exc:
            raise _failed(container, str(exc), exc.logs) from exc
        if template is not None and not _from_template(kind, container, template, password, say):
            stale = template
        roles = kind.make_roles(record.roles) if record.roles else None
        if roles is not None:
            execs.run(container, *roles)
        load = kind.load()
        if load is not None:
            say(f"{kind.what} started; loading the backup into it")
            loaded = execs.feed_in(client, container, *load, ())
            if loaded.exit_code != 0:
                raise _failed(
                    container,
                    f"the restore of backup {record.id} failed (exit status {loaded.exit_code})",
                    loaded.tail(),
                )
        after = kind.after_restore(password)
        if after is not None:
            done = execs.run(container, *after)
            if done.exit_code != 0:
                raise BackupError(
                    f"{kind.what} restored, but could not be made durable", done.tail()
                )
        say("restored; counting what it holds")
        counted = _counts(container, kind, password)
        wrong = kind.mismatches(record.tables, counted)
        if wrong:
            raise BackupError(
                f"backup {record.id} restored, but what it holds differs from its record",
                tuple(wrong),
            )
        if template is not None and stale is None:
            synced = execs.run(container, templates.sync(kind), {})
            if synced.exit_code != 0:
                raise _failed(container, "the restored data could not be synced", synced.tail())
        checked, container = container, None
        docker_db.stop_and_remove(checked)  # cleanly: the data is whole on the volume
    except BaseException as exc:
        # An exec into it refused because it had stopped: its own words say why.
        failed = _failed(container, "") if isinstance(exc, DockerException) else None
        _remove(client, container or checked, volume)
        if failed is not None and failed.logs:
            raise failed from exc
        if isinstance(exc, DockerException):
            raise BackupError(f"the Docker host refused: {exc}") from exc
        raise
    finally:
        if stale is not None:  # no longer mounted: the copy's container is gone either way
            templates.discard(client, kind)
    return Checked(record, time.monotonic() - started, len(counted), sum(counted.values()))


def _failed(container: Container | None, message: str, tail: tuple[str, ...] = ()) -> BackupError:
    """``message`` with ``tail``, unless ``container`` has stopped meanwhile: then that,
    with its last lines (a command into it fails, or is refused, for that reason)."""
    try:
        if container is not None:
            container.reload()
            if container.status != "running":
                logs = container.logs(tail=8).decode(errors="replace").strip().splitlines()
                return BackupError(f"the check container {container.name} stopped", tuple(logs))
    except Exception:  # the engine cannot say: the failure as it came
        pass
    return BackupError(message, tail)


def _from_template(
    kind: Kind, container: Container, template: str, password: str, say: Say
) -> bool:
    """The check container started from ``template``: its password made ``password`` (the
    template's is throwaway). False when it found the template unfinished (it started as
    a first start): the caller removes it, so that the next restore makes it again."""
    if templates.unfinished(container):
        say(f"volume {template} was not finished: it is made again next time")
        return False
    say(f"started from the empty cluster in volume {template}")
    try:
        docker_db.keep_password(container, kind, password)
    except docker_db.DatabaseError as exc:
        raise BackupError(
            f"the restored {kind.what}'s password could not be set", exc.logs
        ) from exc
    return True


def _claim(client: DockerClient, kind: Kind, volume: str, labels: dict[str, str]) -> None:
    """Refuse a volume or check container of these names that exists already: another
    database's (names can meet: database "main" and "main-g2"), or a run cut short that
    left it (a drill clears its own first)."""
    from docker.errors import NotFound

    for what, get in (
        (f"volume {volume}", lambda: client.volumes.get(volume).attrs.get("Labels")),
        (f"container {volume}-check", lambda: client.containers.get(f"{volume}-check").labels),
    ):
        try:
            found = get() or {}
        except NotFound:
            continue
        owner = f"{found.get('pilot.project', '?')}/{found.get('pilot.database', '?')}"
        raise BackupError(
            f"{what} exists already on the Docker host ({owner}): a restore or drill of "
            f"{kind.name} needs that name; remove it if it is a leftover, or rename the "
            "database in pilot.toml if it is another's"
        )


def _clear_drill(client: DockerClient, kind: Kind, volume: str) -> None:
    """Remove what a drill cut short left (its check container, then its volume), only
    when the labels say it is this database's drill."""
    from docker.errors import NotFound

    mine = {"pilot.project": kind.project, "pilot.database": kind.name}
    with contextlib.suppress(NotFound):
        container = client.containers.get(f"{volume}-check")
        if all(container.labels.get(k) == v for k, v in mine.items()):
            container.remove(force=True)
    with contextlib.suppress(NotFound):
        found = client.volumes.get(volume)
        labels = found.attrs.get("Labels") or {}
        if labels.get("pilot.role") == DRILL_ROLE and all(
            labels.get(k) == v for k, v in mine.items()
        ):
            found.remove(force=True)


def _check_container(
    client: DockerClient, kind: Kind, volume: str, password: str, template: str | None
) -> Container:
    """The database's image on ``volume`` (first a copy of ``template``, if one), with no
    network at all: nothing reaches it but the engine's exec, and it reaches nothing."""
    run = kind.run(password)
    labels = {**run.labels, "pilot.role": docker_db.CHECK_ROLE}
    command = kind.restoring_command(password)
    entrypoint = None
    volumes = {volume: {"bind": run.mount, "mode": "rw"}}
    if template is not None:
        entrypoint, command = templates.starting(client, kind, template, command)
        volumes[template] = {"bind": templates.MOUNT, "mode": "ro"}
    return client.containers.create(
        run.image,
        command=command,
        entrypoint=entrypoint,
        name=f"{volume}-check",
        network_mode="none",
        environment=run.environment,
        volumes=volumes,
        mem_limit=run.memory,
        labels=labels,
    )


ROOM = 1.25  # a restore needs the data's size again, and some for its WAL and sorts


def _check_room(container: Container, kind: Kind, record: BackupRecord) -> None:
    """Refuse before the restore when the host's disk cannot hold the data: a full disk
    would stop the live database too (it shares that disk)."""
    # Without a recorded size (Redis: the RDB, then the AOF written from it), the dump thrice.
    # With one, that and the dump it is loaded from (the dump waits in the new volume).
    needed = (
        int(record.database_bytes * ROOM) + record.size
        if record.database_bytes
        else record.size * 3
    )
    table = execs.run(container, kind.free_space(), {})
    rows = table.output.strip().splitlines()
    fields = rows[-1].split() if table.exit_code == 0 and len(rows) >= 2 else []
    if len(fields) >= 4 and fields[3].isdigit() and int(fields[3]) * 1024 < needed:
        raise BackupError(
            f"the Docker host has {backups.mb(int(fields[3]) * 1024)} free where restoring "
            f"backup {record.id} needs about {backups.mb(needed)}: free some space first "
            "(the live database was not touched)"
        )


def _counts(container: Container, kind: Kind, password: str) -> dict[str, int]:
    command, environment = kind.count(password)
    finished = execs.run(container, command, environment)
    if finished.exit_code != 0:
        raise BackupError("the restored database's rows could not be counted", finished.tail())
    parsed = (backups.parse_count(line) for line in finished.output.splitlines())
    return dict(counted for counted in parsed if counted is not None)


def _remove(client: DockerClient, container: Container | None, volume: str) -> None:
    from docker.errors import DockerException, NotFound

    with contextlib.suppress(DockerException):
        if container is not None:
            container.remove(force=True)
        with contextlib.suppress(NotFound):
            client.volumes.get(volume).remove(force=True)


# -- drill --------------------------------------------------------------------------------
def drill(
    client: DockerClient,
    kind: Kind,
    store: BackupStore,
    wanted: str | None,
    say: Say,
) -> DrillRecord:
    """Restore a backup (the newest unless ``wanted``) into a throwaway volume, check it,
    remove it, record the result; the result (a failed check is a result, not an error)."""
    record = backups.record_for(store, kind.name, wanted)
    volume = f"{kind.container}-drill"
    labels = {**kind.labels(), "pilot.role": DRILL_ROLE}
    started = time.monotonic()
    at = datetime.now(UTC).isoformat(timespec="seconds")
    _clear_drill(client, kind, volume)  # a drill cut short before
    try:
        checked = check_into(
            client, kind, volume, labels, passwords.new(), record, store, say, from_template=True
        )
        result = DrillRecord(
            at,
            record.id,
            True,
            round(time.monotonic() - started, 3),
            f"{counted(checked.tables, 'table')}, {counted(checked.rows, 'row')}, as recorded",
        )
    except BackupError as exc:
        detail = "; ".join([str(exc), *exc.logs][:6])
        result = DrillRecord(at, record.id, False, round(time.monotonic() - started, 3), detail)
    finally:
        _clear_drill(client, kind, volume)
    backups.record_drill(store, kind.name, result)
    return result


# -- restore ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Restored:
    """The database now served from ``live`` (its new generation); ``previous`` is the
    container the apps used before, still running until ``retire``."""

    live: Kind
    password: str
    checked: Checked
    previous: Container | None
    kept_volume: str | None


def restore(
    client: DockerClient,
    kind: Kind,
    store: BackupStore,
    state_dir: Path,
    wanted: str | None,
    say: Say,
) -> Restored:
    """Restore a backup into the database's next generation and start it; the current
    one keeps serving (and is never touched) unless all of it succeeds."""
    record = backups.record_for(store, kind.name, wanted)
    found = docker_db.find(client, kind)
    current = found.kind
    password = docker_db.password_for(current, found.container, state_dir)
    _, volumes = docker_db.live_generation(client, kind)
    new = kind.at(max(volumes.values(), default=0) + 1)
    checked = check_into(
        client, new, new.volume, new.labels(), password, record, store, say, from_template=True
    )
    _start_checked(client, new, password, record, say)
    kept = current.volume if found.volume and current.volume != new.volume else None
    return Restored(new, password, checked, found.container, kept)


def restore_copy(
    client: DockerClient,
    kind: Kind,
    copy: Kind,
    store: BackupStore,
    state_dir: Path,
    wanted: str | None,
    say: Say,
) -> tuple[Checked, str]:
    """A backup of ``kind`` restored into a new database ``copy`` (its own container, volume
    and password), checked as a drill checks, then started; ``kind`` is never touched.
    Returns the check and the copy's password. A copy that exists already is refused."""
    record = backups.record_for(store, kind.name, wanted)
    found = docker_db.find(client, copy)
    if found.container is not None or found.volume:
        raise BackupError(
            f"{copy.what} already exists on the Docker host ({found.state}): choose another "
            f"name, or remove it first (pilot-tui db destroy {copy.name})"
        )
    password = passwords.stored(state_dir, copy.name) or passwords.new()
    checked = check_into(client, copy, copy.volume, copy.labels(), password, record, store, say)
    passwords.keep(state_dir, copy.name, password)
    _start_checked(client, copy, password, record, say)
    return checked, password


def _start_checked(
    client: DockerClient, kind: Kind, password: str, record: BackupRecord, say: Say
) -> None:
    """``kind``'s container started on the volume its backup was just checked into; on
    any failure, that container and volume removed (what served before is untouched)."""
    say(f"backup {record.id} verified; starting {kind.what} on it ({kind.container})")
    try:
        container = docker_db.create(client, kind.run(password))
        container.start()
        docker_db.wait_ready(container, kind, password)
    except BaseException:
        with contextlib.suppress(Exception):
            docker_db.remove_generation(client, kind)
        raise


def retire(previous: Container | None, say: Say) -> None:
    """Stop and remove the container the apps used before the restore (its volume stays)."""
    if previous is not None:
        say(f"stopping {previous.name}, which served the data before the restore")
        docker_db.stop_and_remove(previous)


@dataclass(frozen=True)
class Moved:
    """A restore and the linked apps moved onto it (``stuck``: those whose redeploy failed,
    still on the previous container, which then keeps running)."""

    restored: Restored
    moved: list[str]
    stuck: dict[str, str]


def restore_and_move(
    engine: Deployer,
    kind: Kind,
    store: BackupStore,
    wanted: str | None,
    say: Say,
) -> Moved:
    """``restore``, then each deployed linked app redeployed onto it (its live release
    relaunched), then the previous container retired once no app uses it."""
    from pilot_tui.errors import PilotError

    done = restore(engine.docker_client, kind, store, engine.state_dir, wanted, say)
    record = done.checked.record
    say(
        f"{done.live.what} now runs on backup {record.id} as {done.live.container} "
        f"({counted(done.checked.tables, 'table')}, {done.checked.rows:,} "
        f"{plural(done.checked.rows, 'row')}, as recorded)"
    )
    moved: list[str] = []
    stuck: dict[str, str] = {}
    for app in kind.settings.apps:
        live = engine.newest_live(app)  # a teammate's release is the live one, maybe
        if live is None:
            continue  # never deployed: its first deploy links the restored data
        if engine.cancel.is_set():  # a Ctrl+C (or Cancel) that an earlier relaunch kept live
            stuck[app] = "not redeployed: interrupted"
            continue
        say(f"redeploying {app} onto the restored data (relaunch of {live.id})")
        try:
            engine.rollback(app, live.id)
            moved.append(app)
        except PilotError as exc:
            stuck[app] = str(exc)
    previous = done.previous
    if previous is not None:
        users = _users_of(engine.docker_client, kind.project, str(previous.name))
        for app in users:  # (one said stuck above keeps its reason)
            stuck.setdefault(app, "its container still uses the data from before")
    if not stuck:
        retire(previous, say)
        if done.kept_volume:
            say(f"the data from before the restore is kept in volume {done.kept_volume}")
    return Moved(done, moved, stuck)


def _users_of(client: DockerClient, project: str, database_host: str) -> list[str]:
    """The apps of ``project`` whose running containers reach ``database_host`` (its
    name is in a URL of their environment): the previous database stays for them."""
    users = set()
    containers = client.containers.list(filters={"label": f"pilot.project={project}"})
    for container in containers:
        app = container.labels.get("pilot.app")
        env = (container.attrs.get("Config") or {}).get("Env") or []
        if app and any(f"@{database_host}:" in variable for variable in env):
            users.add(app)
    return sorted(users)
