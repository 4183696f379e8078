"""What a deploy target gets from the engine, so no target imports the engine.

The engine (engine.Deployer) is one DeployContext: the project (config, folders), the Docker
host's client when one is open, one cancellation token, and the deploy-time services every
kind shares (the app's environment, an image build, the shared release history). Day-two
operations (status, logs, destroy) need only a Context: ProjectContext is one without an
engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import history
from pilot_tui.deploy.events import Event, Timer
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.errors import Cancelled, PilotError
from pilot_tui.runner import Command, Interrupt, RunnerError, capture

if TYPE_CHECKING:
    from docker import DockerClient

# Cancelled (errors.py) is re-exported: targets take it with the rest of their context.
__all__ = [
    "NEVER",
    "CancelToken",
    "Cancelled",
    "Context",
    "DeployContext",
    "DeployError",
    "ProjectContext",
    "RunLog",
    "Say",
    "git_commit",
]

Say = Callable[[str], None]


class DeployError(PilotError):
    """A deploy or rollback failed in ``stage``; ``logs`` has the new release's last lines.
    An app name that is not in pilot.toml is bad input (exit 2), not a failure."""

    title = "Not deployed"

    def __init__(
        self, stage: str, message: str, logs: tuple[str, ...] = (), *, exit_code: int | None = None
    ) -> None:
        super().__init__(message, exit_code=exit_code)
        self.stage = stage
        self.logs = logs


# One deploy's Cancel is the one cancellation token (runner.Interrupt): set by the TUI's Cancel
# or Ctrl+C, checked between steps and in long waits (a build, a health check, an ECS rollout).
CancelToken = Interrupt


class _Never(Interrupt):
    """The token of work that must not be cancelled (putting the live release back): shared,
    so asking it to stop does nothing."""

    def request(self) -> None:
        pass

    set = request


NEVER: CancelToken = _Never()


class RunLog(Protocol):
    """One run's event sink: each event goes to the screen or terminal and the run log."""

    timer: Timer

    def emit(self, event: Event) -> None: ...

    def line(self, stage: str, app: str) -> Say:
        """A function that reports one output line of ``stage``."""
        ...


class Context(Protocol):
    """What every target operation may use: the project, and the Docker host when open."""

    config: PilotConfig
    state_dir: Path
    root: Path
    client: DockerClient | None  # the Docker host's SDK client; None when no host was opened
    target: DockerTarget | None  # the Docker host itself (its address, local or not)
    cancel: CancelToken

    @property
    def project(self) -> str: ...


class DeployContext(Context, Protocol):
    """What a deploy or a rollback also gets from the engine."""

    lock_wait: float  # seconds to wait for the app's deploy lock
    drain: float  # seconds the old release keeps serving after the switch
    settle: float  # seconds a healthy new release must stay up
    watch: bool  # whether a new live release is watched (and reverted when it goes bad)
    project_file: Path | None  # pilot.toml itself (None: a Deployer made without it)
    requested_by: str | None  # a worker's release: who asked for it (None: this machine)

    @property
    def docker(self) -> DockerTarget:
        """The Docker host; raises DeployError when this deploy did not open one."""
        ...

    @property
    def docker_client(self) -> DockerClient:
        """The Docker host's SDK client; raises DeployError when this deploy did not open one."""
        ...

    def environment(self, app: AppSettings) -> dict[str, str]:
        """The app's env and its secrets' values; raises DeployError when one is missing."""
        ...

    def build(self, log: RunLog, app: AppSettings) -> tuple[str, str]:
        """(image id, tag) of the app's image on the Docker host; raises DeployError."""
        ...

    def commit(self, app: AppSettings) -> str | None:
        """The commit of the source ``app``'s release is made from (a CI run's, for an
        image it built), or None when it is not in git."""
        ...

    def pull(self, log: RunLog, name: str) -> None:
        """Take the shared history first: a teammate may have released since."""
        ...

    def record_release(self, log: RunLog, name: str, release: history.Release) -> None:
        """Keep ``release`` in the history (and the state bucket's copy)."""
        ...


@dataclass
class ProjectContext:
    """A Context without an engine: for status, logs and destroy from the CLI or a screen."""

    config: PilotConfig
    state_dir: Path
    root: Path
    client: DockerClient | None = None
    target: DockerTarget | None = None
    cancel: CancelToken = field(default_factory=CancelToken)

    @property
    def project(self) -> str:
        return str(self.config.project.name)


def git_commit(folder: Path) -> str | None:
    """The source's git commit (with -dirty when it has uncommitted changes), if any."""
    try:
        head = capture(Command(("git", "rev-parse", "--short=12", "HEAD"), cwd=folder, timeout=10))
        if head.returncode != 0:
            return None
        dirty = capture(Command(("git", "status", "--porcelain"), cwd=folder, timeout=10))
    except RunnerError:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
