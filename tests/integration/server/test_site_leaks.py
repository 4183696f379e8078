"""A static site deployed by the real `pilot-tui` to the sandbox's S3 (moto) publishes only
its own files: a link out of its folder is skipped and named (issue 11, item 2), and the
manifests Pilot keeps in the bucket cannot be read through CloudFront (item 23)."""

from __future__ import annotations

import fnmatch
import json
import os

from tests.conftest import run_pilot
from tests.support.server_fixtures import sandbox_state

CREDENTIALS = "aws_secret_access_key = LEAKED-7c1f0e"


def _s3(project):
    import boto3

    port = sandbox_state(project)["aws"]["port"]
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def _cloudfront_may_read(policy: dict, bucket: str, key: str, distribution_arn: str) -> bool:
    """The bucket policy evaluated as data for CloudFront (through Origin Access Control)
    reading ``key`` for ``distribution_arn``: moto does not enforce bucket policies."""
    allowed = False
    for statement in policy["Statement"]:
        if statement.get("Principal") != {"Service": "cloudfront.amazonaws.com"}:
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        negated = "NotResource" in statement
        resources = statement["NotResource" if negated else "Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        named = any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", r) for r in resources)
        condition = statement.get("Condition", {})
        assert set(condition) <= {"StringEquals"}  # the only kind this evaluator knows
        if not (
            any(fnmatch.fnmatchcase("s3:GetObject", a) for a in actions)
            and named != negated
            and condition.get("StringEquals", {}).get("AWS:SourceArn", distribution_arn)
            == distribution_arn
        ):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _bucket(project) -> dict[str, bytes]:
    """Every object of the site's bucket: key -> body."""
    s3 = _s3(project)
    bucket = "pilot-acme-docs-site"
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    }


def test_a_link_out_of_the_site_folder_is_skipped_and_named(sandbox_project, tmp_path):
    project = sandbox_project
    outside = tmp_path / "home" / ".aws"
    outside.mkdir(parents=True)
    (outside / "credentials").write_text(CREDENTIALS)
    site = project / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>docs</h1>")
    os.symlink(outside / "credentials", site / "leak.txt")
    os.symlink(outside, site / "aws")  # a folder out of the project
    os.symlink("index.html", site / "home.html")  # inside the folder: published
    (site / "admin").mkdir()
    (site / "admin" / "server.py").write_text("SECRET_KEY = 'x'\n")  # item 29: a source
    added = run_pilot(
        "app",
        "new",
        "--path",
        "site",
        "--name",
        "docs",
        "--target",
        "s3-cloudfront",
        "--yes",
        cwd=project,
    )
    assert added.returncode == 0, added.stderr

    deployed = run_pilot("deploy", "docs", cwd=project)
    assert deployed.returncode == 0, deployed.stderr
    objects = _bucket(project)
    assert {"index.html", "home.html"} <= set(objects)
    assert "leak.txt" not in objects and not [key for key in objects if key.startswith("aws")]
    # What CloudFront may serve is the site and nothing else: Pilot's manifests (the files'
    # versions, kept for rollback) are denied to it by the bucket policy.
    s3 = _s3(project)
    bucket = "pilot-acme-docs-site"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    import boto3

    cloudfront = boto3.client(
        "cloudfront",
        region_name="us-east-1",
        endpoint_url=s3.meta.endpoint_url,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )
    (distribution,) = [
        d
        for d in cloudfront.list_distributions()["DistributionList"]["Items"]
        if d["Comment"] == f"pilot {bucket}"
    ]
    served = {
        key for key in objects if _cloudfront_may_read(policy, bucket, key, distribution["ARN"])
    }
    assert served == {"index.html", "home.html"}
    assert {".pilot/manifest.json", ".pilot/releases/v1.json"} <= set(objects)  # kept
    assert not [key for key, body in objects.items() if b"LEAKED" in body]
    assert f"warning: skipped leak.txt: a link to {outside / 'credentials'}" in deployed.stderr
    assert f"warning: skipped aws: a link to {outside}" in deployed.stderr
    assert "admin/server.py" not in objects
    assert "warning: skipped admin/server.py: python source" in deployed.stderr
