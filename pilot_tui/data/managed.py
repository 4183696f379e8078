"""Managed databases (`on = "rds"`, `on = "cloud-sql"`): what every service shares, and the
one base class each service's client implements.

Terraform makes them with the Pilot Server (terraform/aws/databases.tf,
terraform/gcp/databases.tf). Around that, Pilot adds the same things on every cloud, here:
the master passwords (made once, 0600 under .pilot/databases/, handed to Terraform in a 0600
file of their own, never in pilot.toml or the inputs file), the URL the linked apps get
from the server's outputs, and the three steps `server destroy --drop-database NAME` takes
around Terraform's delete (``ManagedDatabases``): a final backup kept after the destroy,
deletion protection lifted, and put back should the destroy fail. services.open_managed is
the one place a service's class is chosen.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.config.schema import MANAGED_SERVICES, ManagedService, PilotConfig, PostgresDatabase
from pilot_tui.data import passwords
from pilot_tui.errors import PilotError

USER = "pilot"
DATABASE = "postgres"  # the one both services always make
NOT_HERE = "not-on-this-machine"  # a stand-in for a password another machine holds
Say = Callable[[str], None]


class ManagedError(PilotError):
    """A managed database cannot be reached, backed up or released for deletion."""

    title = "Managed database problem"


def identifier(project: str, name: str) -> str:
    """The instance's name (RDS's exactly; Cloud SQL's template adds a random suffix)."""
    return f"pilot-{project}-{name}"


def home_service(home: str) -> ManagedService | None:
    """The managed service a server with ``home`` offers (None: none, e.g. a host)."""
    return next((s for s in MANAGED_SERVICES.values() if home in s.homes), None)


def names_in(addresses: Iterable[str]) -> list[str]:
    """The pilot.toml names of the managed databases among Terraform ``addresses``."""
    patterns = [re.compile(s.terraform_address) for s in MANAGED_SERVICES.values()]
    found = set()
    for address in addresses:
        for pattern in patterns:
            match = pattern.fullmatch(address)
            if match:
                found.add(match.group(1))
    return sorted(found)


def terraform_passwords(
    config: PilotConfig, state_dir: Path, made: Callable[[str], bool]
) -> dict[str, str]:
    """The ``database_passwords`` variable: each one kept in .pilot/databases/, made for a
    database the service does not have yet (``made``: whether it has it). One the service
    has whose password is not on this machine gets a stand-in Terraform never sends (the
    templates ignore changes to it), and nothing is written: a deploy here then says to
    copy the file, rather than hand the apps a password the database does not know."""
    found = {}
    for db in config.managed_databases():
        value = passwords.stored(state_dir, db.name)
        if value is None and made(db.name):
            value = NOT_HERE
        elif value is None:
            value = passwords.new()
            passwords.keep(state_dir, db.name, value)
        found[db.name] = value
    return found


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    instance: str = ""  # the service's name for it, when the outputs say


def address(outputs: dict[str, object], name: str) -> Address | None:
    """Where database ``name`` answers, from the server's saved Terraform outputs."""
    made = outputs.get("databases")
    entry = made.get(name) if isinstance(made, dict) else None
    if not isinstance(entry, dict) or not entry.get("address"):
        return None
    return Address(
        str(entry["address"]), int(entry.get("port") or 5432), str(entry.get("instance") or "")
    )


def url(where: Address, password: str) -> str:
    """The URL the linked apps get: TLS required (both services serve it)."""
    secret = urllib.parse.quote(password, safe="")
    return f"postgres://{USER}:{secret}@{where.host}:{where.port}/{DATABASE}?sslmode=require"


def linked_url(outputs: dict[str, object], state_dir: Path, db: PostgresDatabase) -> str:
    """The URL of ``db`` for its apps (``outputs``: the server's last apply's), or why
    there is none yet."""
    return url(*connection(outputs, state_dir, db))


def connection(
    outputs: dict[str, object], state_dir: Path, db: PostgresDatabase
) -> tuple[Address, str]:
    """Where ``db`` answers and its password (``outputs``: the server's last apply's), or
    ManagedError saying why not (not made yet, the password on another machine)."""
    title = db.service.title if db.service else "a managed service"
    where = address(outputs, db.name)
    if where is None:
        raise ManagedError(
            f'database "{db.name}" is on {title}, and the Pilot Server\'s last apply did not '
            "make it: run `pilot-tui server up` first"
        )
    password = passwords.stored(state_dir, db.name)
    if password is None:
        raise ManagedError(
            f'the password of {title} database "{db.name}" is not on this machine '
            f"({passwords.password_file(state_dir, db.name)}): copy that file from the "
            "teammate who first ran `pilot-tui server up` with it"
        )
    return where, password


def utc_stamp(now: float | None = None) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))


class ManagedDatabases(ABC):
    """One service's databases of one project, through that cloud's API."""

    service: ManagedService

    def __init__(self, project: str) -> None:
        self.project = project

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether the service has database ``name`` (pilot.toml's name)."""

    @abstractmethod
    def final_backups(self, names: list[str], say: Say, stopped: Callable[[], bool]) -> list[str]:
        """A final backup of each named database the service has, kept after the destroy,
        all started then waited for (``stopped``: a person asked to stop). One line per
        backup saying where it is and how to restore it; ManagedError (nothing deleted,
        nothing lifted) when one was not taken."""

    @abstractmethod
    def lift_protection(self, names: list[str], say: Say) -> list[str]:
        """Deletion protection off for each named database the service has (they were
        named, their final backups taken); what was lifted, for ``protect_again``."""

    @abstractmethod
    def protect_again(self, lifted: list[str], say: Say) -> None:
        """Deletion protection back on what ``lift_protection`` lifted and is still there
        (a destroy that failed or was stopped after it)."""
