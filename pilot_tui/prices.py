"""Monthly prices of the server sizes Pilot offers, from a dated table shipped with Pilot.

On-demand Linux list prices, 730 hours a month, in us-east-1 (AWS) and us-central1 (GCP);
other regions differ by a few percent. The screens say how old the table is.
"""

from __future__ import annotations

AS_OF = "2025-01"
SOURCE = "list prices, on-demand Linux, us-east-1 / us-central1, 730 h/month"

SIZES: dict[str, tuple[tuple[str, float], ...]] = {
    "aws": (("t3.micro", 7.59), ("t3.small", 15.18), ("t3.medium", 30.37),
            ("t3.large", 60.74), ("m7i.large", 73.58)),
    "gcp": (("e2-micro", 6.11), ("e2-small", 12.23), ("e2-medium", 24.46),
            ("e2-standard-2", 48.92), ("e2-standard-4", 97.83)),
}


def monthly(cloud: str, size: str) -> float | None:
    """The table's monthly price of ``size`` on ``cloud`` (None when not in the table)."""
    return dict(SIZES.get(cloud, ())).get(size)


def label(cloud: str, size: str) -> str:
    price = monthly(cloud, size)
    return f"{size}  ~${price:,.2f}/month" if price is not None else size
