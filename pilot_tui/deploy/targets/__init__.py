"""Deploy target kinds: one module or folder per kind, each implementing the Target contract
(base.py), registered once in the table below (see docs/adding-a-target.md).

The kinds themselves come from the schema (config.schema.TARGET_KINDS); the table is read
lazily, so importing one kind's module does not import every cloud's."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, get_args

from pilot_tui.config import schema
from pilot_tui.config.schema import TARGET_KINDS, AppSettings, Cloud, Serves
from pilot_tui.deploy.targets.base import Target

if TYPE_CHECKING:
    from pilot_tui.deploy.build.stack import Detected

# The clouds whose kinds a server home offers for a new app, its own first, after the Docker
# host. The sandbox simulates AWS whole (moto; Google's clouds only as storage), and a project
# on a team's own Docker host ("host") deploys there.
OFFERED_CLOUDS: dict[str, tuple[Cloud, ...]] = {
    "sandbox": ("aws",),
    "aws": ("aws", "gcp"),
    "gcp": ("gcp", "aws"),
    "host": (),
}


# Each target kind -> (module, class) implementing it: imported when an app of that kind
# is first looked at (a deploy to the Docker host never imports Google's or AWS's clients).
KINDS: dict[str, tuple[str, str]] = {
    "server": ("pilot_tui.deploy.targets.docker_host.target", "DockerHost"),
    "lambda": ("pilot_tui.deploy.targets.lambda_.target", "Lambda"),
    "ecs": ("pilot_tui.deploy.targets.ecs.target", "Ecs"),
    "cloud-run": ("pilot_tui.deploy.targets.cloud_run.target", "CloudRun"),
    "s3-cloudfront": ("pilot_tui.deploy.targets.s3_site.target", "S3CloudFront"),
    "gcs-cdn": ("pilot_tui.deploy.targets.gcs_site.target", "GcsCdn"),
}


@functools.cache
def implementation(kind: str) -> Callable[[AppSettings], Target]:
    """The class that implements target ``kind``."""
    module, name = KINDS[kind]
    made: Callable[[AppSettings], Target] = getattr(importlib.import_module(module), name)
    return made


def registry() -> dict[str, Callable[[AppSettings], Target]]:
    """Each target kind -> the class that implements it (every kind's module imported)."""
    assert sorted(KINDS) == sorted(TARGET_KINDS), "a target kind of the schema has no class"
    return {kind: implementation(kind) for kind in KINDS}


def target_for(app: AppSettings) -> Target:
    """The Target for ``app`` (an AppSettings), chosen by its target.kind: the one place
    anything looks at the kind."""
    return implementation(app.target.kind)(app)


def app_or_preview(config: schema.PilotConfig, name: str) -> AppSettings | None:
    """The app ``name`` of pilot.toml, or for APP--NAME the preview NAME of APP as it
    runs (previews.preview_app), when APP's kind runs previews: its logs and releases are
    its own. None when there is neither."""
    from pilot_tui.deploy import previews

    app = config.app(name)
    if app is not None:
        return app
    parts = previews.split(name)
    owner = config.app(parts[0]) if parts else None
    if parts is None or owner is None or target_for(owner).previews_refused is not None:
        return None
    return target_for(owner).preview_app(parts[1])


def on_docker_host(apps: Iterable[AppSettings]) -> list[str]:
    """The names of the apps that run on the Docker host (status, logs and destroy of
    these need it open)."""
    return [app.name for app in apps if target_for(app).on_docker_host]


def _settings(kind: str) -> type[schema.Target] | None:
    """The schema's settings class of ``kind`` (None for a kind the schema does not know)."""
    return next((t for t in get_args(schema.Target) if t().kind == kind), None)


def kinds_for(home: str) -> tuple[str, ...]:
    """The target kinds offered to a new app on a server at ``home``, the natural ones first:
    the Docker host, then the kinds of the home's own cloud, then the other cloud's."""
    settings = [_settings(kind) for kind in TARGET_KINDS]
    clouds: tuple[Cloud | None, ...] = (None, *OFFERED_CLOUDS.get(home, ()))
    return tuple(s().kind for cloud in clouds for s in settings if s and s.cloud == cloud)


def _wanted(detected: Detected | None) -> Serves | None:
    """What a detected source asks to be served as, when it asks for anything particular."""
    if detected is not None and detected.static:
        return "files"
    if detected is not None and detected.handler:
        return "handler"  # a function, not a web server
    return None


def suggested_kind(home: str, detected: Detected | None, current: str | None = None) -> str:
    """The target kind for a new app whose source is ``detected`` on a server at ``home``: a
    static site goes to the first kind offered that serves files, a handler to one that runs
    handlers, anything else to the first kind offered (the Docker host). ``current``, a kind
    already chosen, is kept when it serves what was detected or nothing particular was (and
    when no kind offered does)."""
    offered = kinds_for(home)
    wanted = _wanted(detected)
    chosen = _settings(current) if current is not None else None
    if current is not None and (wanted is None or (chosen and wanted in chosen.serves)):
        return current
    fits = [kind for kind in offered if wanted in getattr(_settings(kind), "serves", ())]
    return fits[0] if fits else current or offered[0]


def runs_handlers(kind: str) -> bool:
    """Whether target ``kind`` runs a handler function (Lambda) as well as images."""
    settings = _settings(kind)
    return settings is not None and "handler" in settings.serves


def new_target(kind: str, detected: Detected | None) -> dict[str, str]:
    """The [[apps]] target table for a new app of ``kind``: a kind that runs handlers, given
    a source with a handler, is a zip function running it."""
    table = {"kind": kind}
    if runs_handlers(kind) and detected is not None and detected.handler:
        table.update(package="zip", handler=detected.handler)
    return table
