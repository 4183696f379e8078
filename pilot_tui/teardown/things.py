"""What a destroy lists: a Thing (one resource Pilot made, how it was found, the step that
removes it), the steps in the order they run, and the Inventory a person confirms."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pilot_tui.config.schema import PilotConfig

UNOWNED_BUCKET = "S3 bucket, not provably Pilot's"
DATABASE_VOLUME = "database volume"  # a database's data: removed only when named
DOCKER_IMAGE = "Docker images"  # an app's images built on the engine, by repository
CLOUD_SQL_INSTANCE = "Cloud SQL instance"
# What `ci github` makes on Google Cloud for GitHub's runs (removed with the GCP deployer).
GCP_POOL = "GCP workload identity pool"
GCP_DEPLOYER_KINDS = frozenset({"GCP service account", GCP_POOL})
# Where CI runs push a Pilot Server app's images on Google Cloud (deploy/server_images.py).
AR_PACKAGE = "Artifact Registry package"


def cloud_sql_found(project: str, database: str) -> str:
    """How a Cloud SQL instance was found: the ``found`` of its Thing (its labels)."""
    return f"labels pilot-project={project}, pilot-database={database}"


def cloud_sql_database(found: str) -> str:
    """The database a Cloud SQL instance's ``found`` names (see cloud_sql_found)."""
    return found.split("pilot-database=", 1)[-1].split(";")[0]


def database_data(database: str, project: str) -> str:
    """How a database volume was found: the ``found`` of its Thing."""
    return f"database {database}'s data (label pilot.project={project})"


def database_of(found: str) -> str | None:
    """The database a database volume's ``found`` names (see database_data)."""
    head = found.removeprefix("database ")
    return head.split("'s data", 1)[0] if head != found and "'s data" in head else None


STEPS = ("apps", "containers", "deployer", "server", "state", "local")
STEP_TITLES = {
    "apps": "apps (each target's own destroy)",
    "containers": "containers on this machine's Docker",
    "deployer": "the deployer identity",
    "server": "the Pilot Server (Terraform)",
    "state": "the state bucket and lock table",
    "local": "local records in .pilot/",
}
Say = Callable[[str], None]


@dataclass(frozen=True)
class Thing:
    """One thing Pilot made: ``found`` says how it was found (a tag, a name, Terraform
    state, a file); ``app``/``target`` name the app it belongs to, when one does."""

    kind: str
    name: str
    found: str
    app: str = ""
    target: str = ""

    @property
    def step(self) -> str:
        return KIND_STEPS[self.kind]

    def describe(self) -> str:
        owner = f"app {self.app}; " if self.app else ""
        return f"{self.kind} {self.name} ({owner}{self.found})"


KIND_STEPS = {
    "S3 bucket": "apps",
    UNOWNED_BUCKET: "apps",  # listed, never removed (Inventory.unowned)
    "CloudFront distribution": "apps",
    "Lambda function": "apps",
    "ECR repository": "apps",
    "ECS cluster": "apps",
    "ECS service": "apps",
    "ECS task definition": "apps",
    "load balancer": "apps",
    "target group": "apps",
    "app security group": "apps",
    "log group": "apps",
    "SSM parameter": "apps",
    "GCS bucket": "apps",
    "Cloud Run service": "apps",
    AR_PACKAGE: "apps",
    "container": "containers",
    "Docker network": "containers",
    "Docker volume": "containers",
    DOCKER_IMAGE: "containers",
    DATABASE_VOLUME: "containers",
    "IAM user": "deployer",
    "access key": "deployer",
    "IAM role": "deployer",
    "GCP service account": "deployer",
    GCP_POOL: "deployer",
    "Terraform resource": "server",
    "EC2 instance": "server",
    "VPC": "server",
    "subnet": "server",
    "internet gateway": "server",
    "route table": "server",
    "security group": "server",
    "key pair": "server",
    "RDS database": "server",
    CLOUD_SQL_INSTANCE: "server",
    "DB subnet group": "server",
    "state bucket": "state",
    "lock table": "state",
    "local record": "local",
}


