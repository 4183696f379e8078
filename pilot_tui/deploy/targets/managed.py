"""Managed container targets (AWS Lambda, ECS on Fargate, Google Cloud Run): what the engine
asks of each.

The engine builds the image on the Docker host and pushes it to the target's registry
(registry.py); a ManagedTarget then makes a new *revision* from it and moves traffic to it.
Each release records the target's own name for that revision (a Lambda version, an ECS task
definition ARN, a Cloud Run revision) so a rollback moves traffic back without a rebuild.

UI-free, and the cloud libraries are imported only inside the target modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pilot_tui.cloud.errors import CloudError
from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy.context import CancelToken
from pilot_tui.deploy.targets.base import LogLine

Say = Callable[[str], None]


# One class with the cloud wing's error: a refused cloud call (gcp_api.ApiError, the AWS
# converter) is a TargetError wherever a target's errors are caught.
TargetError = CloudError


@dataclass(frozen=True)
class Revision:
    ref: str  # the target's name for it: Lambda version "3", task definition ARN, revision
    url: str  # where the app answers once traffic is on it
    detail: str  # one line for the deploy log


@dataclass(frozen=True)
class Probe:
    """One look at the live revision's health path (the watch after a release)."""

    healthy: bool | None  # None: it could not be asked (the platform's API failed)
    detail: str  # its status, or what it raised, or why it could not be asked
    # No look can ever be made here (the sandbox's functions need a Docker it cannot
    # reach): watching would only wait out target.watch
    never: bool = False


@dataclass(frozen=True)
class TargetStatus:
    health: str  # healthy | unhealthy (why) | not deployed | stopped
    url: str  # "-" when not deployed
    detail: str = ""  # e.g. "1/1 tasks running", "revision api-00003 serving 100%"

    @property
    def ok(self) -> bool:
        return self.health in ("healthy", "not deployed")


class ManagedTarget(Protocol):
    """One app on one managed platform. Methods block; the engine runs them in a worker."""

    kind: str
    cancel: CancelToken  # the deploy's Cancel: long waits (ECS rollouts) stop when it is set

    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        """Create (first time) or update the app from ``image`` (a registry reference) with
        ``env``; return the new revision once it serves traffic. ``release`` is Pilot's id
        (v1, v2, ...) for tags and names."""
        ...

    def activate(self, ref: str, say: Say, *, wait: bool = True) -> Revision:
        """Send all traffic to an earlier revision ``ref`` (a rollback). Without ``wait``
        return once asked, not once it serves (putting the live one back after a cancel)."""
        ...

    def status(self) -> TargetStatus: ...

    def probe(self, path: str, revision: str | None = None) -> Probe | None:
        """Ask the live revision (or ``revision``) for ``path`` as its users would (a GET);
        None when the kind has no such look yet (its releases are not watched)."""
        ...

    def serving(self) -> str | None:
        """The revision taking the traffic now (None: unknown), read before a revert: a
        release made meanwhile by someone else is not undone."""
        ...

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        """The app's recent log lines, oldest first (CloudWatch / Cloud Logging)."""
        ...

    def destroy(self, say: Say) -> list[str]:
        """Remove everything the target made for this app; what was removed, one line each.
        Idempotent: a second call finds nothing and says so."""
        ...


def aws_clients(config: PilotConfig, state_dir: Path) -> Callable[..., Any]:
    """``make(service, **options)`` -> a boto3 client for deploys: the sandbox's emulator, else
    the deployer's key (`pilot-tui deployer create`), else the profile in pilot.toml."""
    from pilot_tui.cloud import clients

    sandbox = config.server.home == "sandbox"  # never started here: a deploy starts them first
    aws = clients.project_aws(config, state_dir, sandbox=sandbox, start=False, role="deployer")
    if aws is None:
        from pilot_tui.cloud.sandbox import STOPPED

        raise TargetError(f"{STOPPED}; a deploy or `pilot-tui server up` starts them")
    return aws.client
