"""The monthly estimate, as data: the machine plus what the templates attach to it (the
root disk and the public IPv4 address), from the dated table shipped with Pilot."""

from __future__ import annotations

import re

import pytest

from pilot_tui import prices
from tests.support.paths import REPO

TEMPLATES = REPO / "terraform"


def test_aws_counts_the_disk_and_the_public_address():
    est = prices.estimate("aws", "t3.small")
    assert [(i.what, i.monthly) for i in est.items] == [
        ("t3.small", 15.18),
        ("30 GB gp3 disk", 2.40),
        ("public IPv4 address", 3.65),
    ]
    assert est.total == 21.23
    # The machine alone understated the server by about 28%.
    assert 1 - 15.18 / est.total == pytest.approx(0.285, abs=0.005)


def test_gcp_counts_its_boot_disk_and_external_address():
    est = prices.estimate("gcp", "e2-small")
    assert [(i.what, i.monthly) for i in est.items] == [
        ("e2-small", 12.23),
        ("30 GB pd-standard disk", 1.20),
        ("public IPv4 address", 3.65),
    ]
    assert est.total == 17.08


def test_sandbox_costs_nothing_but_says_what_aws_would():
    est = prices.estimate("sandbox", "t3.small")
    assert est.sandbox and est.cloud == "aws" and est.total == 21.23
    assert est.text().startswith(
        "Estimated cost: nothing in the sandbox; on AWS the same server is ~$21.23/month"
    )


def test_a_size_not_in_the_table_has_no_total_but_keeps_the_rest():
    est = prices.estimate("aws", "t3.bogus")
    assert est.total is None
    assert "t3.bogus is not in Pilot's price table" in est.text()
    assert est.as_json()["monthly"] is None
    assert est.as_json()["items"][1] == {"what": "30 GB gp3 disk", "monthly": 2.40}


def test_the_templates_still_attach_what_the_estimate_counts():
    aws = (TEMPLATES / "aws" / "main.tf").read_text()
    assert re.search(r"volume_size\s*=\s*30\b", aws) and re.search(r'volume_type\s*=\s*"gp3"', aws)
    assert re.search(r"map_public_ip_on_launch\s*=\s*true", aws)  # a public IPv4 address
    gcp = (TEMPLATES / "gcp" / "main.tf").read_text()
    assert re.search(r"size\s*=\s*30\b", gcp) and "disk_type" not in gcp  # pd-standard
    assert 'resource "google_compute_address" "server"' in gcp
    assert prices.ROOT_DISK_GB == 30
