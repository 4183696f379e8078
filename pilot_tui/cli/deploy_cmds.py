"""`pilot-tui deploy|releases|rollback|logs|status|secrets|app`: the deploy engine from a
terminal. Progress goes to stderr, results to stdout; exit 1 when a deploy fails."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import json
import sys
from collections.abc import Iterator
from typing import Any

from pilot_tui.cli.config_cmds import confirm, error, load_valid, not_confirmed, say
from pilot_tui.deploy import addresses, history, secrets
from pilot_tui.deploy.events import Event, Output, describe
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.project import Project


class Printer:
    """Events as lines on stderr; build output indented, verbose only with --verbose."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose

    def __call__(self, event: Event) -> None:
        if (
            isinstance(event, Output)
            and not self.verbose
            and event.stage == "build"
            and not event.warning
        ):
            return
        say(describe(event))


@contextlib.contextmanager
def deployer(
    ns: argparse.Namespace,
    *,
    lock_wait: float = 0.0,
    apps: list[str] | None = None,
    share: bool = True,
    loaded: tuple[Any, Any] | None = None,
) -> Iterator[Any]:
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
    ) as engine:
        yield engine


def _load_app(ns: argparse.Namespace) -> tuple[Any, Any, Any] | None:
    """(project file, config, the app named ns.app), or None after saying what is wrong."""
    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded
    app = config.app(ns.app)
    if app is None:
        error(
            f"no app {ns.app!r} in {pf.display} (apps: "
            f"{', '.join(a.name for a in config.apps) or 'none yet'})"
        )
        return None
    return pf, config, app


def _shared(config: Any, project: Project) -> Any:
    """The state bucket's copy of the release history, or None (said so when unreachable)."""
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history

    try:
        return shared_history(config, project.state_dir, project.root)
    except SharedHistoryError as exc:
        say(f"warning: {exc}; the release history stays local this time")
        return None


def _fail(exc: Any) -> int:
    error(f"{exc.stage}: {exc}")
    if exc.logs:
        say("the new release's last lines:")
        for line in exc.logs:
            say(f"  | {line}")
    return EXIT_FAILED


