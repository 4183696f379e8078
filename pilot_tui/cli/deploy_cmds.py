"""`pilot-tui deploy|rollback|releases`: the deploy engine from a terminal, and the engine
the other commands on deployed apps open (`deployer`). Progress goes to stderr, results to
stdout; exit 1 when a deploy fails."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pilot_tui.cli.common import confirm, error, load_app, load_valid, print_json, say
from pilot_tui.deploy import history, previews
from pilot_tui.deploy.events import Event, Output, StageFailed, describe
from pilot_tui.deploy.host import HostError
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project

if TYPE_CHECKING:
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.config.schema import PilotConfig
    from pilot_tui.deploy.context import DeployError
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.shared_history import SharedHistory


class Printer:
    """Events as lines on stderr; build output indented, verbose only with --verbose."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.failed: set[tuple[str, str]] = set()  # (stage, message) said: not again (_fail)

    def __call__(self, event: Event) -> None:
        if (
            isinstance(event, Output)
            and not self.verbose
            and event.stage == "build"
            and not event.warning
        ):
            return
        if isinstance(event, StageFailed):
            self.failed.add((event.stage, event.message))
        say(describe(event))


@contextlib.contextmanager
def deployer(
    ns: argparse.Namespace,
    *,
    lock_wait: float = 0.0,
    apps: list[str] | None = None,
    share: bool = True,
    loaded: tuple[ProjectFile, PilotConfig] | None = None,
    watch: bool = True,
    deploying: bool = False,
) -> Iterator[Deployer]:
    """An engine for this project (see deploy.session.open_deployer), or raise SystemExit
    after saying why pilot.toml is unusable (a HostError, when the Docker engine cannot be
    reached, goes up to main). ``loaded`` is the (project file, config) the caller read."""
    from pilot_tui.deploy.session import open_deployer

    loaded = loaded or load_valid(ns)
    if loaded is None:
        raise SystemExit(EXIT_INVALID)
    pf, config = loaded
    with open_deployer(
        pf.path,
        config,
        Printer(getattr(ns, "verbose", False)),
        apps=apps,
        share=share,
        warn=say,
        lock_wait=lock_wait,
        watch=watch,
        deploying=deploying,
    ) as engine:
        yield engine


def _shared(config: PilotConfig, project: Project) -> SharedHistory | None:
    """The state bucket's copy of the release history, or None (said so when unreachable)."""
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history

    try:
        return shared_history(config, project.state_dir, project.root)
    except SharedHistoryError as exc:
        say(f"warning: {exc}; the release history stays local this time")
        return None


def _fail(exc: DeployError, engine: Deployer) -> int:
    """The failure said, once: not again when its stage's event said it already (found
    walking: every failed deploy or rollback printed its reason twice)."""
    said = isinstance(engine.emit, Printer) and (exc.stage, str(exc)) in engine.emit.failed
    if not said:
        error(f"{exc.stage}: {exc}")
    if exc.logs:
        say("the new release's last lines:")
        for line in exc.logs:
            say(f"  | {line}")
    return EXIT_FAILED


def _summarize(name: str, release: history.Release) -> None:
    """A line of a GitHub Actions run's summary page, in such a run."""
    from pilot_tui.deploy import from_ci

    from_ci.summarize(name, release.id, release.url or release.simulated_url or "")


def _break_locks(engine: Deployer, name: str) -> bool:
    """``name``'s deploy locks ended: the Docker host's and the state bucket's lease
    (shared_lease.py); whether one was held."""
    from pilot_tui.deploy.lock import break_lock
    from pilot_tui.deploy.shared_history import SharedHistoryError
    from pilot_tui.deploy.shared_lease import break_lease

    broke = engine.client is not None and break_lock(engine.client, engine.project, name)
    if engine.shared is not None:
        try:
            broke = break_lease(engine.shared, name) or broke
        except SharedHistoryError as exc:
            error(f"warning: the deploy lock in the state bucket was not broken: {exc}")
    return broke


def _broke_locks(engine: Deployer, names: list[str], yes: bool) -> bool:
    """--break-lock: each of ``names``' deploy locks ended after asking; False when there
    is no terminal to ask and no --yes."""
    if engine.client is None and engine.shared is None:
        return True  # no lock anywhere to break
    for name in names:
        answer = confirm(
            f"Break the deploy lock of {name}? Only do this if no deploy is running.", yes
        )
        if answer is None:
            return False
        if answer and _break_locks(engine, name):
            say(f"broke the lock of {name}")
    return True


