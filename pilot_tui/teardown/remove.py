"""The destroy executor: a Teardown removes an Inventory step by step, in STEPS' order
(apps, containers, deployer, server, state, local), collecting what failed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from pilot_tui import redact
from pilot_tui.naming import deployer_user
from pilot_tui.teardown import aws_leftovers
from pilot_tui.teardown.scan import Scan
from pilot_tui.teardown.things import (
    AR_PACKAGE,
    CLOUD_SQL_INSTANCE,
    DATABASE_VOLUME,
    DOCKER_IMAGE,
    GCP_DEPLOYER_KINDS,
    GCP_POOL,
    STEP_TITLES,
    STEPS,
    Inventory,
    Say,
    Thing,
)
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from pilot_tui.config.schema import AppSettings, PilotConfig
    from pilot_tui.data.managed import ManagedDatabases
    from pilot_tui.provision.server import Plan, Server


@dataclass
class Teardown:
    """One destroy of one project: what to remove it with, and what failed."""

    config: PilotConfig
    root: Path
    scan: Scan
    keep_state: bool = False
    final_backup: bool = True  # a final backup of each database before its data goes
    failures: list[str] = field(default_factory=list)
    # The managed databases' final backups taken, kept: a line each saying where.
    final_kept: list[str] = field(default_factory=list)
    _managed: ManagedDatabases | None = None

    @property
    def state_dir(self) -> Path:
        return self.root / ".pilot"

    def _try(self, what: str, action: Callable[[], object], say: Say) -> bool:
        try:
            action()
        except Exception as exc:  # the cloud refused: say what, carry on with the rest
            self.failures.append(f"{what}: {redact.clip(str(exc), 300)}")
            say(f"FAILED: {self.failures[-1]}")
            return False
        return True

    # apps ------------------------------------------------------------------------------
    def remove_apps(self, things: list[Thing], say: Say) -> None:
        """Each app through its target's own destroy; an app no longer in pilot.toml is
        destroyed as the target its leftovers show; then what no target owns."""
        from pilot_tui.deploy.app_teardown import destroy_app

        wanted: dict[tuple[str, str], None] = {}
        for thing in things:
            if thing.app and thing.target:
                wanted[(thing.app, thing.target)] = None
        for app_name, target in wanted:
            app = _app_settings(self.config, app_name, target)
            if app is None:
                continue
            self._try(
                f"app {app_name} on {target}",
                partial(destroy_app, self.config, self.state_dir, self.root, app, say),
                say,
            )
        self._sweep([t for t in things if aws_leftovers.swept(t)], say)
        for thing in things:
            if thing.kind == AR_PACKAGE:
                self._try(
                    f"{thing.kind} {thing.name}", partial(self._delete_package, thing, say), say
                )

    def _delete_package(self, thing: Thing, say: Say) -> None:
        """The Artifact Registry package of a Pilot Server app's CI images (idempotent)."""
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.deploy.artifact_registry import delete_images

        gcp, project = self.config.gcp, self.config.project.name
        transport = google_transport(self.config, self.root)
        if delete_images(transport, str(gcp.project), gcp.region, project, thing.app):
            say(f"deleted {thing.kind} {thing.name}")

    def _sweep(self, things: list[Thing], say: Say) -> None:
        """Leftovers no target's destroy owns; each call is idempotent."""
        if self.scan.aws is None:
            return
        aws = self.scan.aws
        for thing in things:
            self._try(
                f"{thing.kind} {thing.name}", partial(aws_leftovers.sweep_one, aws, thing, say), say
            )

    # containers ------------------------------------------------------------------------
    def remove_containers(self, things: list[Thing], say: Say) -> None:
        docker = self.scan.docker
        if docker is None:
            return
        from docker.errors import APIError, NotFound

        containers = [t for t in things if t.kind == "container"]
        proxies = [t for t in containers if not t.found.startswith("label")]
        for thing in [*[t for t in containers if t not in proxies], *proxies]:  # the proxy last

            def remove(thing: Thing = thing) -> None:
                with contextlib.suppress(NotFound):
                    docker.containers.get(thing.name).remove(force=True)
                    say(f"removed container {thing.name}")

            self._try(f"container {thing.name}", remove, say)
        for thing in [t for t in things if t.kind == DOCKER_IMAGE]:  # once no release runs

            def remove_images(thing: Thing = thing) -> None:
                tags = self.scan.built_tags.get(thing.name, [])  # never a neighbour's
                kept = []
                for tag in sorted(tags):
                    try:
                        docker.images.remove(tag)
                    except NotFound:
                        continue
                    except APIError as exc:  # 409: a container (another's) runs from it
                        if exc.status_code != 409:
                            raise
                        kept.append(tag)
                gone = len(tags) - len(kept)
                say(f"removed Docker images {thing.name} ({gone})")
                if kept:
                    say(f"kept {', '.join(kept)}: a container of another project uses it")

            self._try(f"Docker images {thing.name}", remove_images, say)
        for thing in [t for t in things if t.kind == "Docker network"]:  # once it is empty

            def remove_network(thing: Thing = thing) -> None:
                with contextlib.suppress(NotFound):
                    docker.networks.get(thing.name).remove()
                    say(f"removed Docker network {thing.name}")

            self._try(f"Docker network {thing.name}", remove_network, say)
        volumes = [t for t in things if t.kind in ("Docker volume", DATABASE_VOLUME)]
        for thing in volumes:  # once unused

            def remove_volume(thing: Thing = thing) -> None:
                with contextlib.suppress(NotFound):
                    docker.volumes.get(thing.name).remove(force=True)
                    say(f"removed Docker volume {thing.name}")

            self._try(f"Docker volume {thing.name}", remove_volume, say)

    # deployer --------------------------------------------------------------------------
    def remove_deployer(self, things: list[Thing], say: Say) -> None:
        keys = self.state_dir / "keys"
        if self.scan.aws is not None and any(t.kind not in GCP_DEPLOYER_KINDS for t in things):
            from pilot_tui.cloud.identity_aws import AwsDeployer

            deployer = AwsDeployer(
                self.scan.aws("iam"),
                self.scan.aws("sts"),
                self.config.project.name,
                self.config.aws.region,
            )
            if self._try("the AWS deployer", lambda: deployer.remove(keys), say):
                user = deployer_user(self.config.project.name)
                say(f"removed the AWS deployer {user}, its keys and roles")
        if any(t.kind in GCP_DEPLOYER_KINDS for t in things):
            from pilot_tui.cloud.clients import google_transport
            from pilot_tui.cloud.identity_gcp import GcpDeployer
            from pilot_tui.cloud.identity_github_gcp import GcpGithubTrust

            gcp_project = self.config.gcp.project
            # pilot.toml is refused with an app or the server on Google Cloud and no
            # gcp.project, and only those declare the GCP deployer.
            assert gcp_project, "a GCP deployer without gcp.project"
            project = self.config.project.name

            def remove_pool() -> None:
                transport = google_transport(self.config, self.root, role="admin")
                for line in GcpGithubTrust(transport, project, gcp_project).remove():
                    say(f"removed {line}")

            def remove_gcp() -> None:
                transport = google_transport(self.config, self.root, role="admin")
                GcpDeployer(transport, project, gcp_project).remove(keys)
                say("removed the GCP deployer service account and its keys")

            # The pool and the CI account first, when the workflow names them (reading
            # pools needs a role setup's admin may not have: only then).
            if any(t.kind == GCP_POOL for t in things):
                self._try("the workload identity pool and the CI account", remove_pool, say)
            gcp_deployer = deployer_user(project)
            if any(t.kind == "GCP service account" and t.name == gcp_deployer for t in things):
                self._try("the GCP deployer", remove_gcp, say)

    # server ----------------------------------------------------------------------------
    def managed(self) -> ManagedDatabases | None:
        """The managed databases of the server's home (RDS, Cloud SQL), opened once."""
        from pilot_tui.data.services import open_managed

        if self._managed is None:
            self._managed = self.scan.cloud_sql or open_managed(
                self.config, self.root, self.scan.aws
            )
        return self._managed

    def lift_protection(self, names: list[str], say: Say) -> list[str] | None:
        """Deletion protection off for the managed databases about to be deleted (named,
        their final backups taken before anything was removed); what was lifted, or None
        (recorded, nothing deleted) when the service refused."""
        if not names:
            return []
        lifted: list[str] = []
        try:
            databases = self.managed()
            if databases is None:
                return []
            for name in names:  # one by one: each lifted is known, to undo on a failure
                lifted += databases.lift_protection([name], say)
        except Exception as exc:  # refused: nothing of the server may go after it
            self.failures.append(f"managed databases: {redact.clip(str(exc), 300)}")
            say(f"FAILED: {self.failures[-1]}")
            self.protect_again(lifted, say)
            return None
        return lifted

    def protect_again(self, lifted: list[str], say: Say) -> None:
        """After a failure: protection back on the managed databases still there."""
        databases = self.managed() if lifted else None
        if databases is not None:
            self._try(
                "deletion protection back on",
                partial(databases.protect_again, lifted, say),
                say,
            )

    def remove_untracked(self, things: list[Thing], say: Say) -> None:
        """The server's machine and network found by tag but not in Terraform's state (an
        `up` stopped hard, a state lost): removed in dependency order, as Terraform would."""
        self._remove_lost_cloud_sql([t for t in things if t.kind == CLOUD_SQL_INSTANCE], say)
        if self.scan.aws is None or not things:
            return
        databases = [t.name for t in things if t.kind == "RDS database"]
        if databases:
            mine = f"pilot-{self.config.project.name}-"
            lifted = self.lift_protection([d.removeprefix(mine) for d in databases], say)
            if lifted is None:
                return
            delete = partial(aws_leftovers.delete_databases, self.scan.aws("rds"), databases, say)
            if not self._try("RDS databases", delete, say):
                self.protect_again(lifted, say)
                return
        for thing in things:
            if thing.kind == "DB subnet group":
                remove = partial(
                    self.scan.aws("rds").delete_db_subnet_group, DBSubnetGroupName=thing.name
                )
                if self._try(f"DB subnet group {thing.name}", remove, say):
                    say(f"deleted DB subnet group {thing.name}")
        ec2 = self.scan.aws("ec2")
        instances = [t.name.split(" ")[0] for t in things if t.kind == "EC2 instance"]
        if instances:
            terminate = partial(aws_leftovers.terminate_instances, ec2, instances, say)
            self._try("EC2 instances", terminate, say)
        for name, call in aws_leftovers.network_removals(ec2, things):
            if self._try(name, call, say):
                say(f"deleted {name}")

    def _remove_lost_cloud_sql(self, things: list[Thing], say: Say) -> None:
        """Cloud SQL instances found by their labels, not in Terraform's state: protection
        lifted (they were named), then deleted and waited for."""
        cloud_sql = self.scan.cloud_sql
        if cloud_sql is None or not things:
            return
        names = Inventory(things).managed_databases(self.config.project.name)
        lifted = self.lift_protection(names, say)
        if lifted is None:
            return
        instances = [t.name for t in things]
        if not self._try("Cloud SQL instances", partial(cloud_sql.delete, instances, say), say):
            self.protect_again(lifted, say)

    # state -----------------------------------------------------------------------------
    def remove_state(self, things: list[Thing], say: Say) -> None:
        from pilot_tui.provision import backends

        aws, gcs = self.scan.aws, self.scan.gcs
        for thing in things:

            def remove(thing: Thing = thing) -> None:
                if thing.kind == "lock table" and aws is not None:
                    say(backends.remove_lock_table(aws("dynamodb"), thing.name))
                elif thing.name.startswith("gs://") and gcs is not None:
                    say(backends.remove_gcs(gcs, thing.name.removeprefix("gs://")))
                elif aws is not None:  # an S3 state bucket was found through it
                    say(backends.remove_s3_bucket(aws("s3"), thing.name))

            self._try(thing.name, remove, say)

    # local -----------------------------------------------------------------------------
    def remove_local(self, things: list[Thing], say: Say) -> None:
        for thing in things:
            (self.root / thing.name).unlink(missing_ok=True)
            say(f"removed {thing.name}")


