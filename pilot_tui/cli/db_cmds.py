"""`pilot-tui db list|psql|destroy`: the databases of [[databases]] on the Docker host."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from pilot_tui.cli.common import error, load_valid, print_json, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.config.schema import Database, PilotConfig


def db_list(ns: argparse.Namespace) -> int:
    from pilot_tui.data import docker_db
    from pilot_tui.data.kinds import kind_for

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    if not config.databases:
        if ns.json:
            print_json([])
        else:
            say("no databases yet: add a [[databases]] table to pilot.toml (docs/pilot-toml.md)")
        return EXIT_OK
    rows = []
    with deployer(ns, share=False, loaded=(pf, config)) as engine, _engine_errors():
        for settings in config.databases:
            kind = kind_for(config.project.name, settings)
            found = docker_db.find(engine.docker_client, kind)
            rows.append(
                {
                    "name": settings.name,
                    "kind": settings.kind,
                    "version": settings.version,
                    "apps": settings.apps,
                    "url_env": settings.url_env,
                    "state": found.state,
                    "container": kind.container,
                    "volume": kind.volume if found.volume else None,
                }
            )
    if ns.json:
        print_json(rows)
        return EXIT_OK
    for row in rows:
        apps = ", ".join(cast(list[str], row["apps"])) or "no app"
        print(
            f"{row['name']:16} {row['kind']} {row['version']:<3} {row['state']:24} "
            f"{row['url_env']} -> {apps}"
        )
    return EXIT_OK


def _database(ns: argparse.Namespace) -> tuple[ProjectFile, PilotConfig, Database] | None:
    """(project file, config, settings) of database ``ns.name``, or None when said why."""
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
    return pf, config, settings


def db_psql(ns: argparse.Namespace) -> int:
    from pilot_tui.data import docker_db
    from pilot_tui.data.kinds import Postgres, kind_for

    found = _database(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, settings = found
    kind = kind_for(config.project.name, settings)
    if not isinstance(kind, Postgres):
        error(f"{ns.name} is a {settings.kind} database: psql runs SQL in Postgres ones")
        return EXIT_INVALID
    with deployer(ns, share=False, loaded=(pf, config)) as engine, _engine_errors():
        container = docker_db.find(engine.docker_client, kind).container
        if container is None or container.status != "running":
            error(f"{kind.what} is not running: deploy an app it lists to start it")
            return EXIT_FAILED
        # Inside its container, on its socket: no password, no port, nothing on the laptop.
        command = ["psql", "-v", "ON_ERROR_STOP=1", "-U", kind.user, "-d", kind.name]
        result = container.exec_run([*command, "-c", ns.sql], demux=True)
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
    with deployer(ns, share=False, loaded=(pf, config)) as engine, _engine_errors():
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


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """A Docker engine error as a database error the CLI prints (never a traceback)."""
    from docker.errors import DockerException

    from pilot_tui.data.docker_db import DatabaseError

    try:
        yield
    except DockerException as exc:
        raise DatabaseError(f"the Docker host refused: {exc}") from exc


def _confirmed(ns: argparse.Namespace, what: str) -> bool:
    """The database's name typed at a prompt, or given with --confirm: never a bare --yes."""
    if ns.confirm is not None:
        if ns.confirm == ns.name:
            return True
        error(f"--confirm {ns.confirm!r} is not the database's name ({ns.name}): nothing removed")
        return False
    if not sys.stdin.isatty():
        error(f"removing {what} needs its name: add --confirm {ns.name}")
        return False
    try:
        typed = input(f"This removes {what}. Type {ns.name} to go on: ").strip()
    except EOFError:
        typed = ""
    if typed != ns.name:
        error("not confirmed: nothing removed")
        return False
    return True
