"""Known cloud regions (as of 2026-11) and machine-type shapes.

A region that is not listed but has the right shape only draws a warning, so a region
launched after this table was written still works.
"""

from __future__ import annotations

import re

AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "af-south-1",
    "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-south-2", "eu-north-1",
    "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
)  # fmt: skip

GCP_REGIONS = (
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
    "us-west1", "us-west2", "us-west3", "us-west4",
    "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
    "southamerica-east1", "southamerica-west1",
    "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6",
    "europe-west8", "europe-west9", "europe-west10", "europe-west12",
    "europe-north1", "europe-north2", "europe-central2", "europe-southwest1",
    "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
    "australia-southeast1", "australia-southeast2",
    "me-central1", "me-central2", "me-west1", "africa-south1",
)  # fmt: skip

REGIONS = {"aws": AWS_REGIONS, "gcp": GCP_REGIONS}
CLOUD_NAMES = {"aws": "AWS", "gcp": "GCP"}
REGION_SHAPES = {
    "aws": re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"),
    "gcp": re.compile(r"^[a-z]+-[a-z]+[0-9]+$"),
}
SIZE_SHAPES = {
    # t3.small, m7g.large, c6in.2xlarge
    "aws": re.compile(r"^[a-z][a-z0-9-]*\.[0-9]*[a-z]+$"),
    # e2-small, n2-standard-4, custom-2-4096
    "gcp": re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$"),
}
SIZE_EXAMPLES = {"aws": "t3.small", "gcp": "e2-small"}


def region_cloud(region: str) -> str | None:
    """Which cloud a region name belongs to, by the table or by its shape."""
    for cloud, names in REGIONS.items():
        if region in names:
            return cloud
    for cloud, shape in REGION_SHAPES.items():
        if shape.match(region):
            return cloud
    return None


def size_cloud(size: str) -> str | None:
    """Which cloud a machine type name looks like it belongs to."""
    for cloud, shape in SIZE_SHAPES.items():
        if shape.match(size):
            return cloud
    return None
