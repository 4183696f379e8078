"""One destroy from start to end: where to look (``make_scan``), what is listed before
anything goes (``plan_teardown``), and what a fresh scan still finds after (``remaining``).
``sandbox_stand_in`` refuses a sandbox teardown in a project whose home is real."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui.config.schema import CloudRunTarget, PilotConfig
from pilot_tui.naming import deployer_user, gcp_account_id, resource_name
from pilot_tui.teardown.remove import Teardown
from pilot_tui.teardown.scan import Scan
from pilot_tui.teardown.scan_aws import AwsClients
from pilot_tui.teardown.things import AR_PACKAGE, GCP_POOL, Inventory, Thing, inventory

if TYPE_CHECKING:
    from docker import DockerClient

    from pilot_tui.data.cloud_sql import CloudSqlDatabases
    from pilot_tui.provision.server import Plan, Server


def sandbox_stand_in(home: str) -> str | None:
    """Why a destroy run with --sandbox is refused for a project whose home is ``home``: the
    sandbox and the real server share the checkout's records (.pilot/outputs, the deployer's
    key file, the release history), which a sandbox teardown would delete."""
    if home == "sandbox":
        return None
    return (
        f'destroying the sandbox is refused here: this project\'s home is "{home}", and a '
        "sandbox teardown would delete this checkout's records of that server "
        "(.pilot/outputs, the deployer's key file, the release history). Try the sandbox "
        'in a copy of the project with server.home = "sandbox".'
    )


def make_scan(config: PilotConfig, root: Path) -> Scan:
    """Where this project's things can be: the sandbox's emulators (never started here: when
    they are stopped, what they held is gone) or the profile / key file in pilot.toml, and
    this machine's Docker in the sandbox. What cannot be reached is a problem, said."""
    from pilot_tui.provision import backends

    state_dir = root / ".pilot"
    sandbox = config.server.home == "sandbox"
    scan = Scan(config.project.name, state_dir=state_dir, apps=tuple(a.name for a in config.apps))
    clouds = {app.target.cloud for app in config.apps}  # whose accounts the apps run in
    if sandbox or config.server.home == "aws" or "aws" in clouds or _has_aws_key(state_dir):
        scan.aws = _aws_clients(config, state_dir, scan.notes)
    if sandbox or config.server.home == "gcp" or "gcp" in clouds:
        from pilot_tui.cloud.clients import project_gcs

        try:
            scan.gcs = project_gcs(config, state_dir, root, sandbox=sandbox, start=False)
        except Exception as exc:  # no credentials
            scan.notes.append(f"Google Cloud Storage: {exc}")
    if config.server.home == "gcp":  # even with none in pilot.toml: one may be left
        scan.cloud_sql = _cloud_sql(config, root, scan.notes)
    if sandbox:
        scan.docker = _local_docker()
        from pilot_tui.deploy.targets import on_docker_host

        there = on_docker_host(config.apps) or config.databases_on("docker")
        if scan.docker is None and there:
            # Stopped containers and the databases' volumes outlive a stopped engine
            # (found walking: "What remains: nothing" with them unchecked).
            scan.notes.append(
                "this machine's Docker did not answer: the project's containers and volumes "
                "there (its apps', proxy's and databases') were not checked; start Docker, "
                "then run `pilot-tui server destroy` again"
            )
    if config.state.backend == "s3":
        scan.state_bucket, scan.lock_table = (
            backends.bucket_name(config),
            backends.lock_table(config),
        )
    elif config.state.backend == "gcs":
        scan.gcs_state_bucket = backends.bucket_name(config)
    if not sandbox:  # no emulator answers for these: pilot.toml says they may exist
        scan.declared = _declared(config, root)
    return scan


def _cloud_sql(config: PilotConfig, root: Path, notes: list[str]) -> CloudSqlDatabases | None:
    """The project's Cloud SQL, through the admin's credentials, or None with a note."""
    from pilot_tui.data.cloud_sql import CloudSqlDatabases
    from pilot_tui.data.services import open_managed

    try:
        found = open_managed(config, root, None)
    except Exception as exc:  # no credentials
        notes.append(f"Cloud SQL: {exc}")
        return None
    return found if isinstance(found, CloudSqlDatabases) else None


def _has_aws_key(state_dir: Path) -> bool:
    from pilot_tui.cloud.clients import AWS_KEY_FILE

    return (state_dir / "keys" / AWS_KEY_FILE).is_file()


def _aws_clients(config: PilotConfig, state_dir: Path, notes: list[str]) -> AwsClients | None:
    """The project's AWS (each service's client made once), or None with a note saying why."""
    from pilot_tui.cloud.clients import project_aws

    sandbox = config.server.home == "sandbox"
    try:
        made = project_aws(config, state_dir, sandbox=sandbox, start=False)
    except Exception as exc:  # no such profile, ...
        notes.append(f"AWS: {exc}")
        return None
    if made is None:  # the sandbox's emulator is not running: nothing to talk to
        return None
    clients: dict[str, Any] = {}

    def aws(service: str) -> Any:
        if service not in clients:
            clients[service] = made.client(service)
        return clients[service]

    return aws