def deploy(ns: argparse.Namespace) -> int:
    from pilot_tui.cloud.oidc_exchange import in_github_actions
    from pilot_tui.deploy.engine import DeployError

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    wanted = [a.name for a in loaded[1].apps] if ns.all else ns.apps
    if in_github_actions():  # a keyless run: what it can deploy, and keep a record of
        from pilot_tui.deploy import from_ci

        from_ci.check_run(loaded[1], wanted)
    if loaded[1].server.engine == "waypoint" and wanted:
        unknown = [n for n in wanted if loaded[1].app(n) is None]
        if unknown:
            error(loaded[1].no_app(unknown[0], loaded[0].display))
            return EXIT_INVALID
        from pilot_tui.cli.waypoint_cmds import waypoint_up

        return waypoint_up(loaded[1], loaded[0].path.parent, wanted)
    if ns.preview is not None and (len(wanted) != 1 or ns.all):
        error("--preview deploys one app: pilot-tui deploy APP --preview NAME")
        return EXIT_INVALID
    previewed = loaded[1].app(wanted[0]) if ns.preview is not None else None
    if previewed is not None:  # a name it cannot have: said before any host is reached
        from pilot_tui.deploy.engine import preview_name

        try:
            preview_name(loaded[1], previewed, ns.preview)
        except previews.PreviewError as exc:
            error(str(exc))
            return exc.exit_code
    watch = not ns.no_watch
    with contextlib.ExitStack() as opened:
        try:
            engine = opened.enter_context(
                deployer(
                    ns,
                    lock_wait=ns.wait,
                    apps=wanted,
                    loaded=loaded,
                    watch=watch,
                    deploying=True,
                )
            )
            unreachable: dict[str, str] = {}
        except HostError as exc:  # the apps elsewhere are still deployed, the others said
            unreachable = _on_the_host(loaded[1], wanted, ns.preview is not None, exc)
            if not unreachable:
                raise
            elsewhere = [name for name in wanted if name not in unreachable]
            engine = opened.enter_context(
                deployer(ns, lock_wait=ns.wait, apps=elsewhere, loaded=loaded, watch=watch)
            )
        names = wanted
        if not names:
            error(
                "name an app (pilot-tui deploy APP) or use --all; apps: "
                + (", ".join(a.name for a in engine.config.apps) or "none yet")
            )
            return EXIT_INVALID
        for name in names:  # every name checked before anything is built (exit 2 if not)
            engine.app(name)
        if ns.preview is not None:  # its own lock, never the app's
            try:
                names = [
                    previews.full_name(
                        names[0], engine.preview_name(engine.app(names[0]), ns.preview)
                    )
                ]
            except previews.PreviewError as exc:
                error(str(exc))
                return exc.exit_code
        if ns.break_lock and not _broke_locks(engine, names, ns.yes):
            return EXIT_INVALID  # no terminal to ask: refused before building anything
        if ns.preview is not None:
            try:
                release = engine.deploy_preview(wanted[0], ns.preview)
            except DeployError as exc:
                _fail(exc, engine)
                return exc.exit_code
            print(f"{release.app}\t{release.id}\t{release.url or '-'}")
            _summarize(release.app, release)
            return EXIT_INTERRUPTED if engine.cancel.is_set() else EXIT_OK  # Ctrl+C: watch
        failed = 0
        for name in names:
            if name in unreachable:
                failed += 1
                error(f"{name}: not deployed: {unreachable[name]}")
                continue
            try:
                release = engine.deploy(name, force=ns.force)
            except DeployError as exc:
                failed += 1
                _fail(exc, engine)
                if engine.cancel.is_set():  # a Ctrl+C held off until it failed: the rest not
                    _interrupted(names, name)
                    return EXIT_INTERRUPTED
                continue
            print(f"{name}\t{release.id}\t{release.url or '-'}")  # what answers
            _summarize(name, release)
            if engine.cancel.is_set():  # Ctrl+C during its watch: released, the rest not
                _interrupted(names, name)
                return EXIT_INTERRUPTED
        return EXIT_FAILED if failed else EXIT_OK
    raise AssertionError("unreachable: the deploys return")  # ExitStack swallows nothing


def _on_the_host(
    config: PilotConfig, wanted: list[str], preview: bool, refused: HostError
) -> dict[str, str]:
    """When the Docker host cannot be opened: each app of ``wanted`` that needs it, and
    why it is not deployed, if others can be (found walking: one app on the host stopped
    a site and a function deployed with it); {} when there is nothing else to deploy."""
    from pilot_tui.deploy.engine import needs_docker

    host = [n for n in wanted if (app := config.app(n)) is not None and needs_docker(app)]
    if preview or not host or len(host) == len(wanted):
        return {}
    return {name: str(refused) for name in host}


def _interrupted(names: list[str], last: str) -> None:
    rest = names[names.index(last) + 1 :]
    say("interrupted" + (f": not deployed: {', '.join(rest)}" if rest else ""))


