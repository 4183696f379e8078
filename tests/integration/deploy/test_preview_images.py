"""A preview's images go with it: pushed to its app's repository under tags of its own
(previews.image_tag), and its removal deletes those tags, so a registry drops each image
no other tag names and keeps one the app's own releases tag too (the same source builds
the same image).

ECR: the local AWS API (moto), its images put there by the ECR API itself (the sandbox
pushes image layers to a local registry instead: moto's ECR keeps no layers). Artifact
Registry has no emulator here: its requests are checked as data against a recording
fake, said plainly."""

from __future__ import annotations

import json

import boto3
import pytest

from pilot_tui.deploy import artifact_registry, previews
from pilot_tui.deploy.registry import delete_ecr_tags
from tests.support.artifact_registry import FakeRegistry

REPOSITORY = "pilot-acme-hello"


def _manifest(layer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + layer * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": "sha256:" + layer * 64,
                }
            ],
        }
    )


def _tags(ecr) -> dict[str, list[str]]:
    """{image digest: its tags} of the repository."""
    found = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    return {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in found}


def test_a_previews_ecr_tags_go_and_only_images_no_other_tag_names(moto):
    ecr = boto3.client("ecr", region_name="us-east-1")
    ecr.create_repository(repositoryName=REPOSITORY)
    shared, own, other = _manifest("a"), _manifest("b"), _manifest("c")
    # the app's release and the preview built from the same source: one image, two tags
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=shared, imageTag="abc-lambda")
    tag = previews.image_tag("pr-1", "abc-lambda")
    assert tag == "preview_pr-1_abc-lambda"
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=shared, imageTag=tag)
    # an earlier release of the preview, its own image
    ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=own,
        imageTag=previews.image_tag("pr-1", "old-lambda"),
    )
    # a preview whose name starts like this one's: never touched
    ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=other,
        imageTag=previews.image_tag("pr-1-x", "abc-lambda"),
    )
    before = _tags(ecr)
    assert len(before) == 3

    gone = delete_ecr_tags(ecr, REPOSITORY, previews.image_tag_prefix("pr-1"))
    assert gone == ["preview_pr-1_abc-lambda", "preview_pr-1_old-lambda"]
    after = _tags(ecr)
    assert sorted(after.values()) == [["abc-lambda"], ["preview_pr-1-x_abc-lambda"]]
    assert delete_ecr_tags(ecr, REPOSITORY, previews.image_tag_prefix("pr-1")) == []
    assert delete_ecr_tags(ecr, "pilot-acme-none", "preview_pr-1_") == []  # no repository


def test_a_previews_artifact_registry_tags_go_and_images_only_they_name():
    package = artifact_registry.package_url("acme-prod", "europe-west1", "acme", "web")
    fake = FakeRegistry(
        package,
        {
            "abc": "sha256:shared",  # the app's release
            "preview_pr-1_abc": "sha256:shared",  # the preview's, same image
            "preview_pr-1_old": "sha256:old",  # only the preview's
            "preview_pr-1_v1": "sha256:released",  # only the preview's, but a release names it
            "preview_pr-1-x_abc": "sha256:other",  # another preview
        },
    )
    deleted = artifact_registry.delete_tagged(
        fake,
        "acme-prod",
        "europe-west1",
        "acme",
        "web",
        previews.image_tag_prefix("pr-1"),
        frozenset({"sha256:released"}),
    )
    assert deleted == ["preview_pr-1_abc", "preview_pr-1_old"]
    assert fake.tags == {
        "abc": "sha256:shared",
        "preview_pr-1_v1": "sha256:released",
        "preview_pr-1-x_abc": "sha256:other",
    }
    assert fake.versions == {"sha256:shared", "sha256:other", "sha256:released"}
    assert fake.polled == 1  # the version's delete waited for (its operation was running)
    # no such package (nothing pushed for the app): nothing to do
    missing = FakeRegistry(package + "-none", {})
    assert (
        artifact_registry.delete_tagged(
            missing, "acme-prod", "europe-west1", "acme", "none", "preview_pr-1_"
        )
        == []
    )


def test_an_ecr_image_a_release_names_keeps_its_preview_tag(moto):
    """Regression (review): the same source rebuilt elsewhere moves the app's tag to a new
    image, leaving the app's release (by digest) named by the preview's tag alone; the
    preview's removal deleted it, and the app's rollback to that release with it."""
    ecr = boto3.client("ecr", region_name="us-east-1")
    ecr.create_repository(repositoryName=REPOSITORY)
    released = ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=_manifest("d"),
        imageTag=previews.image_tag("pr-1", "abc-lambda"),
    )["image"]["imageId"]["imageDigest"]
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=_manifest("e"), imageTag="abc-lambda")
    gone = delete_ecr_tags(
        ecr, REPOSITORY, previews.image_tag_prefix("pr-1"), frozenset({released})
    )
    assert gone == []
    assert released in _tags(ecr)


@pytest.mark.parametrize("name", ["pr-1", "a" * 30])
def test_a_preview_image_tag_fits_a_registry(name):
    tag = previews.image_tag(name, "f" * 64 + "-0123abcd-lambda")
    assert len(tag) <= previews.IMAGE_TAG_MAX and tag.startswith(previews.image_tag_prefix(name))


def test_the_digests_an_apps_releases_name_are_what_a_preview_removal_keeps(tmp_path):
    from pilot_tui.deploy import history

    def release(id_: str, image: str) -> history.Release:
        return history.Release(id_, "hello", image, "fp", "2026-12-05T12:00:00Z", "live")

    history.save(
        tmp_path,
        "hello",
        [
            release("v1", "123.dkr.ecr.us-east-1.amazonaws.com/pilot-acme-hello@sha256:aa"),
            release("v2", "pilot/acme-hello:0123abcd"),  # the Docker host's: by its tag
            release("v3", "europe-west1-docker.pkg.dev/p/pilot-acme/hello@sha256:bb"),
        ],
    )
    assert history.image_digests(tmp_path, "hello") == {"sha256:aa", "sha256:bb"}
    assert history.image_digests(tmp_path, "none") == frozenset()
