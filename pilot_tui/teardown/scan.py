"""The scan: where a project's things can be (clients made once, each None when that place
is not in use) and one look through them all: the AWS account (scan_aws), Google Cloud
Storage, this machine's Docker (the sandbox) and the records in .pilot/."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui.cloud.clients import AWS_KEY_FILE, GCP_KEY_FILE
from pilot_tui.config.schema import GcsCdnTarget
from pilot_tui.naming import image_repository, prefix
from pilot_tui.teardown.finds import Finds, app_of
from pilot_tui.teardown.scan_aws import AwsClients, AwsScan
from pilot_tui.teardown.things import DOCKER_IMAGE, Thing
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.images import Image

    from pilot_tui.data.cloud_sql import CloudSqlDatabases


@dataclass
class Scan(Finds):
    """Where to look, and what one look found (``found``) and could not list (``problems``)."""

    aws: AwsClients | None = None
    gcs: Any = None  # a google-cloud-storage client
    cloud_sql: CloudSqlDatabases | None = None  # the project's Cloud SQL, by its labels
    docker: DockerClient | None = None  # a client for this machine's engine (the sandbox)
    state_dir: Path | None = None
    state_bucket: str | None = None
    lock_table: str | None = None
    gcs_state_bucket: str | None = None
    declared: list[Thing] = field(default_factory=list)  # from pilot.toml: no API to list
    # The tags of each repository of DOCKER_IMAGE found: a destroy removes these, never
    # another project's of the same repository name.
    built_tags: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # places that could not be opened
    problems: list[str] = field(default_factory=list)

    def run(self, *, declared: bool = True) -> tuple[list[Thing], list[str]]:
        """(what was found, what could not be listed). ``declared``: also what pilot.toml
        says may exist where nothing can be listed (not when checking what remains)."""
        self.found = list(self.declared) if declared else []
        self.problems = list(self.notes)
        if self.aws is not None:
            account = AwsScan(self, self.aws, self.state_bucket, self.lock_table)
            for reader in account.readers():
                self._read(reader)
        if self.gcs is not None:
            self._read(self._gcs)
        if self.cloud_sql is not None:
            self._read(self._cloud_sql_instances)
        if self.docker is not None:
            self._read(self._containers)
        if self.state_dir is not None:
            self.found += local_records(self.state_dir)
        return self.found, self.problems

    def _read(self, reader: Callable[[], None]) -> None:
        try:
            reader()
        except Exception as exc:  # a service the account may not use, or cannot reach
            from pilot_tui import redact

            what = reader.__name__.strip("_")
            self.problems.append(f"could not list {what}: {redact.clip(str(exc), 200)}")

    def _gcs(self) -> None:
        for bucket in self.gcs.list_buckets(prefix=prefix(self.project)):
            self.add(
                "GCS bucket",
                bucket.name,
                self.named,
                app_of(self.project, bucket.name, "-site"),
                GcsCdnTarget.kind,
            )
        if self.gcs_state_bucket:
            from google.api_core.exceptions import NotFound

            with contextlib.suppress(NotFound):
                self.gcs.get_bucket(self.gcs_state_bucket)
                self.add("state bucket", f"gs://{self.gcs_state_bucket}", "[state] in pilot.toml")

    def _cloud_sql_instances(self) -> None:
        from pilot_tui.teardown.things import CLOUD_SQL_INSTANCE, cloud_sql_found

        assert self.cloud_sql is not None  # run() reads them only with a client
        for database, instance in self.cloud_sql.instances():
            self.add(CLOUD_SQL_INSTANCE, instance, cloud_sql_found(self.project, database))

    def _containers(self) -> None:
        docker = self.docker
        assert docker is not None  # run() reads containers only with a client
        from pilot_tui.data.docker_db import TEMPLATE_ROLE
        from pilot_tui.deploy.lock import LOCK_LABEL

        labelled = docker.containers.list(all=True, filters={"label": "pilot.project"})
        mine = [c for c in labelled if c.labels.get("pilot.project") == self.project]
        others = [c for c in labelled if c.labels.get("pilot.project") != self.project]
        for container in mine:
            labels = container.labels
            what = "deploy lock" if LOCK_LABEL in labels else "release"
            if labels.get("pilot.role") == "database":
                what = f"database {labels.get('pilot.database', '?')}"
            elif labels.get("pilot.role") == TEMPLATE_ROLE:
                what = f"making database {labels.get('pilot.database', '?')}'s empty cluster"
            self.add(
                "container",
                str(container.name),
                f"label pilot.project={self.project} ({what})",
                labels.get("pilot.app", ""),
            )
        # The apps' images built here (and their previews'): found walking, left behind
        # with "What remains: nothing".
        apps = set(self.apps) | {str(c.labels.get("pilot.app", "")) for c in mine}
        theirs = {
            image_repository(str(c.labels.get("pilot.project")), str(c.labels.get("pilot.app")))
            for c in others
            if c.labels.get("pilot.app")
        }
        self.built_tags = _built_images(docker, self.project, apps, theirs)
        for repository, tags in self.built_tags.items():
            self.add(
                DOCKER_IMAGE,
                repository,
                f"{counted(len(tags), 'image')} of the app built on this engine",
            )
        from pilot_tui.teardown.things import DATABASE_VOLUME, database_data

        wanted = [f"pilot.project={self.project}", "pilot.role=database"]
        for volume in docker.volumes.list(filters={"label": wanted}):
            database = (volume.attrs.get("Labels") or {}).get("pilot.database", "?")
            self.add(DATABASE_VOLUME, str(volume.name), database_data(database, self.project))
        # The empty clusters the databases' restores start from: no data, removed with the rest.
        wanted = [f"pilot.project={self.project}", f"pilot.role={TEMPLATE_ROLE}"]
        for volume in docker.volumes.list(filters={"label": wanted}):
            database = (volume.attrs.get("Labels") or {}).get("pilot.database", "?")
            self.add(
                "Docker volume",
                str(volume.name),
                f"the empty cluster database {database}'s restores start from (no data)",
            )
        from pilot_tui.deploy.targets.docker_host.containers import PROXY_NAME
        from pilot_tui.deploy.targets.docker_host.proxy_container import SET_ASIDE

        if not others:  # the proxy serves only this project's apps here: it goes too
            proxies = docker.containers.list(all=True, filters={"name": PROXY_NAME})
            for proxy in proxies:
                if proxy.name in (PROXY_NAME, SET_ASIDE):  # and one a move left behind
                    self.add(
                        "container", proxy.name, "Pilot's proxy, serving no other project here"
                    )
            # ... and so does the private network the apps and the proxy join.
            from pilot_tui.deploy.targets.docker_host.containers import NETWORK

            for network in docker.networks.list(names=[NETWORK]):
                if network.name == NETWORK:
                    self.add(
                        "Docker network",
                        network.name,
                        "Pilot's private app network, used by no other project here",
                    )
            # ... and the edge's volume: its certificates and ACME account key.
            from pilot_tui.deploy.targets.docker_host.proxy import DATA_VOLUME

            for volume in docker.volumes.list(filters={"name": DATA_VOLUME}):
                if volume.name == DATA_VOLUME:
                    self.add(
                        "Docker volume",
                        str(volume.name),
                        "the edge's certificates and ACME account, used by no other project here",
                    )


def _built_images(
    docker: DockerClient, project: str, apps: set[str], theirs: set[str]
) -> dict[str, list[str]]:
    """The repositories of ``project``'s images on this engine (naming.image_repository,
    its previews' too: APP--NAME) -> their tags, which a destroy removes.

    An image labelled with the project (naming.image_labels) is its own, an app since
    taken out of pilot.toml's too; one labelled with another project never is, though
    their repositories may share a name (acme's blog-web, acme-blog's web). An image
    built before the labels has none: it is ``apps``' by its repository's name, unless
    that repository is in ``theirs`` (another project's containers run from it)."""
    labelled = docker.images.list(filters={"label": f"pilot.project={project}"})
    named: list[Image] = []
    for app in sorted(a for a in apps if a):
        own = image_repository(project, app)
        for image in docker.images.list(name=own) + docker.images.list(
            filters={"reference": f"{own}--*"}
        ):
            if "pilot.project" not in image.labels:
                named += [image]
    owned = {  # (under its own repository: a tag a person gave it elsewhere is theirs)
        tag
        for image in labelled
        for tag in image.tags
        if _repository(tag) == image_repository(project, image.labels.get("pilot.app", ""))
    }
    owned |= {
        tag
        for image in named
        for tag in image.tags
        if _app_repository(project, apps, _repository(tag)) and _repository(tag) not in theirs
    }
    found: dict[str, list[str]] = {}
    for tag in sorted(owned):
        found.setdefault(_repository(tag), []).append(tag)
    return found


def _repository(tag: str) -> str:
    """pilot/acme-web of pilot/acme-web:abc123."""
    return tag.rpartition(":")[0]


def _app_repository(project: str, apps: set[str], repository: str) -> bool:
    """Whether ``repository`` is one of ``apps``' (or their previews') by its name."""
    return any(
        repository == (own := image_repository(project, app)) or repository.startswith(f"{own}--")
        for app in apps
        if app
    )


def local_records(state_dir: Path) -> list[Thing]:
    """Files in .pilot/ that say something is (or was) released, or hold a deployer's key."""
    from pilot_tui.deploy import history
    from pilot_tui.provision.server import OUTPUTS_FILE

    found = []
    for path in sorted((state_dir / "releases").glob("*.json")):
        if "." in path.stem:  # APP.conflict-TIME.json: a conflict's only copy, kept (review)
            continue
        # Every app's history: one with nothing live named images the destroy removed
        # (found walking: a failed first deploy's record stayed, "What remains: nothing")
        live = history.live_release(state_dir, path.stem) is not None
        why = "a live release recorded" if live else "a release history (nothing live)"
        found.append(Thing("local record", str(path.relative_to(state_dir.parent)), why, path.stem))
    for path, why in (
        (state_dir / "outputs" / OUTPUTS_FILE, "the server's outputs"),
        (state_dir / "keys" / AWS_KEY_FILE, "the AWS deployer's key"),
        (state_dir / "keys" / GCP_KEY_FILE, "the GCP deployer's key"),
    ):
        if path.is_file():
            found.append(Thing("local record", str(path.relative_to(state_dir.parent)), why))
    return found
