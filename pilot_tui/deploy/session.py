"""Opening a Deployer for a project: the one way the CLI, the deploy screen and the home
screen's health check get an engine, so they connect, share history and skip Docker alike."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypedDict, Unpack

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import from_ci, previews, secrets
from pilot_tui.deploy.context import CancelToken
from pilot_tui.deploy.engine import Deployer, needs_docker
from pilot_tui.deploy.events import Emit
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.server_requests import Prebuilt
from pilot_tui.project import Project


class DeployerOptions(TypedDict, total=False):
    """What a caller may set on the Deployer (engine.Deployer's fields of the same names)."""

    lock_wait: float
    drain: float
    settle: float
    cancel: CancelToken
    watch: bool
    shared_required: bool
    prebuilt: dict[str, Prebuilt]
    requested_by: str
    secrets_from_env: bool


@contextlib.contextmanager
def open_deployer(
    project_file: Path,
    config: PilotConfig,
    emit: Emit,
    *,
    apps: list[str] | None = None,
    share: bool = True,
    warn: Callable[[str], None] = lambda text: None,
    deploying: bool = False,
    target: DockerTarget | None = None,
    **options: Unpack[DeployerOptions],
) -> Iterator[Deployer]:
    """A Deployer whose Docker host stays connected while it is used. The host is not opened
    when every app in ``apps`` is a static site on a managed target. With ``share``, the
    release history is also kept in the state bucket (``warn`` hears when it cannot be;
    in a CI run that is an error, as its reads and writes are). ``deploying``: for a
    deploy or rollback of ``apps``, which in a CI run releases those of the Docker host
    through the server's worker (server_queue.py). ``target``: the Docker host, when the caller
    knows it (the worker on the Pilot Server: its own socket); else the project's. Raises
    host.HostError when the host cannot be named or reached."""
    from pilot_tui.cloud.oidc_exchange import in_github_actions
    from pilot_tui.deploy.host import connect, runner_engine, target_for
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history
    from pilot_tui.provision.outputs import saved_record

    project = Project(project_file)
    # A CI run's .pilot/ goes with its job: what it records must reach the state bucket.
    in_ci = in_github_actions()
    if in_ci:
        options = {**options, "shared_required": True}
    secrets.register_project(project.state_dir, config)  # secrets stored or exported since
    shared = None
    if share:
        try:
            shared = shared_history(config, project.state_dir, project.root)
        except SharedHistoryError as exc:
            if in_ci:
                raise
            warn(f"warning: {exc}; the release history stays local this time")
    # A preview (APP--NAME) runs where its app does.
    owners = None if apps is None else {(previews.split(n) or (n,))[0] for n in apps}
    if owners is not None and not any(needs_docker(a) for a in config.apps if a.name in owners):
        yield Deployer(
            None,
            None,
            config,
            project.state_dir,
            project.root,
            emit,
            shared=shared,
            project_file=project_file,
            **options,
        )
        return
    # A CI run builds on the runner's own engine: it reaches no Pilot Server, so a command
    # about an app there is refused (on the runner's empty engine a prune would take its
    # previews for gone and forget their histories); a deploy of one is a request the
    # server's worker releases.
    queue = None
    if in_ci:
        from_ci.check_reach(config, owners, deploying=deploying)
        if deploying and shared is not None:
            from pilot_tui.deploy.server_queue import Queue

            queue = Queue(shared)
        target = runner_engine()
    elif target is None:
        target = target_for(config, project.state_dir, saved_record(project.state_dir))
    with connect(target, project.state_dir / "run") as client:
        yield Deployer(
            client,
            target,
            config,
            project.state_dir,
            project.root,
            emit,
            shared=shared,
            queue=queue,
            project_file=project_file,
            **options,
        )
