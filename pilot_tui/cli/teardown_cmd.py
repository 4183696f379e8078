"""`pilot-tui server destroy`: list everything Pilot made for the project (pilot_tui.teardown),
ask once, remove it in order, and say what remains."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.cli.common import confirm, error, load_valid, not_confirmed, say
from pilot_tui.cli.server_cmds import Progress, planned, run_terraform
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.runner import Interrupt
from pilot_tui.teardown import (
    STEP_TITLES,
    Inventory,
    Teardown,
    databases_at_stake,
    execute,
    inventory,
    make_scan,
    plan_teardown,
)
from pilot_tui.teardown import remaining as what_remains
from pilot_tui.wording import counted, plural

if TYPE_CHECKING:
    from pilot_tui.config.schema import Database, PilotConfig
    from pilot_tui.provision.server import Plan, Server


def show(inv: Inventory) -> None:
    """The list people confirm: by step, each thing with how it was found."""
    print("This removes:")
    for step, things in inv.by_step():
        print(f"  {STEP_TITLES[step]}:")
        for thing in things:
            print(f"    - {thing.describe()}")
    _show_left_alone(inv)
    for problem in inv.problems:
        say(f"warning: {problem}; what is there was not listed")


def _show_left_alone(inv: Inventory) -> None:
    """What is not removed: the state kept by --keep-state, buckets Pilot did not make."""
    if inv.keep:
        print("Kept (--keep-state): " + ", ".join(f"{t.kind} {t.name}" for t in inv.keep))
    for line in inv.unowned_lines():
        print(line)


def destroy(ns: argparse.Namespace) -> int:
    """Everything Pilot made for the project, listed, confirmed once, removed in order."""
    from pilot_tui.project import Project
    from pilot_tui.provision.server import Server

    refused = sandbox_stand_in(ns)
    if refused:
        error(refused)
        return EXIT_INVALID
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded  # load_valid applied --sandbox
    if config.server.home == "host":
        return _destroy_on_host(ns, pf.path.parent, config)
    interrupt = Interrupt()
    progress = Progress()
    server = Server(Project(pf.path), config, progress, interrupt)
    # One run per working directory, as for `server up`: a concurrent run would replace the
    # plan and templates this destroy works from.
    with server.workspace_lock("pilot-tui server destroy"):
        return _destroy(ns, server, progress, interrupt)


def sandbox_stand_in(ns: argparse.Namespace) -> str | None:
    """Why `server destroy --sandbox` is refused here (see teardown.sandbox_stand_in)."""
    if not getattr(ns, "sandbox", False):
        return None
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.project import ProjectNotFound, find_project
    from pilot_tui.teardown import sandbox_stand_in as refusal

    try:
        config = ProjectFile.load(find_project(ns.project).file).check().config
    except (ProjectNotFound, OSError, ValueError):
        return None  # _server reports what is wrong with the project file
    return None if config is None else refusal(config.server.home)


def _unnamed_databases(
    ns: argparse.Namespace, teardown: Teardown, inv: Inventory, server: Server | None
) -> list[str]:
    """Databases whose data this destroy removes that --drop-database does not name."""
    at_stake = databases_at_stake(inv, teardown.config, server_goes=server is not None)
    return sorted(set(at_stake) - set(getattr(ns, "drop_database", None) or []))


def _backups_in_the_state_bucket(
    ns: argparse.Namespace, teardown: Teardown, inv: Inventory
) -> list[str]:
    """The databases with backups in the state bucket this destroy removes, unless
    --drop-backups said to remove them too."""
    from pilot_tui.teardown import backups_held

    return [] if getattr(ns, "drop_backups", False) else backups_held(teardown, inv)


def _destroy(
    ns: argparse.Namespace, server: Server, progress: Progress, interrupt: Interrupt
) -> int:
    the_plan = planned(server, interrupt, destroy=True)
    if isinstance(the_plan, int):
        return the_plan
    teardown, inv = run_terraform(
        lambda: plan_teardown(server, the_plan, keep_state=getattr(ns, "keep_state", False)),
        Interrupt(),
    )
    return _confirm_and_remove(ns, teardown, inv, server, the_plan, progress, interrupt)


def _destroy_on_host(ns: argparse.Namespace, root: Path, config: PilotConfig) -> int:
    """`home = "host"`: no server to provision, but the apps (and any managed ones), their
    containers and the proxy on the team's Docker host, and the deployer, are Pilot's."""
    from pilot_tui.deploy.host import connect, target_for

    state_dir = root / ".pilot"
    with contextlib.ExitStack() as stack:
        # The host cannot be reached (or scanned): said before anything is asked or removed.
        with framed(suffix="; nothing was removed"):
            target = target_for(config, state_dir, {})
            client = stack.enter_context(connect(target, state_dir / "run"))
            teardown = Teardown(
                config, root, make_scan(config, root), keep_state=getattr(ns, "keep_state", False)
            )
            teardown.scan.docker = client
            found, problems = teardown.scan.run()
            inv = inventory(found, [], {}, keep_state=teardown.keep_state, problems=problems)
        return _confirm_and_remove(ns, teardown, inv, None, None, Progress(), Interrupt())


def _confirm_and_remove(
    ns: argparse.Namespace,
    teardown: Teardown,
    inv: Inventory,
    server: Server | None,
    the_plan: Plan | None,
    progress: Progress,
    interrupt: Interrupt,
) -> int:
    """Show ``inv``, ask once, remove it in order and say what remains."""
    from pilot_tui.provision.server import Stage

    if not inv.remove:
        # "Nothing" only where every place was looked in (found walking: said with this
        # machine's Docker, and the project's volumes there, unchecked)
        print("Nothing to destroy" + (" found where Pilot could look." if inv.problems else "."))
        _show_left_alone(inv)
        for problem in inv.problems:
            say(f"warning: {problem}")
        _stop_sandbox(server)
        return EXIT_OK
    show(inv)
    unnamed = _unnamed_databases(ns, teardown, inv, server)
    if unnamed:
        listed = ", ".join(unnamed)
        flags = " ".join(f"--drop-database {name}" for name in unnamed)
        error(
            f"this destroys the data of {plural(len(unnamed), 'database')} {listed}: name each "
            f"to go on ({flags}), "
            "or remove them first with `pilot-tui db destroy NAME`; nothing was removed"
        )
        return EXIT_INVALID
    held = _backups_in_the_state_bucket(ns, teardown, inv)
    if held:
        error(
            f"the state bucket this destroy removes holds the backups of {', '.join(held)}: "
            "add --keep-state to keep them (and the bucket), or --drop-backups to remove "
            "them too; nothing was removed"
        )
        return EXIT_INVALID
    teardown.final_backup = not getattr(ns, "no_final_backup", False)
    finals = _final_plan(ns, teardown, inv, server)
    if isinstance(finals, int):
        return finals
    _say_final_backups(teardown, inv, finals)
    these = "this" if len(inv.remove) == 1 else "these"
    answer = confirm(f"Remove {these} {counted(len(inv.remove), 'thing')}?", ns.yes)
    if not answer:
        return not_confirmed(answer)
    code = _final_backups(ns, teardown, finals, interrupt)
    if code is not None:
        return code
    progress.total = the_plan.total if the_plan is not None else 0
    ok = run_terraform(
        lambda: execute(
            teardown,
            inv,
            server,
            the_plan,
            lambda text: say(f"    {text}"),
            lambda step, title: progress(Stage(step, title)),
        ),
        interrupt,
        server.in_flight if server is not None else dict,
    )
    left = run_terraform(lambda: what_remains(teardown, server), Interrupt())
    _show_remains(left)
    _show_kept_here(teardown.state_dir)
    for kept in teardown.final_kept:
        print(f"Kept: {kept}")
    if not ok or left.remove:
        for failure in teardown.failures:
            say(f"failed: {failure}")
        say("run `pilot-tui server destroy` again to retry what is left")
        return EXIT_INTERRUPTED if interrupt.count else EXIT_FAILED
    _stop_sandbox(server)
    print(
        "Everything Pilot made for this project is gone."
        if server is None
        else "The Pilot Server is gone."
    )
    return EXIT_OK


@dataclass(frozen=True)
class FinalBackups:
    """Which databases a destroy backs up before anything is removed: those on the
    Docker host (a dump, as `db destroy` takes) and the managed ones (the service's own
    final backup), minus ``skipped`` (their backups would go into a state bucket the
    destroy removes, with --drop-backups)."""

    on_docker: tuple[str, ...] = ()
    managed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def _final_plan(
    ns: argparse.Namespace, teardown: Teardown, inv: Inventory, server: Server | None
) -> FinalBackups | int:
    """The final backups this destroy takes, decided before the question; an exit code
    (said why) when one would go into the state bucket it removes, unless --drop-backups
    (then it is skipped, and said) or --keep-state."""
    from pilot_tui.data.managed import home_service

    config = teardown.config
    doomed = set(databases_at_stake(inv, config, server_goes=server is not None))
    if not doomed or not teardown.final_backup:
        return FinalBackups()
    on_docker = [db.name for db in config.databases_on("docker") if db.name in doomed]
    managed = sorted(
        (
            set(inv.managed_databases(config.project.name))
            | {d.name for d in config.managed_databases()}
        )
        & doomed
    )
    service = home_service(config.server.home)
    bucket_bound = on_docker + (managed if service and service.final_to_state_bucket else [])
    skipped: list[str] = []
    if bucket_bound and any(t.kind == "state bucket" for t in inv.remove):
        names = ", ".join(bucket_bound)
        if not getattr(ns, "drop_backups", False):
            error(
                f"the final backups of {names} would go to the state bucket this destroy "
                "removes: add --keep-state to keep it (and them), or --no-final-backup; "
                "nothing was removed"
            )
            return EXIT_INVALID
        print(f"No final backup of {names}: the state bucket goes too (--drop-backups).")
        skipped = bucket_bound
    return FinalBackups(
        tuple(n for n in on_docker if n not in skipped),
        tuple(n for n in managed if n not in skipped),
        tuple(skipped),
    )


def _final_backups(
    ns: argparse.Namespace, teardown: Teardown, plan: FinalBackups, interrupt: Interrupt
) -> int | None:
    """The final backups ``plan`` names, before anything is removed (the hosts are still
    there). An exit code (said why, nothing removed) when one could not be taken; None to
    go on."""
    if plan.on_docker:
        databases = [db for db in teardown.config.databases if db.name in plan.on_docker]
        code = _docker_final_backups(ns, teardown, databases)
        if code is not None:
            return code
    if plan.managed:
        return _managed_final_backups(teardown, list(plan.managed), interrupt)
    return None


def _managed_final_backups(
    teardown: Teardown, names: list[str], interrupt: Interrupt
) -> int | None:
    from pilot_tui import redact
    from pilot_tui.data.managed import ManagedError

    try:
        databases = teardown.managed()
    except Exception as exc:  # no credentials for the cloud's API
        error(
            f"the managed databases cannot be reached ({redact.clip(str(exc), 200)}); "
            "nothing was removed"
        )
        return EXIT_FAILED
    if databases is None:
        return None

    async def take() -> list[str]:
        assert databases is not None
        return await asyncio.to_thread(
            databases.final_backups,
            names,
            lambda text: say(f"    {text}"),
            lambda: interrupt.count > 0,
        )

    try:
        teardown.final_kept = run_terraform(take, interrupt)
    except ManagedError as exc:
        error(f"{exc}; add --no-final-backup to go on without them")
        return EXIT_INTERRUPTED if interrupt.count else EXIT_FAILED
    return None


def _docker_final_backups(
    ns: argparse.Namespace, teardown: Teardown, databases: list[Database]
) -> int | None:
    from pilot_tui.cli.db_cmds import engine_errors, final_backup
    from pilot_tui.cli.deploy_cmds import deployer
    from pilot_tui.config.document import ProjectFile

    pf = ProjectFile.load(teardown.root / "pilot.toml")
    unreachable = "; nothing was removed (--no-final-backup goes on without them)"
    with (
        framed(suffix=unreachable),
        deployer(ns, share=False, loaded=(pf, teardown.config)) as engine,
        engine_errors(),
    ):
        for settings in databases:
            if not final_backup(engine.docker_client, pf, teardown.config, settings):
                return EXIT_FAILED
    return None


def _say_final_backups(teardown: Teardown, inv: Inventory, finals: FinalBackups) -> None:
    """What happens to the managed databases' data, before the question."""
    from pilot_tui.data.managed import home_service

    service = home_service(teardown.config.server.home)
    if service is None:
        return
    title = service.title
    if finals.managed:
        print(
            f"Each {title} database gets {service.final_backup} first, kept after the destroy "
            "(--no-final-backup skips it)."
        )
    elif not teardown.final_backup and inv.managed_databases(teardown.config.project.name):
        print(
            f"No {service.final_backup.removeprefix('a ')} of the {title} databases "
            "(--no-final-backup): their data goes."
        )