def deploy(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.engine import DeployError
    from pilot_tui.deploy.lock import break_lock

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    wanted = [a.name for a in loaded[1].apps] if ns.all else ns.apps
    if loaded[1].server.engine == "waypoint" and wanted:
        unknown = [n for n in wanted if loaded[1].app(n) is None]
        if unknown:
            error(f"no app {unknown[0]!r} in {loaded[0].display}")
            return EXIT_INVALID
        from pilot_tui.cli.waypoint_cmds import waypoint_up

        return waypoint_up(loaded[1], loaded[0].path.parent, wanted)
    with deployer(ns, lock_wait=ns.wait, apps=wanted, loaded=loaded) as engine:
        names = wanted
        if not names:
            error(
                "name an app (pilot-tui deploy APP) or use --all; apps: "
                + (", ".join(a.name for a in engine.config.apps) or "none yet")
            )
            return EXIT_INVALID
        for name in names:  # every name checked before anything is built (exit 2 if not)
            engine.app(name)
        if ns.break_lock and engine.client is not None:
            for name in names:
                answer = confirm(
                    f"Break the deploy lock of {name}? Only do this if no deploy is running.",
                    ns.yes,
                )
                if answer is None:  # no terminal to ask: refuse before building anything
                    return EXIT_INVALID
                if answer and break_lock(engine.client, engine.project, name):
                    say(f"broke the lock of {name}")
        failed = 0
        for name in names:
            try:
                release = engine.deploy(name, force=ns.force)
            except DeployError as exc:
                failed += 1
                _fail(exc)
                continue
            print(f"{name}\t{release.id}\t{release.url or '-'}")  # what answers
        return EXIT_FAILED if failed else EXIT_OK


def rollback(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.engine import DeployError

    with deployer(ns, lock_wait=ns.wait, apps=[ns.app]) as engine:
        try:
            release = engine.rollback(ns.app, ns.release)
        except DeployError as exc:
            return _fail(exc)
        print(f"{ns.app}\t{release.id}\t{release.note}\t{release.url or '-'}")
        return EXIT_OK


def releases(ns: argparse.Namespace) -> int:
    found = _load_app(ns)
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
    if ns.json:
        print(json.dumps([dataclasses.asdict(r) for r in records], indent=2))
        return EXIT_OK
    if not records:
        print(f"{ns.app}: no releases yet (pilot-tui deploy {ns.app})")
        return EXIT_OK
    print(f"{'RELEASE':8} {'STATUS':10} {'CREATED':20} {'COMMIT':18} IMAGE / NOTE")
    for r in reversed(records):
        note = f"  ({r.note})" if r.note else ""
        print(f"{r.id:8} {r.status:10} {r.created:20} {(r.commit or '-'):18} {r.image}{note}")
    return EXIT_OK


def logs(ns: argparse.Namespace) -> int:
    from pilot_tui.cli.logs_cmd import print_logs, tail_note
    from pilot_tui.deploy.targets import target_for
    from pilot_tui.deploy.targets.docker_host.target import stream_container

    found = _load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    if not target_for(app).on_docker_host:  # the cloud's logs: no Docker host needed
        return print_logs(Project(pf.path), config, app, tail=ns.tail, follow=ns.follow)
    with deployer(ns, share=False, apps=[ns.app], loaded=(pf, config)) as engine:
        lines = stream_container(
            engine.client, engine.project, ns.app, tail=ns.tail, follow=ns.follow
        )
        if lines is None:
            error(f"{ns.app} is not running; deploy it first (pilot-tui deploy {ns.app})")
            return EXIT_FAILED
        printed = 0
        for line in lines:
            print(line, flush=True)
            printed += 1
        if printed >= ns.tail > 0:
            say(tail_note(ns.tail))
        return EXIT_OK


def status(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.status import AppStatus, statuses
    from pilot_tui.deploy.targets import on_docker_host

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    served = on_docker_host(loaded[1].apps)
    with deployer(ns, share=False, apps=served, loaded=loaded) as engine:
        proxy, apps = statuses(engine)
        listed = (
            []
            if engine.target is None
            else [
                AppStatus(
                    "(proxy)",
                    "-",
                    proxy,
                    f"{engine.target.address} · port {engine.config.server.http_port}",
                )
            ]
        )
        listed += apps
        if ns.json:  # url: what answers (here, in the sandbox); simulated_url: what the
            # sandbox's cloud made up in its place, where nothing answers
            print(
                json.dumps(
                    [
                        {
                            "app": a.app,
                            "release": a.release,
                            "health": a.health,
                            "url": a.url,
                            "simulated_url": a.simulated or None,
                        }
                        for a in listed
                    ],
                    indent=2,
                )
            )
        else:
            for a in listed:
                print(f"{a.app:16} {a.release:8} {a.health:24} {a.where()}")
        return EXIT_OK if all(a.ok for a in apps) else EXIT_FAILED


def secrets_set(ns: argparse.Namespace) -> int:
    found = _load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, _, app = found
    if sys.stdin.isatty():
        value = getpass.getpass(f"{ns.name} for {ns.app} (not echoed): ")
    else:  # bytes as given (no newline translation); only the final newline is dropped
        try:
            value = sys.stdin.buffer.read().decode("utf-8").removesuffix("\n")
        except UnicodeDecodeError as exc:
            error(f"the value on stdin is not UTF-8 text (byte {exc.start}): nothing stored")
            return EXIT_INVALID
    if not value:
        error("empty value: nothing stored")
        return EXIT_INVALID
    path = secrets.store(Project(pf.path).state_dir, ns.app, ns.name, value)
    say(f"stored {ns.name} for {ns.app} in {path} (0600)")
    if ns.name not in app.secrets:
        say(
            f"note: apps.{ns.app}.secrets does not list {ns.name}; add it so deploys pass "
            f"it: pilot-tui config set apps.{ns.app}.secrets "
            f"'{json.dumps([*app.secrets, ns.name])}'"
        )
    return EXIT_OK


def secrets_list(ns: argparse.Namespace) -> int:
    found = _load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, _, app = found
    import os

    stored = secrets.read_file(secrets.secrets_file(Project(pf.path).state_dir, ns.app))
    for name in sorted(set(app.secrets) | set(stored)):
        where = "environment" if name in os.environ else ("stored" if name in stored else "MISSING")
        listed = "" if name in app.secrets else "  (not in apps.secrets: not passed)"
        print(f"{name:24} {where}{listed}")
    return EXIT_OK


def app_list(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    state_dir = Project(pf.path).state_dir
    for app in config.apps:
        live = history.live_release(state_dir, app.name)
        print(
            f"{app.name:16} {app.build.kind:11} {app.target.kind:14} "
            f"{live.id if live else '-':6} {addresses.of_release(live).text() if live else ''}"
        )
    if not config.apps:
        say("no apps yet: add one in the app (a) or with [[apps]] in pilot.toml")
    return EXIT_OK


def app_destroy(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.app_teardown import destroy
    from pilot_tui.deploy.targets import target_for

    found = _load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    target = target_for(app)
    on_host = [ns.app] if target.on_docker_host else []  # else no Docker host is opened
    with deployer(ns, apps=on_host, share=False, loaded=(pf, config)) as engine:
        answer = confirm(target.destroy_question(config), ns.yes)
        if not answer:
            return not_confirmed(answer)
        with framed(f"{app.name}: "):
            removed = destroy(target, engine, say)
        if not removed:
            say(f"nothing left to remove for {app.name}")
        history.retire(engine.state_dir, app.name, "app destroyed")
        return EXIT_OK


def app_dockerfile(ns: argparse.Namespace) -> int:
    """Show how APP builds; --eject writes a generated Dockerfile into its folder."""
    from pilot_tui.config.document import ConfigRefused
    from pilot_tui.deploy.build import recipe as builder
    from pilot_tui.fsutil import atomic_write

    found = _load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, _, app = found
    recipe = builder.recipe_for(app, pf.path.parent)
    if recipe.generated is None:
        path = recipe.folder / recipe.dockerfile
        if ns.eject:
            error(f"{ns.app} already builds from its own {path}")
            return EXIT_INVALID
        text = path.read_text(encoding="utf-8")
        # Ended by a newline, so the prompt or a next command's note starts its own line.
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        return EXIT_OK
    if not ns.eject:
        say(f"# {ns.app}: {recipe.why}; `--eject` writes it to {recipe.folder}/Dockerfile")
        sys.stdout.write(recipe.generated)
        return EXIT_OK
    if recipe.builder is not None:
        error(
            f"{ns.app} is a static site built by `{recipe.builder.command}`; its serving "
            "Dockerfile only makes sense with the built files: nothing ejected"
        )
        return EXIT_INVALID
    target = recipe.folder / "Dockerfile"
    if target.exists():
        error(f"{target} exists; not overwritten")
        return EXIT_INVALID
    try:
        pf.save(pf.with_value(f"apps.{ns.app}.build", {"kind": "dockerfile"}))
    except ConfigRefused as exc:
        error(exc.report.errors[0].message)
        return EXIT_FAILED
    atomic_write(target, recipe.generated)
    say(f'wrote {target} and set apps.{ns.app}.build.kind = "dockerfile"; it is yours now')
    return EXIT_OK
