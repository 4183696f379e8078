"""The CI worker's container on the Pilot Server (worker_container.py says what it is):
made, kept up to date and removed through the server's engine, in one place each.

``refresh`` runs after each deploy of a Docker host app from a person's machine, once
its lease is given back: it installs the worker as pilot.toml asks (server.ci_worker), or
removes it. ``install`` remakes it only when what it is made of changed (a label holds the
hash), never to give it less than it has (a secret file this machine lacks, an older
Pilot), stops the old one as `docker stop` does (a release under way ends first), and
watches the new one start.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pilot_tui.cloud.clients import ON_SERVER_ENV
from pilot_tui.deploy.worker_container import (
    DOCKERFILE,
    PROJECT_DIR,
    WorkerPlan,
    WorkerUnavailable,
    build_context,
    container_name,
    ensure_granted,
    files_archive,
    refusal,
    worker_plan,
)
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.deploy.context import DeployContext

Say = Callable[[str], None]
ROLE = "ci-worker"
SETTINGS_HASH = "pilot.worker.settings"
FILES_LABEL = "pilot.worker.files"  # the files it was given, by name
VERSION_LABEL = "pilot.worker.version"  # the Pilot that made it
# A release under way ends before the worker stops (the first SIGTERM waits for it), as
# the systemd example in the README gives a laptop worker: `docker stop` waits this long.
STOP_TIMEOUT = 900


def find(client: DockerClient, project: str) -> Container | None:
    from docker.errors import NotFound

    try:
        return client.containers.get(container_name(project))
    except NotFound:
        return None


def install(client: DockerClient, plan: WorkerPlan, say: Say, settle: float = 5.0) -> bool:
    """The worker running as ``plan`` says; True when it was (re)made, False when it ran
    so already. A worker in the middle of a release is stopped as `docker stop` does
    (SIGTERM: it ends the release first), not killed. WorkerUnavailable, leaving the
    worker as it is, when this machine would give it less than it has (a secret file, a
    password) or an older Pilot; and when the new one stops within ``settle`` seconds
    (its last lines said)."""
    from docker.types import LogConfig

    current = find(client, plan.project)
    if (
        current is not None
        and current.labels.get(SETTINGS_HASH) == plan.settings_hash
        and current.status == "running"
    ):
        return False
    if current is not None:
        _refuse_less(current, plan)
    _ensure_image(client, plan, say)
    if current is not None:
        _stop(current, plan.name, say)
        current.remove(force=True)
    api = client.api
    # The API's own call: the SDK's containers.create takes no stop timeout, and `docker
    # stop` (and the engine's own stop) must wait for a release under way to end.
    made = api.create_container(
        plan.image,
        name=plan.name,
        labels={
            "pilot.project": plan.project,
            "pilot.role": ROLE,
            SETTINGS_HASH: plan.settings_hash,
            # (names only: what a machine with less would take away)
            FILES_LABEL: json.dumps(sorted([*plan.files, *plan.secret_environment])),
            VERSION_LABEL: plan.version,
        },
        # ON_SERVER_ENV too: every AWS client the instance role's from the first import.
        environment={**plan.environment, **plan.secret_environment, ON_SERVER_ENV: "1"},
        stop_signal="SIGTERM",
        stop_timeout=STOP_TIMEOUT,
        host_config=api.create_host_config(
            binds={plan.socket: {"bind": "/var/run/docker.sock", "mode": "rw"}},
            network_mode="host",
            restart_policy={"Name": "unless-stopped"},
            # An init as its PID 1 (found benchmarking: a stop in its first second, before
            # Python set its handlers, was ignored by a PID 1 worker, and `docker stop`
            # waited out its 15 minutes); the init hands SIGTERM on to the worker.
            init=True,
            mem_limit="512m",
            log_config=LogConfig(type="json-file", config={"max-size": "5m", "max-file": "3"}),
        ),
    )
    container = client.containers.get(made["Id"])
    container.put_archive("/", files_archive(plan))
    container.start()
    _watch_start(container, settle)
    say(f"CI worker {plan.name} started on the Pilot Server, from {plan.image}")
    _prune_images(client, plan.image)
    return True


def _refuse_less(current: Container, plan: WorkerPlan) -> None:
    """WorkerUnavailable when ``plan`` would take from the running worker a file this
    machine should have and does not (CI releases of that app would then fail), or give
    it an older Pilot (a teammate's outdated install)."""
    try:
        had = set(json.loads(current.labels.get(FILES_LABEL, "[]")))
    except ValueError:
        had = set()
    given = {*plan.files, *plan.secret_environment}
    missing = sorted(p for p in had & plan.expected if p not in given)
    if missing:
        raise WorkerUnavailable(
            f"this machine has no {', '.join(missing)}, which the worker on the Pilot Server "
            "was given: it is left as it is (its CI releases would fail without them); deploy "
            "from the machine that has them, or set them here (pilot-tui secrets set; the "
            "notification webhook's variable in your environment)"
        )
    made_by = current.labels.get(VERSION_LABEL, "")
    if _version(made_by) > _version(plan.version):
        raise WorkerUnavailable(
            f"the worker on the Pilot Server is Pilot {made_by}'s, newer than this machine's "
            f"{plan.version}: it is left as it is; upgrade pilot-tui here"
        )


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def _stop(container: Container, name: str, say: Say) -> None:
    if container.status in ("running", "restarting"):
        say(f"stopping the CI worker {name} (after the release under way, if one is)")
        container.stop(timeout=STOP_TIMEOUT)


def _watch_start(container: Container, settle: float) -> None:
    """WorkerUnavailable when the container stops or restarts within ``settle`` seconds:
    a worker that cannot start (its bucket refused, its image broken) said now, not
    found later by a run that waits for it."""
    deadline = time.monotonic() + settle
    while True:
        container.reload()
        restarts = int(container.attrs.get("RestartCount") or 0)
        if container.status not in ("running", "created") or restarts:
            from pilot_tui import redact

            said = container.logs(tail=8).decode(errors="replace").strip()
            raise WorkerUnavailable(
                f"the CI worker stopped as it started ({container.status}); its last lines:"
                f"\n{redact.text(said)}"
            )
        if time.monotonic() >= deadline:
            return
        time.sleep(0.5)


def _prune_images(client: DockerClient, kept: str) -> None:
    """The worker's older images removed (one another project's worker still runs is
    refused by the engine, and kept)."""
    from docker.errors import APIError

    repository = kept.partition(":")[0]
    for image in client.images.list(name=repository):
        if kept not in image.tags and image.id:
            with contextlib.suppress(APIError):
                client.images.remove(image.id)


def _ensure_image(client: DockerClient, plan: WorkerPlan, say: Say) -> None:
    from pilot_tui.deploy.build.bases import ensure_built

    failed = ensure_built(
        client,
        plan.image,
        lambda: build_context(plan.base),
        DOCKERFILE.format(base=plan.base, project=PROJECT_DIR),
        lambda: say(
            f"building the CI worker's image {plan.image} from {plan.base} on the Pilot Server"
        ),
    )
    if failed is not None:
        raise WorkerUnavailable(f"the CI worker's image {plan.image}: {failed}")


def remove(client: DockerClient, project: str, say: Say) -> bool:
    """The worker gone from the server (after the release under way, if one is; its image
    stays); whether it was there."""
    container = find(client, project)
    if container is None:
        return False
    _stop(container, container.name or container_name(project), say)
    container.remove(force=True)
    return True


def refresh(ctx: DeployContext, say: Say) -> None:
    """After a deploy from a person's machine: the worker on the Pilot Server brought up
    to date with this machine's pilot.toml and secrets (``server.ci_worker``), or removed
    when pilot.toml no longer asks for it. Never by a CI run (its .pilot/ holds no secret)
    nor by a worker's own release (a laptop's, or this one's on the server), nor when the
    project is not on AWS (``--sandbox``: the check of pilot.toml said why already). A
    problem is a warning: the release itself does not depend on it."""
    from docker.errors import DockerException

    from pilot_tui import redact
    from pilot_tui.cloud.oidc_exchange import in_github_actions

    target, file, client = ctx.target, ctx.project_file, ctx.client
    if client is None or target is None or file is None or ctx.requested_by is not None:
        return
    if target.on_server or in_github_actions() or refusal(ctx.config) is not None:
        return
    try:
        if ctx.config.server.ci_worker:
            plan = worker_plan(ctx.config, file, ctx.state_dir, target)
            ensure_granted(ctx.state_dir)
            install(client, plan, say)
        elif remove(client, ctx.project, say):
            say("removed the CI worker from the Pilot Server: server.ci_worker is off")
    except (PilotError, DockerException, OSError) as exc:
        said = str(exc) if isinstance(exc, PilotError) else redact.clip(str(exc), 300)
        say(f"warning: the CI worker on the Pilot Server was not brought up to date: {said}")
