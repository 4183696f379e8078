"""Static sites against the local AWS API (moto: S3 + CloudFront) and the GCS emulator, with
real boto3 / google-cloud-storage calls: private bucket, content types, unchanged files not
uploaded again, invalidation of what changed, nothing left after destroy."""

from __future__ import annotations

import json

import pytest

from pilot_tui.cloud.clients import emulator_aws, emulator_gcs
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.deploy.build.site_files import plan, scan
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite, cdn_requests
from pilot_tui.deploy.targets.s3_site.bucket import MANIFEST, S3Site


@pytest.fixture(scope="module")
def emulators(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("emulators"))
    running, _ = sandbox.ensure()
    yield running
    sandbox.stop()


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><h1>hi</h1>")
    (root / "assets" / "app.3f2a9c1d.js").write_text("console.log(1)")
    (root / "assets" / "style.css").write_text("h1{color:red}")
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "data.json").write_text("{}")
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / ".env").write_text("SECRET=1")  # hidden files are never published
    return root


@pytest.mark.slow
def test_s3_cloudfront_site(emulators, site):
    session = emulator_aws("eu-west-1").session
    url = emulators["aws"].url
    s3, cloudfront = (
        session.client("s3", endpoint_url=url),
        session.client("cloudfront", endpoint_url=url),
    )
    target = S3Site(s3, cloudfront, "pilot-acme-docs-site", "eu-west-1", "acme")
    assert target.ensure_bucket() is True
    assert target.ensure_bucket() is False  # idempotent
    block = s3.get_public_access_block(Bucket=target.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())  # private: only CloudFront reads it

    local = scan(site)
    changes = plan(local, target.remote())
    assert len(changes.upload) == 6 and changes.unchanged == 0
    target.apply(changes, local)
    types = {
        k: s3.head_object(Bucket=target.bucket, Key=k)["ContentType"]
        for k in (
            "index.html",
            "assets/app.3f2a9c1d.js",
            "assets/style.css",
            "logo.svg",
            "data.json",
            "img.png",
        )
    }
    assert types == {
        "index.html": "text/html; charset=utf-8",
        "assets/app.3f2a9c1d.js": "text/javascript; charset=utf-8",
        "assets/style.css": "text/css; charset=utf-8",
        "logo.svg": "image/svg+xml; charset=utf-8",
        "data.json": "application/json; charset=utf-8",
        "img.png": "image/png",
    }
    head = s3.head_object(Bucket=target.bucket, Key="assets/app.3f2a9c1d.js")
    assert "immutable" in head["CacheControl"]
    assert s3.head_object(Bucket=target.bucket, Key="index.html")["CacheControl"] == "no-cache"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=target.bucket)["Contents"]}
    assert ".env" not in keys and MANIFEST in keys

    dist_id, domain = target.ensure_distribution()
    assert domain.endswith(".cloudfront.net")
    assert target.ensure_distribution()[0] == dist_id  # found again, not duplicated
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["Origins"]["Items"][0]["DomainName"].startswith(target.bucket + ".s3.")
    # moto does not echo OriginAccessControlId back in the config: check the OAC itself.
    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [o["Name"] for o in oacs] == [f"{target.bucket}-oac"]
    policy = json.loads(s3.get_bucket_policy(Bucket=target.bucket)["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(dist_id)

    again = plan(scan(site), target.remote())
    assert again.upload == [] and again.delete == [] and again.bytes == 0  # nothing to send
    assert target.invalidate(dist_id, again) is None

    (site / "index.html").write_text("<!doctype html><h1>hello</h1>")
    (site / "data.json").unlink()
    local = scan(site)
    changed = plan(local, target.remote())
    assert [f.key for f in changed.upload] == ["index.html"] and changed.delete == ["data.json"]
    target.apply(changed, local)
    invalidation = target.invalidate(dist_id, changed)
    made = cloudfront.get_invalidation(DistributionId=dist_id, Id=invalidation)["Invalidation"]
    assert sorted(made["InvalidationBatch"]["Paths"]["Items"]) == ["/", "/data.json", "/index.html"]

    done = target.destroy()
    assert any("deleted bucket" in d for d in done)
    assert target.bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    listed = cloudfront.list_distributions()["DistributionList"].get("Items") or []
    assert [d for d in listed if d["Comment"] == target.comment()] == []


def test_gcs_site(emulators, site):
    client = emulator_gcs(emulators["gcs"].url)
    target = GcsSite(client, "pilot-acme-docs-site", "US")
    assert target.ensure_bucket() is True and target.ensure_bucket() is False
    local = scan(site)
    first = plan(local, target.remote())
    target.apply(first)
    blobs = {b.name: b for b in client.list_blobs(target.bucket)}
    assert set(blobs) == {f.key for f in local}
    # The emulator keeps the type but drops "; charset=utf-8" (real GCS keeps it).
    assert blobs["assets/app.3f2a9c1d.js"].content_type.startswith("text/javascript")
    assert blobs["logo.svg"].content_type.startswith("image/svg+xml")
    assert blobs["index.html"].cache_control == "no-cache"
    again = plan(scan(site), target.remote())
    assert again.upload == [] and again.bytes == 0  # an unchanged redeploy uploads nothing
    (site / "logo.svg").unlink()
    changed = plan(scan(site), target.remote())
    assert changed.delete == ["logo.svg"] and changed.upload == []
    target.apply(changed)
    assert target.destroy() == [f"deleted gs://{target.bucket}"]


def test_cloud_cdn_requests_as_data():
    # Cloud CDN has no emulator here: the Compute API requests are checked as data.
    plain = cdn_requests("acme-prod", "pilot-acme-docs", "pilot-acme-docs-site", None)
    assert [c["method"] for c in plain] == [
        "backendBuckets.insert",
        "urlMaps.insert",
        "globalAddresses.insert",
        "targetHttpProxies.insert",
        "globalForwardingRules.insert",
    ]
    assert plain[0]["body"]["enableCdn"] is True
    secure = cdn_requests(
        "acme-prod", "pilot-acme-docs", "pilot-acme-docs-site", "docs.acme.example"
    )
    cert = next(c for c in secure if c["method"] == "sslCertificates.insert")
    assert cert["body"]["managed"]["domains"] == ["docs.acme.example"]
    assert secure[-1]["body"]["portRange"] == "443"


@pytest.mark.slow
def test_deploy_a_static_site_to_s3_cloudfront_from_the_cli_in_the_sandbox(tmp_path):
    from tests.conftest import run_pilot

    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    (tmp_path / "site" / "app.js").write_text("console.log(1)")
    try:
        added = run_pilot("app", "new", "--path", "site", "--name", "docs", cwd=tmp_path)
        assert added.returncode == 0 and "target s3-cloudfront" in added.stderr
        first = run_pilot("deploy", "docs", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        name, release, url = first.stdout.strip().split("\t")
        # The address that answers on this machine; the simulated CDN only on stderr.
        assert (
            (name, release) == ("docs", "v1")
            and url.endswith("/pilot-acme-docs-site/index.html")
            and url.startswith("http://127.0.0.1:")
        )
        assert ".cloudfront.net/)" in first.stderr and "(simulated: https://" in first.stderr
        assert "created s3://pilot-acme-docs-site (private)" in first.stderr
        assert "2 uploaded" in first.stderr  # progress on stderr, the result on stdout
        assert "the sandbox's cloud is simulated on this machine" in first.stderr
        again = run_pilot("deploy", "docs", cwd=tmp_path)
        assert (
            again.returncode == 0
            and "0 uploaded (0 bytes), 0 deleted, 2 unchanged" in again.stderr
            and "nothing changed: v1 is live" in again.stderr
        )
        (tmp_path / "site" / "app.js").write_text("console.log(2)")
        changed = run_pilot("deploy", "docs", cwd=tmp_path)
        assert changed.returncode == 0 and "1 uploaded" in changed.stderr
        rollback = run_pilot("rollback", "docs", cwd=tmp_path)
        assert rollback.returncode == 0, rollback.stderr
        # v1 (the unchanged redeploy recorded no v2): copied back inside the bucket
        assert "rollback to v1" in rollback.stdout
        s3 = emulator_aws("us-east-1").session.client(
            "s3", endpoint_url=Sandbox(tmp_path / ".pilot").running()["aws"].url
        )
        body = s3.get_object(Bucket="pilot-acme-docs-site", Key="app.js")["Body"].read()
        assert body == b"console.log(1)"
        gone = run_pilot("app", "destroy", "docs", "--yes", cwd=tmp_path)
        assert gone.returncode == 0 and "deleted bucket pilot-acme-docs-site" in gone.stderr
    finally:
        Sandbox(tmp_path / ".pilot").stop()


@pytest.mark.slow
def test_an_unchanged_site_redeploy_records_no_new_release(tmp_path):
    """As on the other targets: nothing uploaded, nothing deleted, the same settings is no
    new release (nor a new manifest in the bucket)."""
    from tests.conftest import run_pilot

    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<h1>docs</h1>")
    assert run_pilot("app", "new", "--path", "docs", "--name", "docs", cwd=tmp_path).returncode == 0
    try:
        first = run_pilot("deploy", "docs", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        again = run_pilot("deploy", "docs", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "nothing changed: v1 is live" in again.stderr
        assert again.stdout.strip().split("\t")[:2] == ["docs", "v1"]
        released = run_pilot("releases", "docs", "--json", cwd=tmp_path)
        assert [r["id"] for r in json.loads(released.stdout)] == ["v1"]
        s3 = emulator_aws("us-east-1").session.client(
            "s3", endpoint_url=Sandbox(tmp_path / ".pilot").running()["aws"].url
        )
        versions = s3.list_object_versions(Bucket="pilot-acme-docs-site", Prefix=MANIFEST)
        assert len(versions["Versions"]) == 1  # the manifest was not written again
        # A changed file is a new release; --force releases the same files again; so does
        # a changed setting with the same files.
        (tmp_path / "docs" / "index.html").write_text("<h1>docs, changed</h1>")
        changed = run_pilot("deploy", "docs", cwd=tmp_path)
        assert changed.returncode == 0 and changed.stdout.split("\t")[1] == "v2"
        forced = run_pilot("deploy", "docs", "--force", cwd=tmp_path)
        assert forced.returncode == 0 and forced.stdout.split("\t")[1] == "v3"
        released = run_pilot("releases", "docs", "--json", cwd=tmp_path)
        assert (
            run_pilot(
                "config", "set", "apps.docs.target.domain", '"docs.example.com"', cwd=tmp_path
            ).returncode
            == 0
        )
        renamed = run_pilot("deploy", "docs", cwd=tmp_path)
        assert renamed.returncode == 0 and renamed.stdout.split("\t")[1] == "v4"
        released = run_pilot("releases", "docs", "--json", cwd=tmp_path)
        assert [r["id"] for r in json.loads(released.stdout)] == ["v1", "v2", "v3", "v4"]
    finally:
        Sandbox(tmp_path / ".pilot").stop()


@pytest.mark.slow
async def test_deploy_a_site_from_the_app_in_the_sandbox(tmp_path):
    """From the Apps screen, as a person would: `d` uploads the site to the sandbox's S3 and
    the result offers no app logs (a static site writes none)."""
    from textual.widgets import DataTable

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.deploy import DeployScreen
    from tests.conftest import run_pilot
    from tests.integration.deploy.test_tui_deploy import text, until

    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    for name in ("blog", "docs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(f"<h1>{name}</h1>")
        assert run_pilot("app", "new", "--path", name, "--name", name, cwd=tmp_path).returncode == 0
    app = create_app(str(tmp_path / "pilot.toml"))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("a", "down", "d")
            screen = app.screen
            assert isinstance(screen, DeployScreen) and screen.app_name == "docs"
            assert await until(pilot, lambda: "is live" in text(screen, "#deploy-result"))
            result = text(screen, "#deploy-result")
            assert ".cloudfront.net/" in result and "follows its logs" not in result
            await pilot.press("escape")
            apps = app.screen.query_one("#app-list", DataTable)
            assert apps.cursor_row == 1  # back on docs, not the first app: r rolls it back
    finally:
        Sandbox(tmp_path / ".pilot").stop()