def _app_settings(config: PilotConfig, name: str, target: str) -> AppSettings | None:
    """The app as pilot.toml has it when it still runs on ``target``; else an app of that
    name on that target with default settings (enough to find and remove what it left)."""
    from pilot_tui.config import schema

    app = config.app(name)
    if app is not None and app.target.kind == target:
        return app
    settings = {kind().kind: kind for kind in get_args(schema.Target)}
    if target not in settings:
        return None
    return schema.AppSettings(name=name, target=settings[target]())


async def execute(
    teardown: Teardown,
    inv: Inventory,
    server: Server | None,
    plan: Plan | None,
    say: Say,
    stage: Callable[[str, str], None],
) -> bool:
    """Remove ``inv`` step by step (``server``/``plan``: the Pilot Server and its destroy
    plan, or None). Terraform failing stops before the state and the local records, which a
    second run needs; other failures are collected and the rest still goes."""
    import asyncio

    steps = dict(inv.by_step())
    for step in STEPS:
        things = steps.get(step, [])
        if server is not None and server.interrupt.count and things:  # Ctrl+C / Esc
            teardown.failures.append(f"interrupted before {STEP_TITLES[step]}")
            return False
        if not things:
            continue
        stage(step, STEP_TITLES[step])
        if step != "server":
            await asyncio.to_thread(getattr(teardown, f"remove_{step}"), things, say)
            continue
        lifted = await asyncio.to_thread(teardown.lift_protection, _databases_destroyed(plan), say)
        if lifted is None:
            return False
        if not await _terraform_destroy(teardown, server, plan, say):
            await asyncio.to_thread(teardown.protect_again, lifted, say)
            return False
        await asyncio.to_thread(
            teardown.remove_untracked, [t for t in things if t.kind != "Terraform resource"], say
        )
    return not teardown.failures


