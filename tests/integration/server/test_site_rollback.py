"""Rolling a static site on S3 + CloudFront back and forward against the local AWS API (moto),
with real boto3 calls: the bucket is versioned, each release's manifest is kept in it, and a
rollback copies the differing files from their recorded versions (no upload)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from pilot_tui.cloud import clients
from pilot_tui.cloud.clients import Aws, emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.schema import AppSettings, S3CloudFrontTarget, StaticBuild
from pilot_tui.deploy import history
from pilot_tui.deploy.build.site_files import plan, scan
from pilot_tui.deploy.engine import DeployError
from pilot_tui.deploy.events import StageFailed
from pilot_tui.deploy.targets.gcs_site.target import GcsCdn
from pilot_tui.deploy.targets.s3_site.bucket import KEEP_DAYS, LIFECYCLE_RULE, MANIFEST, S3Site
from pilot_tui.deploy.targets.s3_site.rollback import rollback_site
from pilot_tui.deploy.targets.s3_site.target import S3CloudFront
from pilot_tui.naming import site_bucket
from tests.conftest import RecordingLog

REGION = "eu-west-1"
V1 = {"index.html": "<h1>docs</h1>", "app.js": "console.log(1)", "old.css": "h1{color:red}"}
V2 = {"index.html": "<h1>docs</h1>", "app.js": "console.log(2)", "new.txt": "added in v2"}


@pytest.fixture(scope="module")
def aws_url(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("emulators"))
    running, _ = sandbox.ensure()
    yield running["aws"].url
    sandbox.stop()


class Project:
    """An engine stand-in for one project in the sandbox, its app `docs` an S3 site."""

    def __init__(self, tmp_path: Path, monkeypatch, aws_url: str, name: str) -> None:
        session = emulator_aws(REGION).session
        monkeypatch.setattr(
            clients,
            "project_aws",
            lambda config, state_dir, sandbox, start=True, role="admin": Aws(session, aws_url),
        )
        self.s3 = session.client("s3", endpoint_url=aws_url)
        self.cloudfront = session.client("cloudfront", endpoint_url=aws_url)
        self.folder = tmp_path / "site"
        self.app = AppSettings(
            name="docs",
            path="site",
            build=StaticBuild(command=None, output="."),
            target=S3CloudFrontTarget(domain=None, index="index.html"),
        )
        config = SimpleNamespace(
            server=SimpleNamespace(home="sandbox"),
            project=SimpleNamespace(name=name),
            aws=SimpleNamespace(region=REGION, profile=None),
        )
        state_dir = tmp_path / ".pilot"
        self.engine = SimpleNamespace(
            config=config,
            root=tmp_path,
            state_dir=state_dir,
            record_release=lambda log, app, record: history.record(state_dir, app, record),
            pull=lambda log, app: None,  # no shared history here
        )
        self.bucket = site_bucket(name, "docs")
        self.site = S3Site(self.s3, self.cloudfront, self.bucket, REGION, name)

    def deploy(self, files: dict[str, str]) -> history.Release:
        if self.folder.exists():
            for old in self.folder.iterdir():
                old.unlink()
        self.folder.mkdir(exist_ok=True)
        for key, text in files.items():
            (self.folder / key).write_text(text)
        return S3CloudFront(self.app).deploy(self.engine, RecordingLog())

    def rollback(self, wanted: str | None = None) -> tuple[history.Release, RecordingLog]:
        log = RecordingLog()
        return rollback_site(self.engine, log, self.app, wanted), log

    def contents(self) -> dict[str, tuple[str, str, str]]:
        """The site as served: key -> (text, content type, cache control)."""
        out = {}
        for item in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            if not item["Key"].startswith(".pilot/"):
                got = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])
                out[item["Key"]] = (
                    got["Body"].read().decode(),
                    got["ContentType"],
                    got["CacheControl"],
                )
        return out

    def kept(self, release: history.Release) -> dict[str, list[str]]:
        assert release.revision is not None
        body = self.s3.get_object(Bucket=self.bucket, Key=release.revision)["Body"].read()
        return dict(json.loads(body))

    def invalidated(self, log: RecordingLog) -> list[str]:
        invalidation = log.finished("release").removeprefix("invalidation ")
        distribution = self.site.find_distribution()
        assert distribution is not None
        made = self.cloudfront.get_invalidation(DistributionId=distribution["Id"], Id=invalidation)[
            "Invalidation"
        ]
        return sorted(made["InvalidationBatch"]["Paths"]["Items"])


@pytest.mark.slow
def test_roll_back_then_forward_by_copies_in_the_bucket(tmp_path, monkeypatch, aws_url):
    project = Project(tmp_path, monkeypatch, aws_url, "rb1")
    first = project.deploy(V1)
    assert first.revision == ".pilot/releases/v1.json"
    kept = project.kept(first)
    assert sorted(kept) == sorted(V1) and all(len(e) == 4 and e[3] for e in kept.values())
    served_v1 = project.contents()
    assert {k: v[0] for k, v in served_v1.items()} == V1
    second = project.deploy(V2)
    served_v2 = project.contents()
    assert second.id == "v2" and {k: v[0] for k, v in served_v2.items()} == V2
    # app.js changed, new.txt added, old.css deleted (found walking: deletions uncounted)
    assert second.note.startswith("3 files changed"), second.note

    back, log = project.rollback()
    assert (back.id, back.note, back.status) == ("v3", "rollback to v1", history.LIVE)
    assert back.image_id == first.image_id  # what a later rollback compares
    assert project.contents() == served_v1  # bytes, types and cache headers: new.txt gone
    assert log.finished("build") == "reusing the files of v1"
    # the sandbox's made-up domain said as such, as a deploy says it (found walking: bare)
    assert "(simulated: " in log.finished("deploy") and "cloudfront.net" in log.finished("deploy")
    assert log.finished("push") == (
        "2 restored from v1 (copied in the bucket), 1 deleted, 1 unchanged"
    )
    assert project.invalidated(log) == ["/app.js", "/new.txt", "/old.css"]
    restored = project.s3.head_object(Bucket=project.bucket, Key="app.js")
    assert restored["VersionId"] != kept["app.js"][3]  # a new version, copied from the old
    current = json.loads(project.s3.get_object(Bucket=project.bucket, Key=MANIFEST)["Body"].read())
    assert current["app.js"] == [*kept["app.js"][:3], restored["VersionId"]]
    assert project.kept(back) == current  # kept for this release too

    forward, log = project.rollback()  # the newest other release: v2
    assert (forward.id, forward.note) == ("v4", "rollback to v2")
    assert project.contents() == served_v2
    assert project.invalidated(log) == ["/app.js", "/new.txt", "/old.css"]

    again, _ = project.rollback("v3")  # a rollback's own manifest restores too
    assert again.note == "rollback to v3" and project.contents() == served_v1
    releases = history.load(project.engine.state_dir, "docs")
    assert [(r.id, r.status) for r in releases] == [
        ("v1", "superseded"),
        ("v2", "superseded"),
        ("v3", "superseded"),
        ("v4", "superseded"),
        ("v5", "live"),
    ]

    unchanged, log = project.rollback("v3")  # already its files: nothing copied
    assert log.finished("push").startswith("0 restored from v3")
    assert log.finished("release") == "nothing to invalidate"
    assert unchanged.id == "v6" and project.contents() == served_v1


def test_an_expired_version_or_a_missing_manifest_fails_clearly_changing_nothing(
    tmp_path, monkeypatch, aws_url
):
    project = Project(tmp_path, monkeypatch, aws_url, "rb2")
    first = project.deploy(V1)
    project.deploy(V2)
    served_v2 = project.contents()
    # What the lifecycle rule does after KEEP_DAYS: v1's old.css version is gone.
    project.s3.delete_object(
        Bucket=project.bucket, Key="old.css", VersionId=project.kept(first)["old.css"][3]
    )
    log = RecordingLog()
    with pytest.raises(DeployError) as failed:
        rollback_site(project.engine, log, project.app, "v1")
    message = str(failed.value)
    assert failed.value.stage == "push"
    assert message.startswith("v1 can no longer be restored: its copy of old.css is gone")
    assert f"{KEEP_DAYS} days" in message and "nothing was changed" in message
    assert message.endswith("Check out the commit v1 was deployed from and deploy it instead")
    assert [e.message for e in log.events if isinstance(e, StageFailed)] == [message]
    assert project.contents() == served_v2  # checked before copying anything
    assert [r.id for r in history.load(project.engine.state_dir, "docs")] == ["v1", "v2"]

    project.s3.delete_object(Bucket=project.bucket, Key=".pilot/releases/v1.json")
    with pytest.raises(
        DeployError,
        match=r"the bucket has no record of v1's files \(s3://"
        r"pilot-rb2-docs-site/\.pilot/releases/v1\.json\): check out the "
        r"commit v1 was deployed from and deploy it \(the sandbox's cloud lives in memory: "
        r"stopping its emulators loses every release's files\)",
    ):
        project.rollback("v1")

    with pytest.raises(DeployError, match="no release 'v9'"):
        project.rollback("v9")


def test_a_release_from_before_versioning_says_to_redeploy(tmp_path, monkeypatch, aws_url):
    project = Project(tmp_path, monkeypatch, aws_url, "rb3")
    first, second = project.deploy(V1), project.deploy(V2)
    history.save(
        project.engine.state_dir,
        "docs",
        [dataclasses.replace(first, revision=None, status=history.SUPERSEDED), second],
    )
    with pytest.raises(
        DeployError,
        match="v1 was deployed before Pilot kept each release's "
        "files in the bucket: check out the commit",
    ):
        project.rollback()


@pytest.mark.slow
def test_an_old_unversioned_bucket_and_manifest_are_taken_over(tmp_path, monkeypatch, aws_url):
    # A bucket made before versioning, its manifest without version ids (3 fields).
    project = Project(tmp_path, monkeypatch, aws_url, "rb4")
    s3, bucket = project.s3, project.bucket
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    (tmp_path / "site").mkdir()
    for key, text in V1.items():
        (tmp_path / "site" / key).write_text(text)
    local = scan(tmp_path / "site")
    for f in local:
        s3.put_object(
            Bucket=bucket,
            Key=f.key,
            Body=f.local.read_bytes(),
            ContentType=f.content_type,
            CacheControl=f.cache_control,
        )
    s3.put_object(
        Bucket=bucket,
        Key=MANIFEST,
        Body=json.dumps({f.key: [f.md5, f.content_type, f.cache_control] for f in local}).encode(),
    )
    assert plan(local, project.site.remote()).upload == []  # still read as before

    project.deploy(V2)  # versions the bucket; unchanged index.html keeps its "null" version
    current = json.loads(s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read())
    assert current["index.html"][3] == "null" and current["app.js"][3] not in ("", "null")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(r["ID"], r["NoncurrentVersionExpiration"]["NoncurrentDays"]) for r in rules] == [
        (LIFECYCLE_RULE, KEEP_DAYS)
    ]


def test_versioning_and_lifecycle_are_idempotent_and_keep_other_rules(aws_url):
    session = emulator_aws(REGION).session
    s3 = session.client("s3", endpoint_url=aws_url)
    site = S3Site(
        s3, session.client("cloudfront", endpoint_url=aws_url), "pilot-rb5-site", REGION, "rb5"
    )
    assert site.ensure_bucket() is True
    theirs = {
        "ID": "their-logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 7},
    }
    rules = s3.get_bucket_lifecycle_configuration(Bucket=site.bucket)["Rules"]
    s3.put_bucket_lifecycle_configuration(
        Bucket=site.bucket, LifecycleConfiguration={"Rules": [theirs, *rules]}
    )
    assert site.ensure_bucket() is False and site.ensure_bucket() is False
    assert s3.get_bucket_versioning(Bucket=site.bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=site.bucket)["Rules"]
    assert sorted(r["ID"] for r in rules) == sorted(["their-logs", LIFECYCLE_RULE])
    ours = next(r for r in rules if r["ID"] == LIFECYCLE_RULE)
    assert ours["NoncurrentVersionExpiration"] == {"NoncurrentDays": KEEP_DAYS}
    assert ours["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    site.destroy()


@pytest.mark.slow
def test_destroy_deletes_every_version_and_delete_marker(tmp_path, monkeypatch, aws_url):
    project = Project(tmp_path, monkeypatch, aws_url, "rb6")
    project.deploy(V1)
    project.deploy(V2)
    project.rollback()
    listed = project.s3.list_object_versions(Bucket=project.bucket)
    assert len(listed["Versions"]) > len(V1) + 3 and listed["DeleteMarkers"]

    done = project.site.destroy()
    assert "deleted bucket pilot-rb6-docs-site" in done
    assert project.bucket not in [b["Name"] for b in project.s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError, match="NoSuchBucket"):
        project.s3.list_object_versions(Bucket=project.bucket)


def test_a_gcs_site_cannot_be_rolled_back_yet(tmp_path):
    app = SimpleNamespace(name="docs", target=SimpleNamespace(kind="gcs-cdn"))
    engine = SimpleNamespace(state_dir=tmp_path)
    log = RecordingLog()
    with pytest.raises(DeployError) as failed:
        GcsCdn(app).rollback(engine, log, None)
    assert failed.value.stage == "release"
    assert str(failed.value).startswith("rolling back a GCS site is not supported yet: ")
    assert isinstance(log.events[-1], StageFailed)