@dataclass
class Inventory:
    """What a destroy removes, in order, and what it keeps (``--keep-state``)."""

    remove: list[Thing]
    keep: list[Thing] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be listed, and why
    # Named like the project's but with nothing to show Pilot made it (no tag, not the
    # state bucket, not a site's): listed and left alone, never deleted on a name alone.
    unowned: list[Thing] = field(default_factory=list)

    @property
    def has_state(self) -> bool:
        """A state bucket or lock table is listed: there is a keep-state choice to make."""
        return any(t.step == "state" for t in [*self.remove, *self.keep])

    def keeping_state(self, keep_state: bool) -> Inventory:
        """The same list with the state bucket and lock table kept or removed: the choice
        `server destroy --keep-state` makes, and the Server screen's confirmation."""
        every = sorted([*self.remove, *self.keep], key=_order)
        keep = [t for t in every if keep_state and t.step == "state"]
        return Inventory(
            [t for t in every if t not in keep], keep, list(self.problems), list(self.unowned)
        )

    def databases(self, project: str) -> list[str]:
        """The names of the databases whose data this removes (a volume per restore)."""
        names = {database_of(t.found) for t in self.remove if t.kind == DATABASE_VOLUME}
        return sorted(name for name in names if name)

    def managed_databases(self, project: str) -> list[str]:
        """The names of the managed databases (RDS, Cloud SQL) this removes: Terraform's
        (its address names them) and those found by their tag alone (their identifier
        does)."""
        from pilot_tui.data.managed import names_in

        terraform = [t.name for t in self.remove if t.kind == "Terraform resource"]
        names = set(names_in(terraform))
        for thing in self.remove:
            if thing.kind == "RDS database":
                names.add(thing.name.removeprefix(f"pilot-{project}-"))
            elif thing.kind == CLOUD_SQL_INSTANCE:
                names.add(cloud_sql_database(thing.found))
        return sorted(names)

    def unowned_lines(self) -> list[str]:
        """Each thing left alone, why, and how its owner can remove it."""
        return [
            f"Kept, not Pilot's to remove: S3 bucket {t.name} ({t.found}). If it is "
            f"this project's, remove it yourself: aws s3 rb s3://{t.name} --force "
            "(a versioned bucket needs every object version deleted first)"
            for t in self.unowned
        ]

    def by_step(self) -> list[tuple[str, list[Thing]]]:
        return [
            (step, [t for t in self.remove if t.step == step])
            for step in STEPS
            if any(t.step == step for t in self.remove)
        ]


def inventory(
    found: Iterable[Thing],
    planned: Iterable[str],
    state_ids: dict[str, str],
    *,
    keep_state: bool,
    problems: Iterable[str] = (),
) -> Inventory:
    """The ordered list of what goes: ``found`` by a scan, ``planned`` the addresses of
    Terraform's destroy plan, ``state_ids`` {address: id} of its state (a resource found by
    its tag whose id Terraform holds is Terraform's to remove, listed once)."""
    terraform = [Thing("Terraform resource", address, "Terraform state") for address in planned]
    held = set(state_ids.values()) - {""}
    # The server's own IAM role is found by its name too (with the deployer's identity):
    # Terraform's, listed once.
    rest = [
        t
        for t in found
        if not (t.step == "server" and held & set(t.name.split()))
        and not (t.kind == "IAM role" and t.name in held)
    ]
    rest = [
        t
        if t.step != "server"
        else Thing(t.kind, t.name, f"{t.found}; not in Terraform state", t.app, t.target)
        for t in rest
    ]
    everything = sorted(_unique([*rest, *terraform]), key=_order)
    keep = [t for t in everything if keep_state and t.step == "state"]
    unowned = [t for t in everything if t.kind == UNOWNED_BUCKET]
    return Inventory(
        [t for t in everything if t not in keep and t not in unowned],
        keep,
        list(problems),
        unowned,
    )


def _order(thing: Thing) -> tuple[int, str, str, str]:
    return (STEPS.index(thing.step), thing.app, thing.kind, thing.name)


def _unique(things: list[Thing]) -> list[Thing]:
    seen: set[tuple[str, str]] = set()
    out = []
    for thing in things:
        if (thing.kind, thing.name) not in seen:
            seen.add((thing.kind, thing.name))
            out.append(thing)
    return out


def databases_at_stake(inv: Inventory, config: PilotConfig, server_goes: bool) -> list[str]:
    """The databases whose data a destroy removes: their volumes it found on the Docker
    host, and, when the Pilot Server itself goes (aws, gcp: its disk goes with it), every
    database pilot.toml puts on it. Each must be named before anything is removed."""
    at_stake = set(inv.databases(config.project.name))
    if server_goes and config.server.home in ("aws", "gcp"):
        at_stake |= {db.name for db in config.databases}
    if server_goes:  # RDS and Cloud SQL go with the server's network (the sandbox's too)
        at_stake |= {db.name for db in config.managed_databases()}
    at_stake |= set(inv.managed_databases(config.project.name))  # in pilot.toml or not
    return sorted(at_stake)