def _declared(config: PilotConfig, root: Path) -> list[Thing]:
    """What pilot.toml says may exist where no emulator can list it: Cloud Run services,
    the Artifact Registry packages CI runs push the server's apps' images to, and the GCP
    deployer; and the workload identity pool the CI workflow names."""
    from pilot_tui.cloud import github_oidc
    from pilot_tui.cloud.gcp_wif import pool_id
    from pilot_tui.cloud.identity_gcp import wants_gcp_deployer
    from pilot_tui.cloud.policy_gcp import ci_pushed_server_apps
    from pilot_tui.deploy.artifact_registry import image_path

    project = config.project.name
    declared = [
        Thing(
            "Cloud Run service",
            resource_name(project, app.name),
            "pilot.toml",
            app.name,
            CloudRunTarget.kind,
        )
        for app in config.apps
        if app.target.kind == CloudRunTarget.kind
    ]
    gcp = config.gcp
    if gcp.project and github_oidc.names_gcp_pool(root):  # CI runs push them there
        declared += [
            Thing(
                AR_PACKAGE,
                image_path(gcp.region, gcp.project, project, app.name),
                "pilot.toml (CI runs push the Pilot Server's apps' images there)",
                app.name,
            )
            for app in ci_pushed_server_apps(config)
        ]
    if wants_gcp_deployer(config):
        declared.append(
            Thing(
                "GCP service account",
                deployer_user(project),
                "pilot.toml (an app or the server on Google Cloud)",
            )
        )
        if github_oidc.names_gcp_pool(root):
            by = f"{github_oidc.WORKFLOW} (pilot-tui ci github)"
            declared += [
                Thing(GCP_POOL, pool_id(project), by),
                Thing("GCP service account", gcp_account_id(project, "ci"), by),
            ]
    return declared


def _local_docker() -> DockerClient | None:
    """A client for this machine's Docker (where the sandbox runs apps), or None."""
    from pilot_tui.deploy.host import HostError, sandbox_engine

    try:
        target = sandbox_engine()
    except HostError:
        return None  # no engine answers: what it keeps cannot be checked (said by the scan)
    import docker

    return docker.DockerClient(base_url=target.address, timeout=60)


async def plan_teardown(
    server: Server, plan: Plan, *, keep_state: bool
) -> tuple[Teardown, Inventory]:
    """What `server destroy` (the CLI, or `d` on the Server screen) lists for a Pilot
    Server: Terraform's planned destroy plus everything the clouds hold for the project."""
    import asyncio

    ids = await server.state_ids()
    root = server.project.root
    teardown = Teardown(
        server.config,
        root,
        await asyncio.to_thread(make_scan, server.config, root),
        keep_state=keep_state,
    )
    found, problems = await asyncio.to_thread(teardown.scan.run)
    return teardown, inventory(
        found,
        [c.address for c in plan.changes if c.action != "read"],
        ids,
        keep_state=keep_state,
        problems=problems,
    )


async def remaining(teardown: Teardown, server: Server | None) -> Inventory:
    """What a fresh scan still finds (and what Terraform's state still holds)."""
    import asyncio

    from pilot_tui.provision.server import ServerError

    found, problems = await asyncio.to_thread(teardown.scan.run, declared=False)
    ids: dict[str, str] = {}
    # A remote state went with the state bucket (unless --keep-state): there is no state
    # left to read, and the scan above finds by tag whatever Terraform would have held.
    state_removed = not teardown.keep_state and teardown.config.state.backend != "local"
    if server is not None and not state_removed:
        try:
            # With their ids: what the scan finds by tag that Terraform still holds is
            # listed once, as Terraform's (not as "not in Terraform state").
            ids = await server.state_ids()
        except ServerError as exc:
            problems = [*problems, f"Terraform's state could not be read ({exc})"]
    return inventory(found, list(ids), ids, keep_state=teardown.keep_state, problems=problems)


def kept_here(state_dir: Path) -> list[str]:
    """What a destroy leaves on this machine on purpose, said after it: the apps' secret
    values and the databases' passwords (the next server's deploys use them), backups
    downloaded here, the server's SSH key, and a release history's conflicting copies."""
    from pilot_tui.provision.keys import KEY_NAME

    def held(folder: Path, pattern: str = "*") -> bool:
        return folder.is_dir() and any(p.is_file() for p in folder.rglob(pattern))

    return [
        f"{where} ({what})"
        for there, where, what in (
            (held(state_dir / "secrets"), ".pilot/secrets/", "your apps' secret values"),
            (
                held(state_dir / "databases", "*.password"),
                ".pilot/databases/",
                "the databases' passwords",
            ),
            (held(state_dir / "backups"), ".pilot/backups/", "backups kept on this machine"),
            (
                (state_dir / "keys" / KEY_NAME).is_file(),
                f".pilot/keys/{KEY_NAME}",
                "the server's SSH key",
            ),
            (
                held(state_dir / "releases", "*.conflict-*.json"),
                ".pilot/releases/*.conflict-*.json",
                "release records that conflicted with the shared history",
            ),
        )
        if there
    ]
