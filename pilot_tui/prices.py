"""What the Pilot Server costs a month, from a dated price table shipped with Pilot.

On-demand Linux list prices, 730 hours a month, in us-east-1 (AWS) and us-central1 (GCP);
other regions differ by a few percent. The screens and `server plan` say how old the table
is. :func:`estimate` is the one place the monthly figure is worked out: the machine plus
what the templates attach to it (the root disk and the public IPv4 address), which together
cost about 40% on top of a small machine.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2025-01"
SOURCE = "list prices, on-demand Linux, us-east-1 / us-central1, 730 h/month"
HOURS = 730

SIZES: dict[str, tuple[tuple[str, float], ...]] = {
    "aws": (
        ("t3.micro", 7.59),
        ("t3.small", 15.18),
        ("t3.medium", 30.37),
        ("t3.large", 60.74),
        ("m7i.large", 73.58),
    ),
    "gcp": (
        ("e2-micro", 6.11),
        ("e2-small", 12.23),
        ("e2-medium", 24.46),
        ("e2-standard-2", 48.92),
        ("e2-standard-4", 97.83),
    ),
}
# What terraform/aws and terraform/gcp give the server besides the machine (a test checks
# the templates still say so).
ROOT_DISK_GB = 30
DISK = {"aws": ("gp3", 0.08), "gcp": ("pd-standard", 0.04)}  # type, $ per GB-month
# AWS charges every public IPv4 address (since 2024-02); GCP an external IPv4 address in use
# by a standard VM.
PUBLIC_IPV4_HOURLY = {"aws": 0.005, "gcp": 0.005}


# RDS PostgreSQL, single-AZ, on-demand: $ per month; its gp3 storage per GB-month. Backups
# up to the database's own size are free.
RDS_CLASSES: dict[str, float] = {
    "db.t4g.micro": 11.68,
    "db.t4g.small": 23.36,
    "db.t4g.medium": 47.45,
    "db.t3.micro": 13.14,
    "db.t3.small": 26.28,
    "db.m7g.large": 122.64,
}
RDS_STORAGE_GB = 0.115
# Cloud SQL for PostgreSQL, Enterprise edition, zonal, us-central1: the shared-core tiers
# by the month, a custom tier by its vCPUs and memory by the hour; SSD storage per GB-month.
CLOUD_SQL_TIERS: dict[str, float] = {"db-f1-micro": 7.67, "db-g1-small": 25.55}
CLOUD_SQL_VCPU_HOURLY = 0.0413
CLOUD_SQL_GB_HOURLY = 0.007
CLOUD_SQL_STORAGE_GB = 0.17


def monthly(cloud: str, size: str) -> float | None:
    """The table's monthly price of ``size`` on ``cloud`` (None when not in the table)."""
    return dict(SIZES.get(cloud, ())).get(size)


def label(cloud: str, size: str) -> str:
    """A size as the Server form lists it, with the same monthly figure `server plan` shows
    (machine, disk and address: the machine alone understates it by about 40%)."""
    total = estimate(cloud, size).total
    return f"{size}  ~${total:,.2f}/month" if total is not None else size


EXTRAS = f"machine + {ROOT_DISK_GB} GB disk + public IPv4"


@dataclass(frozen=True)
class Item:
    what: str
    monthly: float | None  # None: not in the table


@dataclass(frozen=True)
class Estimate:
    """The monthly cost of one Pilot Server, item by item."""

    cloud: str  # aws | gcp: the prices used (the sandbox runs the aws template)
    size: str
    items: tuple[Item, ...]
    sandbox: bool = False

    @property
    def total(self) -> float | None:
        """The sum, or None when an item is not in the table."""
        if any(item.monthly is None for item in self.items):
            return None
        return round(sum(item.monthly or 0.0 for item in self.items), 2)

    def text(self) -> str:
        """One line for people."""
        parts = " + ".join(
            f"{i.what} "
            + (f"${i.monthly:,.2f}" if i.monthly is not None else "(not in Pilot's price table)")
            for i in self.items
        )
        when = f"list prices as of {AS_OF}"
        if self.total is None:
            unknown = " and ".join(i.what for i in self.items if i.monthly is None)
            total = f"{unknown} is not in Pilot's price table; the rest: {parts}"
        else:
            total = f"~${self.total:,.2f}/month ({parts}; {when})"
        if self.sandbox:
            return f"Estimated cost: nothing in the sandbox; on AWS the same server is {total}."
        return f"Estimated cost: {total}."

    def as_json(self) -> dict[str, object]:
        return {
            "currency": "USD",
            "monthly": self.total,
            "as_of": AS_OF,
            "source": SOURCE,
            "cloud": self.cloud,
            "size": self.size,
            "sandbox": self.sandbox,
            "items": [{"what": i.what, "monthly": i.monthly} for i in self.items],
        }


def cloud_sql_tier(tier: str) -> float | None:
    """The monthly price of a Cloud SQL tier: the table's, or a custom one's
    (db-custom-VCPUS-MEMORY_MB) from its parts; None when neither."""
    if tier in CLOUD_SQL_TIERS:
        return CLOUD_SQL_TIERS[tier]
    parts = tier.split("-")
    if len(parts) == 4 and parts[:2] == ["db", "custom"] and all(p.isdigit() for p in parts[2:]):
        vcpus, memory_gb = int(parts[2]), int(parts[3]) / 1024
        return round((vcpus * CLOUD_SQL_VCPU_HOURLY + memory_gb * CLOUD_SQL_GB_HOURLY) * HOURS, 2)
    return None


def estimate(home: str, size: str, databases: tuple[tuple[str, str, int], ...] = ()) -> Estimate:
    """The monthly cost of a Pilot Server of ``size`` with home ``home``, and of its managed
    ``databases`` (name, instance class or tier, storage GB): RDS beside a server on AWS,
    Cloud SQL beside one on Google Cloud."""
    cloud = "gcp" if home == "gcp" else "aws"
    disk_type, per_gb = DISK[cloud]
    items = [
        Item(size, monthly(cloud, size)),
        Item(f"{ROOT_DISK_GB} GB {disk_type} disk", round(ROOT_DISK_GB * per_gb, 2)),
        Item("public IPv4 address", round(PUBLIC_IPV4_HOURLY[cloud] * HOURS, 2)),
    ]
    for name, instance, storage in databases:
        if cloud == "gcp":
            items += [
                Item(f"Cloud SQL {name} {instance}", cloud_sql_tier(instance)),
                Item(f"Cloud SQL {name} {storage} GB", round(storage * CLOUD_SQL_STORAGE_GB, 2)),
            ]
            continue
        items += [
            Item(f"RDS {name} {instance}", RDS_CLASSES.get(instance)),
            Item(f"RDS {name} {storage} GB", round(storage * RDS_STORAGE_GB, 2)),
        ]
    return Estimate(cloud, size, tuple(items), sandbox=home == "sandbox")
