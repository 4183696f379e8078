"""The Target contract: what every deploy target kind does for one app, and what it returns.

The engine, `status`, `logs`, `app destroy`, `server destroy`, the CLI and the screens call
these methods and never branch on the kind: the kind is looked up once, in the registry
(targets/__init__.py). Adding a kind is one module implementing Target plus one registry
line (docs/adding-a-target.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol, TypeVar

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import addresses, history
from pilot_tui.deploy.context import Context, DeployContext, DeployError, RunLog, Say
from pilot_tui.deploy.events import StageFailed
from pilot_tui.deploy.previews import Preview, PreviewError
from pilot_tui.errors import PilotError

Settings = TypeVar("Settings")


def target_settings(app: AppSettings, kind: type[Settings]) -> Settings:
    """``app.target`` as the settings class of the kind serving it (the registry chose that
    kind by target.kind, so only a wrong registry line fails here)."""
    target = app.target
    if not isinstance(target, kind):
        raise TypeError(f"app {app.name!r}: target {target.kind!r} is not a {kind.__name__}")
    return target


class NoLogs(PilotError):
    """This app has no log lines to show (a static site); the message says why."""

    title = "No logs"


@dataclass(frozen=True)
class LogLine:
    """One line of an app's own log, from wherever it runs."""

    timestamp: float  # seconds since the epoch
    text: str
    source: str = ""  # container, log stream, instance, when the platform says


@dataclass(frozen=True)
class AppStatus:
    """One app at a glance: its live release, its health and where it answers."""

    app: str
    release: str  # "-" when never deployed
    health: str  # healthy | unhealthy (...) | stopped | not deployed | managed target
    url: str  # what answers, "-" when nothing does
    simulated: str = ""  # in the sandbox: the address its cloud made up (addresses.py)
    # More a target can say, a line each (the edge: certificates, traffic), and the same
    # as data for --json.
    notes: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    # What the row is ("app", "proxy", "database") and its plain name ("" for an app's:
    # ``app``), for --json; ``app`` is how a table shows it ("(db main)").
    kind: str = "app"
    name: str = ""

    def where(self) -> str:
        return addresses.Address("" if self.url == "-" else self.url, self.simulated).text()

    @property
    def ok(self) -> bool:
        return self.health in ("healthy", "not deployed", "managed target")

    @property
    def known(self) -> bool:
        """Whether its health could be asked at all ("unknown (why)" when not)."""
        return not self.health.startswith("unknown")


def not_deployed(app: str, state_dir: Path) -> AppStatus:
    """The row of an app no release of which is live; a failed or cancelled last deploy
    is said under it (found walking: a first deploy that failed read as never tried)."""
    try:
        releases = history.load(state_dir, app)
    except history.HistoryError:
        releases = []
    notes: tuple[str, ...] = ()
    if releases and releases[-1].status in (history.FAILED, history.CANCELLED):
        last = releases[-1]
        notes = (
            f"last deploy {last.status}: {last.id} at {last.created}"
            + (f" ({redact.clip(last.note, 120)})" if last.note else "")
            + f"; pilot-tui releases {app}",
        )
    return AppStatus(app, "-", "not deployed", "-", notes=notes)


@dataclass(frozen=True)
class WaypointUse:
    """One Waypoint plugin and its settings: a `use "PLUGIN" { ... }` block."""

    plugin: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WaypointApp:
    """How Waypoint's own plugins deploy an app of a kind (`server.engine = "waypoint"`)."""

    deploy: WaypointUse
    release: WaypointUse | None = None
    registry: WaypointUse | None = None  # where its image goes
    site: bool = False  # a static site: a static build is uploaded as its files
    ssm_secrets: bool = False  # its secrets are in SSM Parameter Store, referenced by path
    unsupported: str | None = None  # why Waypoint cannot deploy it as configured


