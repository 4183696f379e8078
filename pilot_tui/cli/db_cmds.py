"""`pilot-tui db list|psql|backup|backups|drill|restore|destroy`: the databases of
[[databases]] on the Docker host, and their backups."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import TYPE_CHECKING, cast

from pilot_tui.cli.common import error, load_valid, print_json, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, PilotError
from pilot_tui.wording import counted, plural

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.config.document import ProjectFile
    from pilot_tui.config.schema import Database, PilotConfig
    from pilot_tui.data.kinds import Kind
    from pilot_tui.data.overview import DatabaseRow
    from pilot_tui.data.stores import BackupStore


def db_list(ns: argparse.Namespace) -> int:
    from pilot_tui.data import overview
    from pilot_tui.project import Project

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    if not config.databases:
        if ns.json:
            print_json([])
        else:
            say(
                "no databases yet: `pilot-tui db new NAME --app APP` adds one (a [[databases]] "
                "table of pilot.toml: pilot-tui config reference)"
            )
        return EXIT_OK
    rows = overview.listed(config, Project(pf.path), _docker_host(ns, pf, config), say)
    # A database whose state nobody could ask fails the listing, as it fails `status`.
    listed = EXIT_FAILED if any(row.unreachable for row in rows) else EXIT_OK
    if ns.json:
        print_json([row.to_json() for row in rows])
        return listed
    for row in rows:
        s = row.settings
        apps = ", ".join(s.apps) or "no app"
        print(f"{s.name:16} {s.kind} {s.version:<3} {row.state:24} {s.url_env} -> {apps}")
        if row.kind_backs_up:
            print(f"{'':16} last backup: {row.backup_text()}; last drill: {row.drill_text()}")
            print(f"{'':16} schedule: {row.schedule_text()}")
        elif row.service is not None:
            print(f"{'':16} backups: {row.backup_text()}")
            if row.last_drill is not None:
                print(f"{'':16} last drill of Pilot's dumps: {row.drill_text()}")
            if row.scheduled:
                print(f"{'':16} schedule: {row.schedule_text()}")
    return listed


def _docker_host(
    ns: argparse.Namespace, pf: ProjectFile, config: PilotConfig
) -> Callable[[], AbstractContextManager[DockerClient]]:
    """Opens the Docker host's engine when called (its errors as database errors)."""

    @contextlib.contextmanager
    def opened() -> Iterator[DockerClient]:
        with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
            yield engine.docker_client

    return opened


def _database(
    ns: argparse.Namespace, *, managed_too: bool = False
) -> tuple[ProjectFile, PilotConfig, Database] | None:
    """(project file, config, settings) of database ``ns.name``, or None when said why
    (a managed one too, unless ``managed_too``: the command works on the Docker host's)."""
    from pilot_tui.config.problems import did_you_mean

    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded
    settings = config.database(ns.name)
    if settings is None:
        names = [db.name for db in config.databases]
        known = ", ".join(names) or "none yet"
        error(f"no database {ns.name!r} in pilot.toml{did_you_mean(ns.name, names)} ({known})")
        return None
    service = settings.service
    if service is not None and not managed_too:
        error(
            f"{ns.name} is on {service.title}: this command works on databases on the Docker "
            f"host ({service.title} backs it up itself each day, kept {settings.backup.keep} "
            f"{service.keep_unit}, with point-in-time recovery: restore {service.restore_hint})"
        )
        return None
    return pf, config, settings