def _databases_destroyed(plan: Plan | None) -> list[str]:
    """The databases (pilot.toml names) whose managed instance a destroy plan deletes."""
    from pilot_tui.data.managed import names_in

    if plan is None:
        return []
    return names_in(c.address for c in plan.changes if c.action in ("delete", "replace"))


async def _terraform_destroy(
    teardown: Teardown, server: Server | None, plan: Plan | None, say: Say
) -> bool:
    """Apply the server's destroy plan (when there is one); False when it failed or was
    interrupted, the failure recorded and what a kill may have left said."""
    if server is None or plan is None or not plan.changes:
        return True
    result = await server.apply(plan)
    if not result.interrupted and result.code == 0:
        return True
    failed = f"failed at {', '.join(result.errored) or 'a step'}"
    why = "interrupted" if result.interrupted else failed
    teardown.failures.append(
        f"terraform destroy {why} after {len(result.completed)} of "
        f"{counted(plan.total, 'change')}; what remains is listed above "
        f"(log: {result.log})"
    )
    if result.killed:  # what may now exist outside its state, as for `up`
        for line in server.after_kill(result):
            say(line)
    return False


def backups_held(teardown: Teardown, inv: Inventory) -> list[str]:
    """The databases with backups in the state bucket, when ``inv`` removes it (their
    backups would go with it): each destroy face refuses then, unless told to remove them.
    Only looks: never starts an emulator or makes the bucket. A bucket that cannot be read
    is refused too (its backups cannot be known to be none)."""
    from pilot_tui.data.stores import store_for
    from pilot_tui.errors import PilotError

    if not any(thing.kind == "state bucket" for thing in inv.remove):
        return []
    try:
        store = store_for(
            teardown.config, teardown.state_dir, teardown.root, start=False, create=False
        )
        return store.folders()
    except PilotError as exc:
        return [f"(unknown: the bucket could not be read: {redact.clip(str(exc), 120)})"]
