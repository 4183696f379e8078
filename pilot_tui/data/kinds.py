"""What a database of each kind is on a Docker host, as data: its container, volume, image,
environment and command, the URL its apps get, and the command that says it is ready. One
class per kind, chosen at one dispatch point (``kind_for``); no Docker and no I/O here.

The container sits on the host's private network (the apps reach it by name, like the edge
reaches them) and publishes no port; its data lives in a named volume, so a new container
(a new minor version, a new memory limit) keeps it.
"""

from __future__ import annotations

import urllib.parse
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from pilot_tui.config.schema import Database
from pilot_tui.deploy.build.bases import POSTGRES, REDIS, Base


@dataclass(frozen=True)
class DatabaseRun:
    """How the database's container is made."""

    name: str  # the container's, also its host name on the private network
    volume: str
    mount: str  # where the volume is, in the container
    image: str
    environment: dict[str, str]
    command: list[str] | None
    memory: str  # Docker's mem_limit ("512m")
    labels: dict[str, str] = field(default_factory=dict)


class Kind(ABC):
    """A kind of database, for one project's ``[[databases]]`` entry."""

    kind: ClassVar[str]
    port: ClassVar[int]
    mount: ClassVar[str]
    base: ClassVar[Base]
    ready_output: ClassVar[str]  # what ``ready`` prints once the database takes connections

    def __init__(self, project: str, settings: Database) -> None:
        self.project, self.settings = project, settings

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def container(self) -> str:
        return f"pilot-db-{self.project}-{self.settings.name}"

    @property
    def volume(self) -> str:
        return self.container

    @property
    def image(self) -> str:
        return self.base.image().replace("{version}", str(self.settings.version))

    @property
    def what(self) -> str:
        """How a person names it: 'postgres 16 database main'."""
        return f"{self.kind} {self.settings.version} database {self.name}"

    def labels(self) -> dict[str, str]:
        return {
            "pilot.project": self.project,
            "pilot.role": "database",
            "pilot.database": self.name,
            "pilot.database.kind": self.kind,
            "pilot.database.version": str(self.settings.version),
        }

    def run(self, password: str) -> DatabaseRun:
        return DatabaseRun(
            self.container,
            self.volume,
            self.mount,
            self.image,
            self.environment(password),
            self.command(password),
            self.settings.size,
            self.labels(),
        )

    @abstractmethod
    def url(self, password: str) -> str:
        """What the linked apps get in ``url_env``."""

    @abstractmethod
    def environment(self, password: str) -> dict[str, str]: ...

    @abstractmethod
    def command(self, password: str) -> list[str] | None: ...

    @abstractmethod
    def ready(self, password: str) -> list[str]:
        """Run in the container: prints ``ready_output`` once it takes connections over TCP
        (not just on its socket: the official images' first start initialises on one)."""

    def ready_environment(self, password: str) -> dict[str, str]:
        """The environment ``ready`` runs with (a password there, not on its command line)."""
        return {}

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        """The password a running container was made with (a teammate's deploy, say)."""
        return None

    def set_password(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) that makes ``password`` the database's own, run in its
        container: a new container on data made before (whose password the data keeps)."""
        return None


class Postgres(Kind):
    kind = "postgres"
    port = 5432
    mount = "/var/lib/postgresql/data"
    base = POSTGRES
    ready_output = "accepting connections"

    @property
    def user(self) -> str:
        return self.name

    def url(self, password: str) -> str:
        secret = urllib.parse.quote(password, safe="")
        return f"postgres://{self.user}:{secret}@{self.container}:{self.port}/{self.name}"

    def environment(self, password: str) -> dict[str, str]:
        return {
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": self.name,
            # A folder inside the volume: the volume's root may hold lost+found.
            "PGDATA": f"{self.mount}/pgdata",
        }

    def command(self, password: str) -> list[str] | None:
        return None  # the image's: postgres

    def ready(self, password: str) -> list[str]:
        return ["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        return environment.get("POSTGRES_PASSWORD")

    def set_password(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        # Over the container's own socket (trusted there); the SQL is psql's, with the
        # password a psql variable from the environment: never on a command line.
        sql = "ALTER ROLE :\"role\" PASSWORD :'password';"
        script = (
            'printf "%s\\n" "$0" | psql -v ON_ERROR_STOP=1 -v role="$PILOT_ROLE" '
            '-v password="$PILOT_PASSWORD" -U "$PILOT_ROLE" -d "$PILOT_DB"'
        )
        environment = {"PILOT_ROLE": self.user, "PILOT_PASSWORD": password, "PILOT_DB": self.name}
        return ["sh", "-c", script, sql], environment


class Redis(Kind):
    kind = "redis"
    port = 6379
    mount = "/data"
    base = REDIS
    ready_output = "PONG"

    def url(self, password: str) -> str:
        # "default": the user requirepass sets (Redis 6+ ACLs); an empty user fails AUTH.
        secret = urllib.parse.quote(password, safe="")
        return f"redis://default:{secret}@{self.container}:{self.port}/0"

    def environment(self, password: str) -> dict[str, str]:
        return {}

    def command(self, password: str) -> list[str] | None:
        # Append-only file: every write is on disk within a second, across restarts.
        return [
            "redis-server",
            "--requirepass",
            password,
            "--appendonly",
            "yes",
            "--dir",
            self.mount,
        ]

    def ready(self, password: str) -> list[str]:
        return ["redis-cli", "-h", "127.0.0.1", "ping"]  # the password: ready_environment

    def ready_environment(self, password: str) -> dict[str, str]:
        return {"REDISCLI_AUTH": password}

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        if "--requirepass" in command and command.index("--requirepass") + 1 < len(command):
            return command[command.index("--requirepass") + 1]
        return None


KINDS: dict[str, type[Kind]] = {kind.kind: kind for kind in (Postgres, Redis)}


def kind_for(project: str, settings: Database) -> Kind:
    """The one dispatch point from a ``[[databases]]`` entry to its kind."""
    return KINDS[settings.kind](project, settings)
