"""`pilot-tui preview list|destroy|prune`: previews where their targets run them (the
Docker host's containers, the previews' own Lambda functions, say which exist and when each
expires)."""

from __future__ import annotations

import argparse
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pilot_tui.cli.common import confirm, error, load_valid, not_confirmed, print_json, say
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy.context import DeployError
from pilot_tui.deploy.previews import NoSuchPreview, Preview, PreviewError
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.deploy.engine import Deployer


def _with_previews(config: PilotConfig) -> list[str]:
    """The apps whose target runs previews."""
    from pilot_tui.deploy.targets import target_for

    return [app.name for app in config.apps if target_for(app).previews_refused is None]


def _hosted(config: PilotConfig, apps: list[str]) -> list[str]:
    """Of ``apps``, those whose previews run on the Docker host: only those need it opened
    (nothing is built here: a Cloud Run or Lambda preview is found and removed in its
    cloud)."""
    from pilot_tui.deploy.targets import on_docker_host

    return on_docker_host(a for a in config.apps if a.name in apps)


def _previews_engine(
    opened: contextlib.ExitStack,
    ns: argparse.Namespace,
    loaded: tuple[ProjectFile, PilotConfig],
    apps: list[str],
    verb: str,
    *,
    share: bool,
) -> tuple[Deployer, list[str], list[str]] | None:
    """An engine for the previews of ``apps``, entered on ``opened``, with the Docker host
    opened for those whose previews run there: (the engine, the apps it serves, those left
    out). When the host cannot be opened (the opening only: a failure once it answers is
    raised), the others' alone, and a warning names those not ``verb`` ("listed"); None,
    said, when there are no others."""
    from pilot_tui.deploy.host import HostError

    hosted = _hosted(loaded[1], apps)
    try:
        engine = opened.enter_context(deployer(ns, apps=hosted, loaded=loaded, share=share))
        return engine, apps, []
    except HostError as exc:
        others = [name for name in apps if name not in hosted]
        if not others:
            error(f"the previews of {', '.join(hosted)} could not be {verb}: {exc}")
            return None
        say(f"warning: the previews of {', '.join(hosted)} are not {verb}: {exc}")
        engine = opened.enter_context(deployer(ns, apps=[], loaded=loaded, share=share))
        return engine, others, hosted


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(preview: Preview, now: float) -> str:
    left = preview.expires - now
    if left <= 0:
        return "expired"
    hours, minutes = divmod(int(left) // 60, 60)
    return f"in {hours}h{minutes:02d}m" if hours else f"in {minutes}m"


def _simulated(config: PilotConfig, preview: Preview, hosted: list[str]) -> bool:
    """Whether nothing answers at the preview's address: in the sandbox, a cloud's (the
    local AWS API makes a function URL up), not the Docker host's (``hosted``: it answers
    here)."""
    return config.server.home == "sandbox" and bool(preview.url) and preview.app not in hosted


def _as_json(preview: Preview, simulated: bool = False) -> dict[str, object]:
    """As `status --json` says an address: ``url`` what answers, ``simulated_url`` what the
    sandbox's cloud made up (nothing answers there); times in UTC, as "…Z"."""
    expires = datetime.fromtimestamp(preview.expires, UTC)
    return {
        "app": preview.app,
        "name": preview.name,
        "full_name": preview.full,
        "release": preview.release or None,
        "url": None if simulated else preview.url or None,
        "simulated_url": (preview.url or None) if simulated else None,
        "state": preview.state or None,
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def preview_list(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    apps = _with_previews(loaded[1])
    found: list[Preview] = []
    hosted = _hosted(loaded[1], apps)
    with contextlib.ExitStack() as opened:
        if apps:
            engine = _previews_engine(opened, ns, loaded, apps, "listed", share=False)
            if engine is None:  # nothing could be listed: not "no previews"
                return EXIT_FAILED
            found = engine[0].list_previews(engine[1])
    if ns.json:
        print_json([_as_json(p, _simulated(loaded[1], p, hosted)) for p in found])
        return EXIT_OK
    if not found:
        print("no previews (pilot-tui deploy APP --preview NAME makes one)")
        return EXIT_OK
    now = time.time()
    rows = [
        (
            p.full,
            p.release or "-",
            p.state or "-",
            f"{_when(p.expires)} ({_left(p, now)})",
            f"simulated: {p.url}" if _simulated(loaded[1], p, hosted) else p.url or "-",
        )
        for p in found
    ]
    header = ("PREVIEW", "RELEASE", "STATE", "EXPIRES", "URL")
    # Columns as wide as what they hold: the URL, last, is what wraps in a narrow terminal.
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        cells = (f"{cell:{width}}" for cell, width in zip(row[:4], widths, strict=True))
        print("  ".join(cells) + f"  {row[4]}")
    return EXIT_OK


def preview_destroy(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    if loaded[1].app(ns.app) is None:
        error(loaded[1].no_app(ns.app, loaded[0].display))
        return EXIT_INVALID
    hosted = _hosted(loaded[1], [ns.app])
    with deployer(ns, apps=hosted, loaded=loaded, deploying=bool(hosted)) as engine:
        if engine.queue is not None and hosted:  # a CI run: the server's worker removes it
            return _removed_by_the_worker(engine, ns)
        try:  # found first: nothing to remove is said before anything is asked
            preview = engine.find_preview(ns.app, ns.name)
        except NoSuchPreview as exc:
            return _nothing_to_remove(exc, ns.missing_ok)
        except PreviewError as exc:
            error(str(exc))
            return exc.exit_code
        what = "its containers, route and images" if hosted else f"its {_made(loaded[1], ns.app)}"
        answer = confirm(
            f"Remove the preview {preview.full!r}: {what}, and its release history?", ns.yes
        )
        if not answer:
            return not_confirmed(answer)
        engine.remove_preview(preview, say)
    return EXIT_OK


def _nothing_to_remove(exc: NoSuchPreview, missing_ok: bool) -> int:
    """No such preview: an error, or with --missing-ok (the workflow's close) done."""
    if not missing_ok:
        error(str(exc))
        return exc.exit_code
    say(f"nothing to remove: {exc}")
    return EXIT_OK


def _removed_by_the_worker(engine: Deployer, ns: argparse.Namespace) -> int:
    """A pull request's run (the workflow's, on its closing): the preview of an app of the
    Docker host removed by the Pilot Server's worker. Nothing to ask (a run has no
    terminal: the workflow passes --yes)."""
    if not ns.yes:
        error("a CI run cannot be asked: add --yes to remove the preview")
        return EXIT_INVALID
    try:
        removed = engine.request_preview_removal(ns.app, ns.name)
    except NoSuchPreview as exc:
        return _nothing_to_remove(exc, ns.missing_ok)
    except DeployError as exc:
        error(str(exc))
        return exc.exit_code
    # (each thing removed was said as the worker went)
    say(f"removed the preview {ns.app}--{ns.name} ({len(removed)} parts) on the Pilot Server")
    return EXIT_OK


def _made(config: PilotConfig, app: str) -> str:
    """What the target makes for a preview of ``app``, in a person's words."""
    from pilot_tui.deploy.targets import target_for
    from pilot_tui.deploy.targets.container import ManagedContainer

    found = config.app(app)
    assert found is not None  # checked by the caller
    target = target_for(found)
    return target.made if isinstance(target, ManagedContainer) else "copy of the app"


def preview_prune(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    config = loaded[1]
    unknown = [name for name in ns.apps if config.app(name) is None]
    if unknown:
        error(config.no_app(unknown[0], loaded[0].display))
        return EXIT_INVALID
    apps = [name for name in _with_previews(config) if not ns.apps or name in ns.apps]
    removed: list[Preview] = []
    hosted = _hosted(config, apps)
    unpruned: list[str] = []
    with contextlib.ExitStack() as opened:
        if apps:
            engine = _previews_engine(opened, ns, loaded, apps, "pruned", share=True)
            if engine is None:
                return EXIT_FAILED
            removed = engine[0].prune_previews(say, apps=engine[1])
            unpruned = engine[2]
    if ns.json:
        print_json([_as_json(p, _simulated(config, p, hosted)) for p in removed])
    elif not removed:
        say("no preview has expired" + (" of the others" if unpruned else ""))
    return EXIT_FAILED if unpruned else EXIT_OK
