"""Remote state: Pilot creates the S3 bucket + lock table (against the sandbox's local AWS
API) and the GCS bucket (against the GCS emulator), idempotently; Terraform then keeps its
state in the S3 bucket for real."""

from __future__ import annotations

import json

import boto3
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.provision import backends
from tests.conftest import run_pilot


@pytest.fixture
def emulators(tmp_path):
    sandbox = Sandbox(tmp_path)
    running, _ = sandbox.ensure()
    yield running
    sandbox.stop()


def aws(service, url):
    return boto3.client(
        service,
        region_name="eu-west-1",
        endpoint_url=url,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def test_s3_backend_is_created_once_with_safe_settings(emulators):
    url = emulators["aws"].url
    s3, ddb = aws("s3", url), aws("dynamodb", url)
    first = backends.ensure_s3(s3, ddb, "pilot-state-acme", "pilot-state-acme-lock", "eu-west-1")
    assert first == [
        "created bucket pilot-state-acme",
        "bucket pilot-state-acme aborts unfinished uploads after a day",
        "created lock table pilot-state-acme-lock",
    ]
    # A rule of the team's own is kept beside Pilot's.
    (pilots,) = s3.get_bucket_lifecycle_configuration(Bucket="pilot-state-acme")["Rules"]
    theirs = {
        "ID": "team-expire-old-versions",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket="pilot-state-acme", LifecycleConfiguration={"Rules": [theirs]}
    )
    second = backends.ensure_s3(s3, ddb, "pilot-state-acme", "pilot-state-acme-lock", "eu-west-1")
    assert second == ["bucket pilot-state-acme aborts unfinished uploads after a day"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket="pilot-state-acme")["Rules"]
    assert [r["ID"] for r in rules] == ["team-expire-old-versions", pilots["ID"]]
    third = backends.ensure_s3(s3, ddb, "pilot-state-acme", "pilot-state-acme-lock", "eu-west-1")
    assert third == []
    assert s3.get_bucket_versioning(Bucket="pilot-state-acme")["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket="pilot-state-acme")["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket="pilot-state-acme")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert pilots["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    table = ddb.describe_table(TableName="pilot-state-acme-lock")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert len(s3.list_buckets()["Buckets"]) == 1


def test_gcs_backend_is_created_once_versioned_and_uniform(emulators):
    client = storage.Client(
        project="sandbox",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulators["gcs"].url},
    )
    first = backends.ensure_gcs(client, "pilot-state-acme", "US-CENTRAL1")
    # The emulator ignores settings given at creation, so the repair step applies them:
    # the same path that fixes a bucket someone changed by hand.
    assert first[0] == "created bucket pilot-state-acme"
    assert backends.ensure_gcs(client, "pilot-state-acme", "US-CENTRAL1") == []
    bucket = client.get_bucket("pilot-state-acme")
    assert bucket.versioning_enabled
    assert bucket.iam_configuration.uniform_bucket_level_access_enabled
    assert [b.name for b in client.list_buckets()] == ["pilot-state-acme"]


def test_terraform_keeps_state_in_the_s3_bucket_and_destroy_removes_it_last(sandbox_project):
    """One apply for both halves (an apply is most of this test's time): the state lives in
    the bucket; then `server destroy` finishes and says nothing remains. With state.backend =
    "s3" the state bucket goes last; reading Terraform's state from it afterwards failed
    ("show failed"), so a destroy that had removed everything exited 1 and left the
    emulators running (found reviewing the change)."""
    project = sandbox_project
    assert run_pilot("config", "set", "state.backend", "s3", cwd=project).returncode == 0
    up = run_pilot("server", "up", "--yes", cwd=project, timeout=300)
    assert up.returncode == 0, up.stderr
    assert "created bucket pilot-state-acme" in up.stderr
    sandbox = json.loads((project / ".pilot/sandbox.json").read_text())
    s3 = aws("s3", f"http://127.0.0.1:{sandbox['aws']['port']}")
    body = s3.get_object(Bucket="pilot-state-acme", Key=backends.STATE_KEY)["Body"].read()
    state = json.loads(body)
    assert any(r["type"] == "aws_instance" for r in state["resources"])
    assert not (project / ".pilot/terraform/sandbox/terraform.tfstate").exists()
    again = run_pilot("server", "plan", "--json", cwd=project)  # bucket exists: reused
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changes"] == []
    assert "created bucket" not in again.stderr

    gone = run_pilot("server", "destroy", "--yes", cwd=project, timeout=300)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "What remains: nothing." in gone.stdout
    assert "state bucket pilot-state-acme" in gone.stdout  # listed, then removed
    assert not Sandbox(project / ".pilot").running()
    # Found walking: `server status` then failed with Terraform's "Error loading state"
    # (its backend was the stopped emulator's): nothing is provisioned, and it says so.
    status = run_pilot("server", "status", cwd=project, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "server: not provisioned (0 resources in state)" in status.stdout

    # Found walking: the next plan starts the emulators on new ports, but Terraform's saved
    # backend named the old one, and init, moving the state away from it, failed for good
    # ("connection refused"). That bucket went with its emulator: nothing to move.
    after = run_pilot("server", "plan", cwd=project, timeout=300)
    assert after.returncode == 0, after.stderr
    assert "went with the sandbox's emulator" in after.stdout + after.stderr
    assert "aws_instance.server" in after.stdout  # to create again: the old one went too
    # ...and so did going back to local state once they had stopped again
    assert run_pilot("sandbox", "stop", cwd=project).returncode == 0
    assert run_pilot("config", "set", "state.backend", "local", cwd=project).returncode == 0
    local = run_pilot("server", "plan", "--json", cwd=project, timeout=300)
    assert local.returncode == 0, local.stderr
    assert any(c["action"] == "create" for c in json.loads(local.stdout)["changes"])
