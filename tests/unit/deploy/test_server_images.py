"""Where CI runs' images of the Pilot Server's apps go (deploy/server_images.py): chosen by
the cloud the runs act on, and on Google Cloud, Artifact Registry's requests as data
(Artifact Registry's API is a recording stand-in: nothing of Google's runs here)."""

from __future__ import annotations

import pytest

from pilot_tui.cloud import gcp_resources
from pilot_tui.cloud.errors import CloudError
from pilot_tui.config.validate import check_text
from pilot_tui.deploy import artifact_registry, from_ci
from pilot_tui.deploy.server_images import ArtifactImages, EcrImages, server_images
from tests.support.artifact_registry import FakeRegistry
from tests.support.gcp_project import GCP_PROJECT

WEB = '\n[[apps]]\nname = "web"\npath = "web"\n'


def _config(backend: str):
    checked = check_text(GCP_PROJECT + f'\n[state]\nbackend = "{backend}"\n' + WEB)
    assert checked.config is not None, checked.problems
    return checked.config


def test_the_runs_cloud_chooses_the_registry_and_a_gcp_run_may_deploy_the_servers_app():
    """Before, a CI run acting on Google Cloud refused the Pilot Server's apps ("through
    ECR (AWS) only"): their images now go to Artifact Registry."""
    on_gcp, on_aws = _config("gcs"), _config("s3")
    assert isinstance(server_images(on_gcp), ArtifactImages)
    assert isinstance(server_images(on_aws), EcrImages)
    [web] = on_gcp.apps
    assert from_ci.why_not(web, "gcp", deploying=True) is None
    assert from_ci.ci_apps(on_gcp).deployed == ["web"]
    from_ci.check_run(on_gcp, ["web"])  # no CiError
    # ... but a command other than a deploy or rollback still cannot reach the server
    assert "the server's worker takes" in str(from_ci.why_not(web, "gcp"))


def _version(day: int, fraction: str = "") -> str:
    return f"2026-11-{day:02d}T10:00:00{fraction}Z"


def test_the_worker_deletes_the_apps_older_images_but_the_newest_and_its_releases():
    """Artifact Registry's cleanup policies act on the whole repository (Cloud Run's images
    too): the worker keeps the app's newest ``kept`` versions and any a release names, and
    deletes the rest with their tags. createTime's fraction varies in length (RFC 3339)."""
    package = artifact_registry.package_url("acme-prod", "europe-west1", "acme", "web")
    created = {f"sha256:{day:02d}": _version(day) for day in range(1, 8)}
    created["sha256:08"] = _version(7, ".5")  # half a second after day 7's
    created["sha256:09"] = _version(7, ".123456789")  # a nanosecond stamp, before .5
    fake = FakeRegistry(package, {"abc": "sha256:01", "def": "sha256:09"}, created)
    waited: list[float] = []
    deleted = artifact_registry.delete_older_versions(
        fake, "acme-prod", "europe-west1", "acme", "web", 3, frozenset({"sha256:02"}), waited.append
    )
    # newest first: 08 (.5), 09 (.123...), 07; 02 is a release's; the rest go
    assert sorted(deleted) == ["sha256:01", "sha256:03", "sha256:04", "sha256:05", "sha256:06"]
    assert fake.versions == {"sha256:02", "sha256:07", "sha256:08", "sha256:09"}
    assert fake.tags == {"def": "sha256:09"}  # abc went with its version (force)
    assert ("DELETE", f"{fake.package}/versions/sha256:01") in fake.calls
    assert fake.polled == 5 and len(waited) == 5  # each delete's operation waited for
    # nothing pushed for the app yet: nothing to do
    none = FakeRegistry(package + "-none", {})
    none.package = "elsewhere"
    assert (
        artifact_registry.delete_older_versions(none, "acme-prod", "europe-west1", "acme", "web", 3)
        == []
    )


def test_the_registry_api_may_be_a_stand_in_on_this_machine_only(monkeypatch):
    """PILOT_ARTIFACT_REGISTRY_API points Artifact Registry's requests at a local stand-in
    (tests, emulators); the deployer's token goes with each, so anything but loopback is
    refused, naming the variable."""
    monkeypatch.setenv(gcp_resources.REGISTRY_API_OVERRIDE, "http://127.0.0.1:8123/v1")
    assert gcp_resources.repositories_url("p", "europe-west1").startswith(
        "http://127.0.0.1:8123/v1/projects/p/"
    )
    for elsewhere in (
        "https://registry.example.com/v1/",
        "http://127.0.0.1.evil.example/v1/",
        "http://127.0.0.1@evil.example/v1/",
        # (review: urlsplit reads 127.0.0.1 here, requests connects to evil.example)
        "http://evil.example\\@127.0.0.1/v1/",
        "http://localhost:80#@evil.example/v1/",
    ):
        monkeypatch.setenv(gcp_resources.REGISTRY_API_OVERRIDE, elsewhere)
        with pytest.raises(CloudError, match="PILOT_ARTIFACT_REGISTRY_API is '"):
            gcp_resources.repositories_url("p", "europe-west1")
    monkeypatch.delenv(gcp_resources.REGISTRY_API_OVERRIDE)
    assert gcp_resources.registry_api() == "https://artifactregistry.googleapis.com/v1/"