def db_psql(ns: argparse.Namespace) -> int:
    from pilot_tui.data import docker_db, managed_client
    from pilot_tui.data.kinds import Postgres
    from pilot_tui.project import Project

    found = _database(ns, managed_too=True)
    if found is None:
        return EXIT_INVALID
    pf, config, settings = found
    kind = managed_client.kind_of(config, settings, Project(pf.path).state_dir)
    if not isinstance(kind, Postgres):
        error(f"{ns.name} is a {settings.kind} database: psql runs SQL in Postgres ones")
        return EXIT_INVALID
    interactive = ns.sql is None
    if interactive and not (sys.stdin.isatty() and sys.stdout.isatty()):
        error("no terminal to open psql in: give the SQL with -c")
        return EXIT_INVALID
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        client = engine.docker_client
        if isinstance(kind, managed_client.ManagedPostgres):
            # From the Docker host, the one machine the service admits: TLS, no port opened.
            with managed_client.client_container(client, kind, say) as container:
                return _psql(ns, client, container, kind, ["psql"], kind.session())
        own = docker_db.find(client, kind).container
        if own is None or own.status != "running":
            error(f"{kind.what} is not running: deploy an app it lists to start it")
            return EXIT_FAILED
        # Inside its container, on its socket: no password, no port, nothing on the laptop.
        return _psql(ns, client, own, kind, ["psql", "-U", kind.user, "-d", kind.name], {})


def _psql(
    ns: argparse.Namespace,
    client: DockerClient,
    container: Container,
    kind: Kind,
    psql: list[str],
    environment: dict[str, str],
) -> int:
    """psql in ``container``: on this terminal, or the one command ``ns.sql``."""
    if ns.sql is None:
        from pilot_tui.cli.attach import attach

        say(f"psql in {kind.what} ({kind.container}); \\q or Ctrl+D ends it")
        code = attach(client, str(container.id), psql, environment)
        return EXIT_OK if code == 0 else EXIT_FAILED
    command = [*psql, "-v", "ON_ERROR_STOP=1", "-c", ns.sql]
    result = container.exec_run(command, environment=environment, demux=True)
    out, err = cast(tuple[bytes | None, bytes | None], result.output)
    sys.stdout.write((out or b"").decode(errors="replace"))
    if err:
        sys.stderr.write(err.decode(errors="replace"))
    return EXIT_OK if result.exit_code == 0 else EXIT_FAILED


