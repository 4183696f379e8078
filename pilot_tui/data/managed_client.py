"""Pilot's own dumps and psql of a managed database (RDS, Cloud SQL), beside the service's
automated backups: a `pg_dump -Fc` the team holds in its own bucket, in the format of the
Docker host's databases' backups, so `db drill` proves it restores and `db restore --to NEW`
puts it on the Docker host (a way off the service, too).

The service admits connections from the Pilot Server only (its security group, its private
network), so they are made there: in a client container on the Docker host
(``pilot-dbclient-PROJECT-NAME``, the Postgres image of the database's major version, so
its pg_dump is never older than the server), which connects over TLS (``sslmode=require``)
as the master user. The password reaches it in each command's environment (the exec
API's), never in the container's own settings, so `docker inspect` on the server does not
show it. The container is made for one command and removed afterwards; should this process
die first, its command (a day's sleep) ends and the engine removes it (auto-remove).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.config.schema import Database, PilotConfig, PostgresDatabase
from pilot_tui.data import backups, execs, managed
from pilot_tui.data.agent.clients import left_over, run_name
from pilot_tui.data.backups import BackupError, BackupRecord, DumpPlan, Say
from pilot_tui.data.kinds import Kind, Postgres, kind_for

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.data.stores import BackupStore

CLIENT_ROLE = "database-client"
LIFETIME_SECONDS = 86_400  # a client container left behind ends itself after a day
CONNECT_SECONDS = 15
CLIENT_COMMAND = ["sleep", str(LIFETIME_SECONDS)]
CLIENT_MEMORY = 1 << 30  # bytes, a cap: pg_dump of a schema with many objects needs room


class ManagedPostgres(Postgres):
    """A Postgres database on a managed service, reached from the Docker host over TLS.
    Only dumps and SQL run against it: restores go into a database on the Docker host
    (``kind_for``'s), never into the service's."""

    def __init__(
        self,
        project: str,
        settings: PostgresDatabase,
        where: managed.Address,
        password: str,
        *,
        simulated: bool = False,
    ) -> None:
        super().__init__(project, settings)
        self.where, self.password = where, password
        self.service = settings.service
        self.simulated = simulated  # the sandbox's: its API records it, nothing runs it

    @property
    def user(self) -> str:
        return managed.USER

    def at(self, generation: int) -> Kind:
        raise BackupError(f"{self.what} has no generations on the Docker host")

    @property
    def container(self) -> str:
        """The prefix of each client container's name (``run_name`` adds the run's own)."""
        return f"pilot-dbclient-{self.project}-{self.name}"

    @property
    def what(self) -> str:
        title = self.service.title if self.service else "managed"
        return f"{title} database {self.name} (postgres {self.settings.version})"

    def labels(self) -> dict[str, str]:
        return {**super().labels(), "pilot.role": CLIENT_ROLE}

    def session(self) -> dict[str, str]:
        """Over TCP to the service, with its password: an exec's environment only."""
        return {
            "PILOT_ROLE": managed.USER,
            "PILOT_DB": managed.DATABASE,
            "PGUSER": managed.USER,
            "PGDATABASE": managed.DATABASE,
            "PGHOST": self.where.host,
            "PGPORT": str(self.where.port),
            # Both services serve TLS: never in the clear. (The server's certificate is not
            # checked against the service's CA: encrypted, as its apps' URL says.)
            "PGSSLMODE": "require",
            "PGPASSWORD": self.password,
            "PGCONNECT_TIMEOUT": str(CONNECT_SECONDS),
        }

    def restore(self, size: int) -> tuple[list[str], dict[str, str]]:
        raise BackupError(f"{self.what} is restored into a database on the Docker host")

    def count(self, password: str) -> tuple[list[str], dict[str, str]]:
        raise BackupError(f"{self.what} is counted in its dump, never afterwards")


def kind_of(config: PilotConfig, settings: Database, state_dir: Path) -> Kind:
    """The database as a backup or psql reaches it: in its container on the Docker host, or
    (a managed one) through a client container there, at the address the server's last
    apply recorded. ManagedError when that apply did not make it, or its password is not
    on this machine."""
    if not isinstance(settings, PostgresDatabase) or settings.service is None:
        return kind_for(config.project.name, settings)
    from pilot_tui.provision.outputs import saved_outputs

    where, password = managed.connection(saved_outputs(state_dir), state_dir, settings)
    simulated = config.server.home == "sandbox"
    return ManagedPostgres(config.project.name, settings, where, password, simulated=simulated)


def client_spec(kind: ManagedPostgres) -> dict[str, object]:
    """The client container as data, as ``client_container`` and the backup agent
    (``agent.run.start_client``) both make it: its name is ``name`` and a suffix of its
    own, so runs at once (a teammate's psql, the agent's dump) never meet."""
    return {
        "image": kind.image,
        "name": kind.container,
        "labels": kind.labels(),
        "command": CLIENT_COMMAND,
        "memory": CLIENT_MEMORY,
    }


@contextlib.contextmanager
def client_container(client: DockerClient, kind: ManagedPostgres, say: Say) -> Iterator[Container]:
    """A client container for ``kind`` on the Docker host, running, removed afterwards."""
    from docker.errors import DockerException

    from pilot_tui.deploy.targets.docker_host.containers import ensure_image

    ensure_image(client, kind.image, say, f"the {kind.kind} image")
    labels = [f"{k}={v}" for k, v in kind.labels().items()]
    for left in client.containers.list(all=True, filters={"label": labels}):
        if left_over(left.status):
            left.remove(force=True)
    container = client.containers.create(
        kind.image,
        command=CLIENT_COMMAND,
        name=run_name(kind.container),
        labels=kind.labels(),
        auto_remove=True,
        mem_limit=CLIENT_MEMORY,
    )
    try:
        container.start()
        _check_reachable(container, kind)
        yield container
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


def _check_reachable(container: Container, kind: ManagedPostgres) -> None:
    """One query first, so an address nothing answers at (or a wrong password) is said as
    such, not as a failed dump."""
    done = execs.run(container, ["psql", "-X", "-At", "-c", "select 1"], kind.session())
    if done.exit_code == 0:
        return
    sandbox = (
        " In the sandbox the service is simulated: its API records the instance, nothing "
        "runs PostgreSQL there."
        if kind.simulated
        else ""
    )
    raise BackupError(
        f"the Docker host cannot reach {kind.what} at {kind.where.host}:{kind.where.port}: "
        f"{' '.join(done.tail(2)) or f'psql exit status {done.exit_code}'}.{sandbox}",
        done.tail(),
    )


def take(
    client: DockerClient,
    kind: Kind,
    store: BackupStore,
    *,
    keep: int,
    say: Say,
    now: float | None = None,
) -> tuple[BackupRecord, list[str]]:
    """A backup of ``kind`` (``kind_of``'s) now: a managed database's from a client
    container on the Docker host, with the same dump, counts and record as a Docker host
    database's, which is dumped in its own container (``backups.take``)."""
    if not isinstance(kind, ManagedPostgres):
        return backups.take(client, kind, store, keep=keep, say=say, now=now)
    say(f"connecting to {kind.what} at {kind.where.host} from the Docker host")
    with client_container(client, kind, say) as container:
        plan = DumpPlan.of(kind, kind.password)
        container_id = str(container.id)
        return backups.dump_into(client, container_id, plan, store, keep=keep, say=say, now=now)