def test_server_destroy_lists_and_deletes_the_packages_ci_runs_pushed_to(tmp_path, monkeypatch):
    """`server destroy` on Google Cloud: a Pilot Server app CI deploys has a package of CI
    runs' images in Artifact Registry, which no API here can list: pilot.toml declares it,
    and the apps' step deletes it (once: gone already is done)."""
    from pilot_tui.cloud import clients
    from pilot_tui.teardown.plan import _declared
    from pilot_tui.teardown.remove import Teardown
    from pilot_tui.teardown.scan import Scan
    from pilot_tui.teardown.things import AR_PACKAGE

    config = _config("gcs")
    # no CI workflow on Google Cloud: no run pushed anything (review: a 403 of a disabled
    # Artifact Registry API failed the destroy of a project that never used CI)
    assert not [t for t in _declared(config, tmp_path) if t.kind == AR_PACKAGE]
    assert not ArtifactImages().ci_pushes(tmp_path)
    workflow = tmp_path / ".github" / "workflows" / "pilot.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("env:\n  PILOT_GCP_WORKLOAD_PROVIDER: projects/1/...\n")
    assert ArtifactImages().ci_pushes(tmp_path)
    [thing] = [t for t in _declared(config, tmp_path) if t.kind == AR_PACKAGE]
    assert thing.name == "europe-west1-docker.pkg.dev/acme-prod/pilot-acme/web"
    assert thing.app == "web" and thing.step == "apps"
    assert not [t for t in _declared(_config("local"), tmp_path) if t.kind == AR_PACKAGE]
    package = artifact_registry.package_url("acme-prod", "europe-west1", "acme", "web")
    fake = FakeRegistry(package, {"abc": "sha256:01"}, {"sha256:02": "2026-11-01T00:00:00Z"})
    monkeypatch.setattr(clients, "google_transport", lambda *a, **k: fake)
    teardown = Teardown(config, tmp_path, Scan("acme"))
    said: list[str] = []
    teardown.remove_apps([thing], said.append)
    assert said == [f"deleted {AR_PACKAGE} {thing.name}"] and teardown.failures == []
    assert fake.versions == set() and ("DELETE", fake.package) in fake.calls
    teardown.remove_apps([thing], said.append)  # again: nothing there, nothing said
    assert len(said) == 1 and teardown.failures == []


def test_artifact_registry_takes_a_local_registry_only_in_place_of_googles(monkeypatch):
    """Review: PILOT_REGISTRY (a registry on this machine, for tests) replaced Artifact
    Registry's host for any value, so a push would carry the deployer's Google access
    token (cloud-platform scope) anywhere it named. For Artifact Registry it must be on
    this machine; unset, Google's host stands."""
    from pilot_tui.deploy.registry import RegistryError, loopback_override

    monkeypatch.delenv("PILOT_REGISTRY", raising=False)
    assert loopback_override() is None
    for local in ("127.0.0.1:5000", "localhost:5001", "[::1]:5000"):
        monkeypatch.setenv("PILOT_REGISTRY", local)
        assert loopback_override() == local
    for elsewhere in ("registry.example.com:5000", "127.0.0.1.evil.example", "evil@127.0.0.1"):
        monkeypatch.setenv("PILOT_REGISTRY", elsewhere)
        with pytest.raises(RegistryError, match="a registry on this machine only"):
            loopback_override()


def test_the_worker_deletes_a_few_older_images_at_a_time():
    """Review: each delete waits on Google's operation, in the worker's build stage: a
    first release over hundreds of older images held the queue. At most DELETED_AT_ONCE go
    per release, the oldest first; the next release takes the next."""
    package = artifact_registry.package_url("acme-prod", "europe-west1", "acme", "web")
    created = {
        f"sha256:{n:03d}": f"2026-{1 + n // 28:02d}-{1 + n % 28:02d}T00:00:00Z" for n in range(40)
    }
    fake = FakeRegistry(package, {}, created)
    first = artifact_registry.delete_older_versions(
        fake, "acme-prod", "europe-west1", "acme", "web", 20, sleep=lambda s: None
    )
    assert len(first) == artifact_registry.DELETED_AT_ONCE == 10
    assert first == [f"sha256:{n:03d}" for n in range(10)]  # the oldest
    assert len(fake.versions) == 30 and "sha256:039" in fake.versions
    artifact_registry.delete_older_versions(
        fake, "acme-prod", "europe-west1", "acme", "web", 20, sleep=lambda s: None
    )
    assert fake.versions == {f"sha256:{n:03d}" for n in range(20, 40)}  # the newest 20
