"""What `server destroy` lists, as data: a thing a scan finds that Terraform's state holds
is listed once, as Terraform's."""

from __future__ import annotations

from pilot_tui.teardown.things import Thing, inventory


def test_the_servers_iam_role_is_listed_once_as_terraforms():
    """Found walking the app: "IAM role pilot-acme-server" was listed under the deployer's
    identity and again as aws_iam_role.server[0], and counted twice."""
    found = [
        Thing("IAM role", "pilot-acme-server", "name pilot-acme-*"),
        Thing("IAM role", "pilot-acme-github", "name pilot-acme-*"),  # not Terraform's
        Thing("IAM user", "pilot-acme-deployer", "name pilot-acme-*"),
    ]
    held = {"aws_iam_role.server[0]": "pilot-acme-server", "aws_vpc.pilot": "vpc-1"}
    inv = inventory(found, list(held), held, keep_state=False)
    listed = [(t.kind, t.name) for t in inv.remove]
    assert ("IAM role", "pilot-acme-server") not in listed
    assert ("Terraform resource", "aws_iam_role.server[0]") in listed
    assert ("IAM role", "pilot-acme-github") in listed
    assert ("IAM user", "pilot-acme-deployer") in listed
    assert len(listed) == 4  # (it was counted twice: 5)