def db_destroy(ns: argparse.Namespace) -> int:
    from pilot_tui.data import docker_db, passwords
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.project import Project

    found = _database(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, settings = found
    kind = kind_for(config.project.name, settings)
    what = f"the container of {kind.what}" if ns.keep_data else f"{kind.what} and all its data"
    if not _confirmed(ns, what):
        return EXIT_INVALID
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        if (
            not ns.keep_data
            and not ns.no_final_backup
            and not final_backup(engine.docker_client, pf, config, settings)
        ):
            return EXIT_FAILED
        removed = docker_db.remove(engine.docker_client, kind, data=not ns.keep_data)
    if not ns.keep_data:
        passwords.password_file(Project(pf.path).state_dir, settings.name).unlink(missing_ok=True)
    say(f"removed {', '.join(removed)}" if removed else f"nothing left of {kind.what} to remove")
    say(
        f"pilot.toml still has [[databases]] {settings.name}: remove it there too, or the next "
        "deploy of an app it lists makes it again"
        + (", on the data kept" if ns.keep_data else ", empty")
    )
    return EXIT_OK


def final_backup(
    client: DockerClient, pf: ProjectFile, config: PilotConfig, settings: Database
) -> bool:
    """A last backup before the data goes; False (said why, nothing removed) when none
    could be taken. A kind without backups yet, or data never made, needs none."""
    from pilot_tui.data import backups, docker_db
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.data.stores import store_for
    from pilot_tui.project import Project

    kind = kind_for(config.project.name, settings)
    found = docker_db.find(client, kind)
    if not found.volume:
        return True  # nothing to keep
    if kind.dump_format is None:
        say(f"no final backup: backups of {settings.kind} databases are not offered yet")
        return True
    if found.container is None or found.container.status != "running":
        error(
            f"{kind.what} is not running ({found.state}), so its final backup cannot be "
            "taken: deploy an app it lists to start it, or add --no-final-backup. Nothing "
            "removed"
        )
        return False
    project = Project(pf.path)
    store = store_for(config, project.state_dir, project.root)
    try:
        record, _ = backups.take(client, kind, store, keep=settings.backup.keep, say=say)
    except PilotError as exc:
        error(f"the final backup failed, so nothing was removed: {exc}")
        return False
    say(f"final backup {record.id} kept at {store.where(record.key)}")
    return True


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """A Docker engine error as a database error the CLI prints (never a traceback)."""
    from docker.errors import DockerException

    from pilot_tui.data.backups import BackupError
    from pilot_tui.data.docker_db import DatabaseError

    try:
        yield
    except DockerException as exc:
        raise DatabaseError(f"the Docker host refused: {exc}") from exc
    except (BackupError, DatabaseError) as exc:
        for line in exc.logs:  # the tool's own last words: why it failed
            say(f"  | {line}")
        raise


def _confirmed(
    ns: argparse.Namespace, what: str, verb: str = "removes", undone: str = "nothing removed"
) -> bool:
    """The database's name typed at a prompt, or given with --confirm: never a bare --yes."""
    if ns.confirm is not None:
        if ns.confirm == ns.name:
            return True
        error(f"--confirm {ns.confirm!r} is not the database's name ({ns.name}): {undone}")
        return False
    if not sys.stdin.isatty():
        error(f"this {verb} {what}: it needs the database's name, add --confirm {ns.name}")
        return False
    try:
        typed = input(f"This {verb} {what}. Type {ns.name} to go on: ").strip()
    except EOFError:
        typed = ""
    if typed != ns.name:
        error(f"not confirmed: {undone}")
        return False
    return True


# -- backups ------------------------------------------------------------------------------
def _backup_setup(
    ns: argparse.Namespace,
) -> tuple[ProjectFile, PilotConfig, Database, Kind, BackupStore] | None:
    """(file, config, settings, kind, store) for a backup command on ``ns.name``, or None
    when said why (an unknown database, a kind with no backups yet)."""
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.data.stores import store_for
    from pilot_tui.project import Project

    found = _database(ns, managed_too=True)  # Pilot's own dumps of a managed one too
    if found is None:
        return None
    pf, config, settings = found
    kind = kind_for(config.project.name, settings)
    if kind.dump_format is None:
        error(f"{ns.name} is a {settings.kind} database: its backups are not offered yet")
        return None
    project = Project(pf.path)
    return pf, config, settings, kind, store_for(config, project.state_dir, project.root)


def db_backup(ns: argparse.Namespace) -> int:
    from pilot_tui.data import backups, managed_client
    from pilot_tui.project import Project

    setup = _backup_setup(ns)
    if setup is None:
        return EXIT_INVALID
    pf, config, settings, _, store = setup
    keep = settings.backup.keep
    if ns.on_server:
        return _backup_on_server(ns, pf, config, settings, store)
    kind = managed_client.kind_of(config, settings, Project(pf.path).state_dir)
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        record, pruned = managed_client.take(engine.docker_client, kind, store, keep=keep, say=say)
    if ns.json:
        print_json({**asdict(record), "where": store.where(record.key), "pruned": pruned})
        return EXIT_OK
    print(
        f"backup {record.id} of {settings.name}: {backups.mb(record.size)}, "
        f"{counted(len(record.tables), 'table')}, {record.rows:,} {plural(record.rows, 'row')}, "
        f"in {record.seconds:.1f} s -> {store.where(record.key)}"
    )
    if pruned:
        older = counted(len(pruned), "older backup")
        say(f"removed {older} beyond keep = {keep}: {', '.join(pruned)}")
    return EXIT_OK


def _backup_on_server(
    ns: argparse.Namespace,
    pf: ProjectFile,
    config: PilotConfig,
    settings: Database,
    store: BackupStore,
) -> int:
    """A backup by the agent on the Docker host: its own code, credentials and network."""
    from pilot_tui.data import backups, scheduling

    name = settings.name
    if name not in scheduling.scheduled(config):
        service = settings.service
        key, agent = ("backup.dumps", "dump") if service else ("backup.schedule", "back up")
        also = (
            f" ({service.title} backs it up itself each day; set {key} to take Pilot's "
            "dumps too, or leave out --on-server for one now)"
            if service
            else ""
        )
        error(f'database {name} has {key} = "off": the backup agent does not {agent} it{also}')
        return EXIT_INVALID
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        code = scheduling.run_now(engine.docker_client, config.project.name, name, say)
    if code != 0:
        error(f"the backup agent's backup of {name} failed (its lines above say why)")
        return EXIT_FAILED
    record = backups.records(store, name)[-1]
    if ns.json:
        print_json({**asdict(record), "where": store.where(record.key), "by": "agent"})
    return EXIT_OK


def db_schedule(ns: argparse.Namespace) -> int:
    """The backup agent started or brought up to date (or removed), and its schedules."""
    from pilot_tui.data import scheduling

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        client = engine.docker_client
        if ns.remove:
            removed = scheduling.remove(client, config.project.name)
            say("backup agent removed" if removed else "no backup agent was running")
            return EXIT_OK
        from pilot_tui.deploy.targets.docker_host.release import agent_plan

        plan = agent_plan(engine)  # its schedules, and the previews' TTL while any runs
        if plan is None:
            scheduling.remove(client, config.project.name)
            say('no database has a backup schedule (all are "off"): no backup agent runs')
            return EXIT_OK
        changed = scheduling.install(client, plan, say)
        schedules = scheduling.timetable(plan)
    looks = scheduling.pruned(plan)
    if ns.json:
        print_json(
            {"agent": plan.name, "changed": changed, "databases": schedules, "prunes": looks}
        )
        return EXIT_OK
    if not changed:
        say(f"backup agent {plan.name} is running and up to date")
    for row in schedules:
        print(f"{row['database']:16} {row['schedule']:14} keep {row['keep']:<4} next {row['next']}")
    for what in looks:
        say(f"it removes {what} within a minute of their TTL running out")
    return EXIT_OK


def db_backups(ns: argparse.Namespace) -> int:
    from pilot_tui.data import backups

    setup = _backup_setup(ns)
    if setup is None:
        return EXIT_INVALID
    _, _, settings, _, store = setup
    with engine_errors():
        records = backups.records(store, settings.name)
        drills = backups.drills(store, settings.name)
    good = backups.last_good(drills)
    if ns.json:
        print_json(
            {
                "where": store.where(settings.name),
                "backups": [asdict(r) for r in records],
                "last_drill": asdict(drills[-1]) if drills else None,
                "last_good_drill": asdict(good) if good else None,
            }
        )
        return EXIT_OK
    if not records:
        say(f"no backups of {settings.name} yet: pilot-tui db backup {settings.name}")
        return EXIT_OK
    for r in records:
        print(
            f"{r.id:20} {backups.mb(r.size):>10} {counted(len(r.tables), 'table'):>10} "
            f"{r.rows:>12,} {plural(r.rows, 'row'):4} "
            f"{r.seconds:7.1f} s  sha256 {r.sha256[:12]}"
        )
    if drills:
        last = drills[-1]
        outcome = "passed" if last.ok else f"FAILED: {last.detail}"
        say(f"last drill {last.at} on {last.backup}: {outcome}")
    else:
        say(f"never drilled: pilot-tui db drill {settings.name} proves a backup restores")
    return EXIT_OK


def db_drill(ns: argparse.Namespace) -> int:
    from pilot_tui.data import restore

    setup = _backup_setup(ns)
    if setup is None:
        return EXIT_INVALID
    pf, config, _, kind, store = setup
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        result = restore.drill(engine.docker_client, kind, store, ns.backup, say)
    if ns.json:
        print_json(asdict(result))
    elif result.ok:
        print(
            f"drill passed: backup {result.backup} restored in {result.seconds:.1f} s, "
            f"{result.detail}"
        )
    else:
        error(f"drill FAILED on backup {result.backup}: {result.detail}")
    return EXIT_OK if result.ok else EXIT_FAILED


def db_restore(ns: argparse.Namespace) -> int:
    from pilot_tui.data import backups, restore

    setup = _backup_setup(ns)
    if setup is None:
        return EXIT_INVALID
    pf, config, settings, kind, store = setup
    if settings.service is not None and ns.to is None:
        error(
            f"{settings.name} is on {settings.service.title}: a restore goes into a new database "
            f"on the Docker host (add --to NEW), or restore it with {settings.service.title}'s "
            f"point-in-time recovery ({settings.service.restore_hint})"
        )
        return EXIT_INVALID
    with engine_errors():
        record = backups.record_for(store, settings.name, ns.backup)
    if ns.to is not None:
        return _restore_copy(ns, pf, settings, kind, store, record.id)
    what = (
        f"{kind.what}'s data with backup {record.id} ({record.created}); the linked apps "
        "are redeployed onto it and the data of now is kept in its volume"
    )
    if not _confirmed(ns, what, verb="replaces", undone="nothing restored"):
        return EXIT_INVALID
    with deployer(ns, loaded=(pf, config)) as engine, engine_errors():
        done = restore.restore_and_move(engine, kind, store, record.id, say)
        interrupted = engine.cancel.is_set()  # a relaunch's Ctrl+C kept its release live
    for app, why in done.stuck.items():
        error(f"{app}: {why}")
    if done.stuck:
        error(
            f"{', '.join(done.stuck)} still {plural(len(done.stuck), 'uses', 'use')} the data "
            "from before the restore, whose "
            "container keeps running: deploy them again (pilot-tui deploy APP)"
        )
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    if done.restored.kept_volume:
        say(f"pilot-tui db destroy {settings.name} removes it with the rest")
    print(f"restored {settings.name} from backup {record.id}")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _copy_entry(settings: Database, name: str) -> dict[str, object]:
    """The [[databases]] table of a copy of ``settings``: same kind, version and size, no
    app linked, no scheduled backups (it is there to be looked at, until you say more)."""
    return {
        "name": name,
        "kind": settings.kind,
        "version": settings.version,
        "apps": [],
        "size": settings.size,
        "backup": {"schedule": "off"},
    }


def _restore_copy(
    ns: argparse.Namespace,
    pf: ProjectFile,
    settings: Database,
    kind: Kind,
    store: BackupStore,
    backup_id: str,
) -> int:
    """`db restore NAME [BACKUP] --to NEW`: the backup in a new database NEW, NAME untouched;
    pilot.toml gets NEW's table once it serves (checked first, so nothing is made for a
    name the file would refuse)."""
    from pilot_tui.apps import add_entry
    from pilot_tui.config.document import ProjectFile as Document
    from pilot_tui.config.validate import check_text
    from pilot_tui.data import restore
    from pilot_tui.data.kinds import kind_for

    def with_copy(current: Document) -> tuple[str, PilotConfig | None]:
        text = add_entry(current.text, "databases", _copy_entry(settings, ns.to))
        checked = check_text(text, current.display, current.path.parent)
        for problem in checked.report.errors:
            error(f"{problem.key}: {problem.message}")
        return text, checked.config if not checked.report.errors else None

    text, config = with_copy(pf)
    copy = config.database(ns.to) if config is not None else None
    if config is None or copy is None:
        error(f"nothing restored: pilot.toml would refuse database {ns.to!r}")
        return EXIT_INVALID
    copy_kind = kind_for(config.project.name, copy)
    with deployer(ns, share=False, loaded=(pf, config)) as engine, engine_errors():
        checked, _ = restore.restore_copy(
            engine.docker_client, kind, copy_kind, store, engine.state_dir, backup_id, say
        )
    current = Document.load(pf.path)  # what the file holds now: a restore takes a while
    text, config = with_copy(current)
    if config is None:
        error(
            f"{copy_kind.what} runs, but pilot.toml could not take its table: add a "
            f"[[databases]] table named {ns.to!r} yourself"
        )
        return EXIT_FAILED
    current.save(text)
    say(
        f"{copy_kind.what} runs on backup {backup_id} ({counted(checked.tables, 'table')}, "
        f"{checked.rows:,} {plural(checked.rows, 'row')}, as recorded); {settings.name} was "
        "not touched"
    )
    say(
        f"added [[databases]] {ns.to} to {pf.display}, with no app and scheduled backups off: "
        f"pilot-tui config set databases.{ns.to}.apps '[\"api\"]' links one"
    )
    print(f"restored {settings.name} backup {backup_id} into {ns.to}")
    return EXIT_OK


def db_new(ns: argparse.Namespace) -> int:
    """Add a [[databases]] table to pilot.toml (checked with the whole file first; comments
    kept; nothing written when anything is wrong)."""
    from pilot_tui.apps import add_entry
    from pilot_tui.config.validate import check_text

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, _ = loaded
    entry: dict[str, object] = {"name": ns.name, "kind": ns.kind}
    if ns.version is not None:
        entry["version"] = ns.version
    entry["apps"] = ns.apps
    if ns.size:
        entry["size"] = ns.size
    if ns.url_env:
        entry["url_env"] = ns.url_env
    if ns.keep is not None:
        entry["backup"] = {"keep": ns.keep}
    text = add_entry(pf.text, "databases", entry)
    report = check_text(text, pf.display, pf.path.parent).report
    if report.errors:
        for problem in report.errors:
            error(f"{problem.key}: {problem.message}")
        error("pilot.toml is unchanged")
        return EXIT_INVALID
    pf.save(text)
    what = f"{ns.kind} database {ns.name}" + (f" for {', '.join(ns.apps)}" if ns.apps else "")
    say(f"added {what} to {pf.display}")
    say(
        "the next deploy of an app it lists starts it"
        if ns.apps
        else f"list the apps that use it: pilot-tui config set databases.{ns.name}.apps '[\"api\"]'"
    )
    return EXIT_OK


def db_status(ns: argparse.Namespace) -> int:
    """One database: its state and health now, where its data is, its backups and drills."""
    from pilot_tui.data import docker_db, overview
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.deploy.host import HostError
    from pilot_tui.project import Project

    found = _database(ns, managed_too=True)
    if found is None:
        return EXIT_INVALID
    pf, config, settings = found
    project = Project(pf.path)
    state_dir = project.state_dir
    if settings.service is not None:  # as the server's last apply left it; Pilot's dumps
        listed = overview.listed(config, project, _docker_host(ns, pf, config), say)
        return _managed_status(ns, next(r for r in listed if r.settings is settings))
    store, problem = overview.open_store(config, project)
    client: DockerClient | None = None
    unreachable: str | None = None
    with contextlib.ExitStack() as opened:
        try:
            engine = opened.enter_context(deployer(ns, share=False, loaded=(pf, config)))
        except HostError as exc:  # its backups are in the store all the same
            say(f"warning: {exc}; {settings.name}'s health is unknown")
            unreachable = overview.UNREACHABLE
        else:
            client = engine.docker_client
        with engine_errors():
            only = next(
                r
                for r in overview.rows(client, config, store, problem, state_dir, unreachable)
                if r.settings is settings
            )
            kind = kind_for(config.project.name, settings)
            health = docker_db.health(client, kind) if client else f"unknown ({unreachable})"
    if ns.json:
        print_json({**only.to_json(), "health": health})
    else:
        print(f"{settings.name}: {settings.kind} {settings.version}, {health}")
        if only.unreachable:
            print(f"  container {only.container}: its state and data could not be asked")
        else:
            volume = only.volume or "no volume yet"
            print(f"  container {only.container} ({only.state}); data in {volume}")
        if only.kept_volumes:
            print(f"  kept from before a restore: {', '.join(only.kept_volumes)}")
        print(f"  apps: {', '.join(settings.apps) or 'none'} ({settings.url_env})")
        if only.kind_backs_up:
            print(f"  last backup: {only.backup_text()}")
            print(f"  last drill: {only.drill_text()}")
            print(f"  schedule: {only.schedule_text()}")
    return EXIT_OK if health == "healthy" else EXIT_FAILED


def _managed_status(ns: argparse.Namespace, row: DatabaseRow) -> int:
    """A managed database as the server's last apply left it: made (its address) or not."""
    settings = row.settings
    title = row.service.title if row.service else "?"
    made = row.state.startswith(f"on {title}")
    if ns.json:
        print_json(row.to_json())
    else:
        print(f"{settings.name}: {settings.kind} {settings.version}, {row.state}")
        print(f"  {title} instance {row.container}; backups: {row.backup_text()}")
        if row.last_drill is not None:
            print(f"  last drill of Pilot's dumps: {row.drill_text()}")
        print(f"  schedule: {row.schedule_text()}")
        print(f"  apps: {', '.join(settings.apps) or 'none'} ({settings.url_env})")
    return EXIT_OK if made else EXIT_FAILED