def rollback(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.engine import DeployError

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    ns.release = ns.release or None  # "" (the workflow's empty input): the one before
    parts = previews.split(ns.app)
    if parts is not None and loaded[1].app(parts[0]) is not None:
        error(
            f"{ns.app} is a preview: previews are not rolled back; deploy it again from its "
            f"branch (pilot-tui deploy {parts[0]} --preview {parts[1]})"
        )
        return EXIT_INVALID
    # (deploying: in a CI run, a Docker host app's rollback is a request to the worker)
    with deployer(ns, lock_wait=ns.wait, apps=[ns.app], loaded=loaded, deploying=True) as engine:
        engine.app(ns.app)  # an unknown app is bad input (exit 2), said before anything
        if engine.shared is not None and engine.shared_required:
            # A CI run's history is the bucket's alone: one it cannot read is said as such
            # (found reviewing: "no releases yet" of a bucket that refused the read).
            from pilot_tui.deploy.shared_history import SharedHistoryError

            try:
                engine.shared.pull(engine.state_dir, ns.app)
            except SharedHistoryError as exc:
                error(f"{exc}: a CI run rolls back nothing whose history it cannot read")
                return EXIT_FAILED
            live = history.live_release(engine.state_dir, ns.app)  # (pulled just now)
        else:
            live = engine.newest_live(ns.app)  # (the shared history pulled first)
        records = history.load(engine.state_dir, ns.app)
        if not records:
            # (found walking: it pulled the edge's image first, then said "release failed")
            error(f"{ns.app} has no releases yet: nothing to roll back (pilot-tui deploy {ns.app})")
            return EXIT_INVALID
        # One named never made, or never live: bad input, said before anything runs.
        # None named, the release is chosen under the lease: a deploy under way (a CI
        # run's, or one waited for) may make one to go back from, and the lease says who
        # deploys (review); nothing to go back to is then said as the rollback's own
        # failure, exit 2.
        try:
            if ns.release is not None:
                history.rollback_candidate(records, ns.release, ns.app)
        except history.HistoryError as exc:
            error(f"{ns.app}: {exc}")
            return exc.exit_code
        if live is not None and live.id == ns.release:
            # (found walking: it made "v6 rollback to v5", changing nothing)
            error(
                f"{ns.release} is the live release of {ns.app}: nothing to roll back (to "
                f"release it again: pilot-tui deploy {ns.app} --force)"
            )
            return EXIT_INVALID
        if ns.break_lock and not _broke_locks(engine, [ns.app], ns.yes):
            return EXIT_INVALID  # no terminal to ask: refused before anything is released
        try:
            release = engine.rollback(ns.app, ns.release)
        except DeployError as exc:
            _fail(exc, engine)
            return exc.exit_code
        print(f"{ns.app}\t{release.id}\t{release.note}\t{release.url or '-'}")
        # A Ctrl+C once it was live kept it (and stopped what followed): still an interrupt.
        return EXIT_INTERRUPTED if engine.cancel.is_set() else EXIT_OK


def releases(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.release_contents import changes

    found = load_app(ns, previews=True)  # a preview's releases are its own
    if found is None:
        return EXIT_INVALID
    pf, config, _ = found
    project = Project(pf.path)
    shared = _shared(config, project)
    if shared is not None:
        from pilot_tui.deploy.shared_history import SharedHistoryError

        try:
            shared.pull(project.state_dir, ns.app)
        except SharedHistoryError as exc:
            say(f"warning: {exc}; showing this machine's copy")
    records = history.load(project.state_dir, ns.app)
    # What each release changed from the one before it (image, env keys, secrets by name,
    # the target's settings): never a value.
    changed = [
        changes(project.state_dir, records[i - 1] if i else None, r) for i, r in enumerate(records)
    ]
    if ns.json:
        print_json(
            [{**dataclasses.asdict(r), "changes": c} for r, c in zip(records, changed, strict=True)]
        )
        return EXIT_OK
    if not records:
        parts = previews.split(ns.app)
        made = f"{parts[0]} --preview {parts[1]}" if parts else ns.app
        print(f"{ns.app}: no releases yet (pilot-tui deploy {made})")
        return EXIT_OK
    for line in release_rows(records, changed, shutil.get_terminal_size().columns):
        print(line)
    return EXIT_OK


def release_rows(records: list[history.Release], changed: list[list[str]], width: int) -> list[str]:
    """The releases newest first, as a table that fits ``width`` columns: a row each of
    release, status, when and commit; under it what it runs and its note, then what it
    changed, wrapped there (an image reference is never cut: a terminal wraps it whole)."""
    import textwrap

    indent = " " * 9

    def wrapped(text: str) -> list[str]:
        return textwrap.wrap(
            text,
            width=max(width, 40),
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )

    rows = [
        f"{'RELEASE':8} {'STATUS':10} {'CREATED':20} COMMIT",
        f"{indent}IMAGE (NOTE), then what it changed",
    ]
    for r, c in reversed(list(zip(records, changed, strict=True))):
        rows.append(f"{r.id:8} {r.status:10} {r.created:20} {r.commit or '-'}")
        rows += wrapped(r.image + (f"  ({r.note})" if r.note else ""))
        for line in c:
            rows += wrapped(line)
    return rows