def _show_remains(left: Inventory) -> None:
    """What a new scan found after the removal: never "nothing" while something is there."""
    if left.remove:
        print(f"What remains ({len(left.remove)}):")
        for thing in left.remove:
            print(f"  - {thing.describe()}")
    elif left.unowned:  # never "nothing" while something named like the project's is there
        print(f"What remains: {counted(len(left.unowned), 'bucket')} Pilot left alone:")
    else:
        kept = " (the state bucket and lock table are kept: --keep-state)" if left.keep else ""
        # Never "nothing" where a place could not be looked in: what it holds is unknown
        found = "nothing found where Pilot could look" if left.problems else "nothing"
        print(f"What remains: {found}{kept}.")
    for line in left.unowned_lines():
        print(f"  {line}")
    for problem in left.problems:
        say(f"warning: {problem}")


def _show_kept_here(state_dir: Path) -> None:
    """What stays on this machine on purpose, said (found walking: kept unsaid)."""
    from pilot_tui.teardown.plan import kept_here

    kept = kept_here(state_dir)
    if kept:
        print(f"Kept on this machine, yours to delete: {', '.join(kept)}.")


def _stop_sandbox(server: Server | None) -> None:
    from pilot_tui.cloud.sandbox import Sandbox

    if server is not None and server.home == "sandbox":
        stopped = Sandbox(server.project.state_dir).stop()
        if stopped:
            print(f"Stopped the sandbox emulators ({', '.join(stopped)}).")