class Target(Protocol):
    """One app on one kind of target. Methods block (the TUI runs them in a worker); failures
    of deploy and rollback are DeployError naming the stage, and a Cancel is Cancelled."""

    kind: ClassVar[str]  # the schema's target.kind this class serves
    # Whether status, logs and destroy need the Docker host (apps that run on it).
    on_docker_host: ClassVar[bool]
    has_logs: ClassVar[bool]  # whether the app writes log lines of its own (a site does not)

    app: AppSettings

    def needs_docker(self) -> bool:
        """Whether deploying the app talks to the Docker host (to build, or to run it)."""
        ...

    def builds_image(self) -> bool:
        """Whether the app ships as an image built from a Dockerfile (its own or Pilot's):
        not a site's files or a zip Lambda's code, which go up as they are."""
        ...

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        """Build, push, deploy and release the app's current source; the release made (or
        the live one, when nothing changed and not ``force``)."""
        ...

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        """Put an earlier release (``wanted``, else the one before the live one) back live,
        without a rebuild; the new release recording it."""
        ...

    def status(self, ctx: Context) -> AppStatus:
        """The app's live release and health; an unreachable platform is a status, not a
        crash."""
        ...

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]:
        """The app's log lines after ``since`` (recent ones when None), oldest first, not yet
        redacted; raises NoLogs when the kind has none."""
        ...

    def stream(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        """The app's last ``tail`` log lines as `logs` prints them, redacted, then with
        ``follow`` new ones as they come, until the caller stops reading; notes (no lines
        yet, older ones cut off) through ``say``. Raises NoLogs when the kind has none, a
        PilotError naming the app when nothing of it runs to read."""
        ...

    def requests(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        """The app's requests as Pilot's edge logged them (time, status, method, host and
        path, duration, size), redacted, like ``stream``. Raises NoLogs when the kind is not
        behind Pilot's edge (its cloud logs its requests)."""
        ...

    def log_source(self, config: PilotConfig) -> str:
        """Where the app's log lines come from, in a person's words."""
        ...

    def destroy_question(self, config: PilotConfig) -> str:
        """What `app destroy` asks before removing the app."""
        ...

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        """Remove what the target made for the app (idempotent; the history is kept); what
        was removed, one line each, also said through ``say``."""
        ...

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        """The app as Waypoint's plugins would deploy it (waypoint.py writes waypoint.hcl)."""
        ...

    # Why the kind runs no previews (None: it does).
    previews_refused: ClassVar[str | None]

    def preview(self, preview: Preview) -> Target:
        """The target that deploys, and destroys, ``preview`` of the app (the app as
        ``preview_app`` makes it); PreviewError saying why when the kind has none."""
        ...

    def preview_app(self, name: str) -> AppSettings:
        """The app as its preview ``name`` runs (previews.preview_app, with this kind's
        settings for a preview); PreviewError saying why when the kind has none."""
        ...

    def preview_name_limits(self, project: str) -> dict[str, tuple[int, int]]:
        """The names of this kind's own that a preview's name must fit in, beside those
        every preview has (previews.name_room): what -> (the characters it takes besides
        --NAME, the most it may have)."""
        ...

    def previews(self, ctx: Context) -> list[Preview]:
        """The app's previews where they run ([] for a kind that has none)."""
        ...

    def runs_now(self, ctx: Context) -> bool:
        """Of a preview's target: whether its platform has it now, asked directly, where
        ``previews`` may not list it yet (Lambda's tagging API lags a new function). False
        where the listing is direct (the Docker host's containers) or there is none."""
        ...


class NoPreviews:
    """The preview part of the Target contract for a kind that runs none (yet)."""

    kind: ClassVar[str]
    previews_refused: ClassVar[str | None] = (
        "previews run on the Docker host, Lambda and Cloud Run only"
    )
    app: AppSettings

    def preview(self, preview: Preview) -> Target:
        return self.refuse_previews()

    def preview_app(self, name: str) -> AppSettings:
        return self.refuse_previews()

    def refuse_previews(self) -> NoReturn:
        raise PreviewError(
            f"{self.app.name} runs on {self.kind}: {self.previews_refused}",
            hint='previews run on the Docker host (target.kind = "server"), Lambda and Cloud Run',
        )

    def preview_name_limits(self, project: str) -> dict[str, tuple[int, int]]:
        return {}

    def previews(self, ctx: Context) -> list[Preview]:
        return []

    def runs_now(self, ctx: Context) -> bool:
        return False


def watching(
    ctx: DeployContext, watch: Callable[[], str | None], say: Say | None = None
) -> str | None:
    """``watch`` run (why to revert the new release, or None). Ctrl+C in the CLI (a
    KeyboardInterrupt) stops it as the app's Cancel does: the new release stays live and
    the deploy ends as released, cancelled from there on (the CLI then exits 130); said
    with ``say`` when given."""
    try:
        return watch()
    except KeyboardInterrupt:
        ctx.cancel.set()
        if say is not None:
            say("stopped watching: the new release stays live")
        return None


def reverted(
    ctx: DeployContext,
    log: RunLog,
    name: str,
    releases: tuple[history.Release, history.Release],
    why: str,
    tail: tuple[str, ...] = (),
) -> NoReturn:
    """A watch's revert, once the good release serves again (every kind that watches):
    the bad one recorded reverted with ``why``, the good one live again, said as the
    release stage's failure with the bad one's last lines (``tail``); DeployError."""
    bad, good = releases
    unshared = ""  # what the last push said (each pushes the whole history)
    for record in history.reverted(bad, good, why):
        try:
            ctx.record_release(log, name, record)
            unshared = ""
        except DeployError as exc:  # a CI run's record not shared: recorded here, said
            unshared = str(exc)
    message = f"{bad.id} was reverted: {why}; {good.id} serves again"
    if unshared:
        message += f" (its record was not shared: {unshared})"
    log.emit(StageFailed(name, "release", message, tail))  # the stage the screens show
    raise DeployError("watch", message, tail)


def emulators_stopped(ctx: Context) -> bool:
    """Whether the project is the sandbox and its emulators are down (a cloud target's
    state lived in them); never for a real cloud."""
    from pilot_tui.cloud.sandbox import Sandbox

    return ctx.config.server.home == "sandbox" and not Sandbox(ctx.state_dir).running()
