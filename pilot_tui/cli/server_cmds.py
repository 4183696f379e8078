"""`pilot-tui server plan|up|status|destroy`: provision the Pilot Server from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pilot_tui.cli.common import confirm, load_valid, print_json, say
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project
from pilot_tui.provision.server import (
    NeedsAllowedCidrs,
    Note,
    Plan,
    RunResult,
    Server,
    Stage,
    interrupt_message,
)
from pilot_tui.provision.tf.events import (
    ApplyComplete,
    ApplyErrored,
    ApplyStart,
    Diagnostic,
    Event,
    PlannedChange,
)
from pilot_tui.provision.tf.plan import ResourceChange
from pilot_tui.runner import Interrupt
from pilot_tui.wording import counted

T = TypeVar("T")
EXIT_CANCELLED = -1  # the user said no: nothing changed, exit 0
VERBS = {
    "create": "creating",
    "update": "updating",
    "delete": "destroying",
    "replace": "replacing",
    "read": "reading",
}
DONE = {
    "create": "created",
    "update": "updated",
    "delete": "destroyed",
    "replace": "replaced",
    "read": "read",
}
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<="}


class Progress:
    """Prints events as progress lines on stderr: `[3/9] aws_vpc.pilot: created (2s)`."""

    def __init__(self, quiet: bool = False) -> None:
        self.total = 0
        self.done = 0
        self.planned = 0
        self.quiet = quiet

    def __call__(self, event: Event | Stage | Note) -> None:
        if isinstance(event, Stage):
            self.done = 0
            if not self.quiet:
                say(f"==> {event.name}: {event.detail}" if event.detail else f"==> {event.name}")
        elif isinstance(event, Note):
            if event.level != "info":
                say(f"{event.level}: {event.text}")
            elif not self.quiet:
                say(f"    {event.text}")
        elif isinstance(event, PlannedChange):
            self.planned += 1
        elif isinstance(event, ApplyStart) and not self.quiet:
            say(
                f"[{self.done}/{self.total}] {event.address}: "
                f"{VERBS.get(event.action, event.action)}..."
            )
        elif isinstance(event, ApplyComplete):
            self.done += 1
            if not self.quiet:
                say(
                    f"[{self.done}/{self.total}] {event.address}: "
                    f"{DONE.get(event.action, event.action)} ({event.elapsed}s)"
                )
        elif isinstance(event, ApplyErrored):
            say(f"[{self.done}/{self.total}] {event.address}: FAILED after {event.elapsed}s")
        elif isinstance(event, Diagnostic):
            print_diagnostic(event)


def print_diagnostic(d: Diagnostic) -> None:
    where = f" ({d.address})" if d.address else ""
    say(f"{d.severity}: {d.summary}{where}")
    if d.location():
        say(f"  on {d.location()}")
    for line in d.detail.splitlines():
        say(f"  {line}")


def run_terraform(
    make: Callable[[], Awaitable[T]],
    interrupt: Interrupt,
    in_flight: Callable[[], dict[str, str]] = dict,
) -> T:
    """Run async work with Ctrl+C forwarded to Terraform: the first stops it gracefully, the
    second says what it waits for, the third kills it."""

    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        interrupt.request()
        say("\n" + interrupt_message(presses, in_flight()))

    async def main() -> T:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_sigint)
        return await make()

    return asyncio.run(main())


def _server(ns: argparse.Namespace, progress: Progress, interrupt: Interrupt) -> Server | None:
    loaded = load_valid(ns)
    if loaded is None:
        return None
    pf, config = loaded  # load_valid applied --sandbox
    return Server(Project(pf.path), config, progress, interrupt)


def _plan_row(change: ResourceChange, width: int) -> str:
    symbol = SYMBOLS.get(change.action, "?")
    return f"  {symbol:>3} {change.address:<{width}}  {change.action:<8} {change.details}".rstrip()


def _table(plan: Plan) -> str:
    if not plan.changes and plan.outputs:
        return (
            "No resource changes; Terraform records new values of its output(s) "
            f"{', '.join(plan.outputs)} (applied without asking: nothing else changes)."
        )
    if not plan.changes:
        return "No changes: the Pilot Server matches pilot.toml."
    width = max(len(c.address) for c in plan.changes)
    rows = [_plan_row(c, width) for c in plan.changes]
    counts = {a: sum(c.action == a for c in plan.changes) for a in SYMBOLS}
    total = (
        f"{counts['create']} to add, {counts['update']} to change, "
        f"{counts['delete'] + counts['replace']} to destroy"
        + (f" ({counts['replace']} replaced)" if counts["replace"] else "")
    )
    return "\n".join([*rows, "", f"Plan: {total}."])


def _plan_json(plan: Plan, server: Server) -> str:
    return json.dumps(
        {
            "home": server.home,
            "destroy": plan.destroy,
            "changes": [
                {
                    "address": c.address,
                    "type": c.resource_type,
                    "action": c.action,
                    "details": c.details,
                }
                for c in plan.changes
            ],
            "summary": None
            if plan.summary is None
            else {
                "add": plan.summary.add,
                "change": plan.summary.change,
                "remove": plan.summary.remove,
            },
            "warnings": plan.warnings,
            "cost": None if plan.destroy else server.estimate().as_json(),
        },
        indent=2,
    )


def planned(
    server: Server, interrupt: Interrupt, *, destroy: bool = False, read_back: bool = True
) -> Plan | int:
    """Terraform's plan (of a destroy, with ``destroy``; see Server.plan for
    ``read_back``), or the exit code after saying why there is none: interrupted, or
    failed (with the full log's path)."""
    the_plan, result = _make_plan(server, destroy, interrupt, read_back)
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.code != 0:
        say(f"{'planning the destroy' if destroy else 'plan'} failed; full log: {result.log}")
        return EXIT_FAILED
    return the_plan


def _make_plan(
    server: Server, destroy: bool, interrupt: Interrupt, read_back: bool = True
) -> tuple[Plan, RunResult]:
    while True:
        try:
            return run_terraform(
                lambda: server.plan(destroy=destroy, read_back=read_back), interrupt
            )
        except NeedsAllowedCidrs:
            if not sys.stdin.isatty():
                raise
            server.config = _ask_allowed_cidrs(server)


def _ask_allowed_cidrs(server: Server) -> PilotConfig:
    """Ask who may reach the server, with the validator's own messages, and save the answer
    to pilot.toml (comments kept)."""
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.questions import QUESTIONS, apply_answer, check_answer

    question = next(q for q in QUESTIONS if q.key == "server.allowed_cidrs")
    pf = ProjectFile.load(server.project.file)
    say(
        "Your public address could not be found. Which networks may reach the server's SSH "
        "and Docker ports?"
    )
    while True:
        try:
            answer = input("CIDRs, comma separated (e.g. 203.0.113.7/32): ").strip()
        except EOFError:
            raise KeyboardInterrupt from None
        problem = check_answer(pf.text, question, answer) if answer else "an answer is needed"
        if problem:
            say(f"  {problem}")
            continue
        checked = pf.save(apply_answer(pf.text, question, answer))
        say(f"saved server.allowed_cidrs in {pf.display}")
        assert checked.config is not None
        return checked.config


def _show_plan(plan: Plan, server: Server, out: Callable[[str], None]) -> None:
    out(_table(plan))
    if not plan.destroy:
        out(server.estimate().text())
    for warning in plan.warnings:
        out(f"WARNING: {warning}")


def plan(ns: argparse.Namespace) -> int:
    interrupt = Interrupt()
    server = _server(ns, Progress(quiet=ns.json), interrupt)
    if server is None:
        return EXIT_INVALID
    with server.workspace_lock("pilot-tui server plan"):
        result_plan = planned(server, interrupt)
    if isinstance(result_plan, int):
        return result_plan
    if ns.json:
        print(_plan_json(result_plan, server))
    else:
        _show_plan(result_plan, server, print)
    return EXIT_OK


def _apply(
    server: Server, the_plan: Plan, progress: Progress, interrupt: Interrupt, verb: str
) -> int:
    progress.total = the_plan.total

    async def apply() -> RunResult:
        if the_plan.read_back:
            return await server.apply(the_plan)
        # Nobody reviews it (--yes): the saved plan is read back for its table and warnings
        # while the apply starts, not before (each starts the providers).
        shown = asyncio.create_task(_show_read_back(server, the_plan))
        try:
            return await server.apply(the_plan)
        finally:
            await shown

    result = run_terraform(apply, interrupt, server.in_flight)
    if result.killed:
        say(
            f"{verb} stopped after {progress.done}/{progress.total} changes: Pilot killed "
            "Terraform, so its state may miss what it was doing."
        )
        for line in server.after_kill(result):
            say(line)
        say(f"full log: {result.log}")
        return EXIT_INTERRUPTED
    if result.interrupted:
        say(
            f"{verb} interrupted after {progress.done}/{progress.total} changes; Terraform saved "
            f"its state. Run `pilot-tui server {'destroy' if the_plan.destroy else 'up'}` to "
            "finish."
        )
        return EXIT_INTERRUPTED
    if result.code != 0:
        failed = ", ".join(result.errored) or "(see the errors above)"
        say(f"{verb} failed at: {failed}")
        say(
            f"{counted(len(result.completed), 'change')} "
            f"{'was' if len(result.completed) == 1 else 'were'} made before the failure; "
            "Terraform's state records them, so fixing the cause and running the command "
            "again resumes."
        )
        if any(d.summary == "Saved plan is stale" for d in result.errors):
            say(
                "the state changed after this plan was made (another `server up`, from "
                "another checkout sharing the state?): run the command again to plan from "
                "what exists now"
            )
        existing = run_terraform(server.state_resources, Interrupt())  # the state, not the plan
        say(f"what exists now ({len(existing)}): " + (", ".join(existing) or "nothing"))
        say(f"full log: {result.log}")
        return EXIT_FAILED
    return EXIT_OK


async def _show_read_back(server: Server, the_plan: Plan) -> None:
    try:
        full = await server.read_back(the_plan)
    except Exception as exc:  # never in place of the apply's own result, which is running
        say(f"warning: the saved plan could not be read back for its table: {exc}")
        return
    _show_plan(full, server, print)


def _plan_confirm_apply(ns: argparse.Namespace) -> tuple[int, Server | None]:
    """Plan, show, confirm and apply `server up`; (exit code, server), with EXIT_OK meaning
    "carry on". (`server destroy` is cli/teardown_cmd.py: it removes more than Terraform's.)"""
    interrupt = Interrupt()
    progress = Progress()
    server = _server(ns, progress, interrupt)
    if server is None:
        return EXIT_INVALID, None
    # One run per working directory, from the plan to the end of the apply: the plan file
    # the user reviews is the one applied.
    with server.workspace_lock("pilot-tui server up"):
        return _review_and_apply(ns, server, progress, interrupt), server


def _review_and_apply(
    ns: argparse.Namespace, server: Server, progress: Progress, interrupt: Interrupt
) -> int:
    the_plan = planned(server, interrupt, read_back=not ns.yes)
    if isinstance(the_plan, int):
        return the_plan
    if not the_plan.changes:
        print(_table(the_plan))
        run_terraform(lambda: server.apply(the_plan), interrupt)  # setup, which checks its parts
        return EXIT_OK
    if not the_plan.read_back:  # --yes: its table comes as the apply starts
        say(f"applying {counted(the_plan.total, 'change')} (--yes); the plan's table follows")
        return _apply(server, the_plan, progress, interrupt, "apply")
    _show_plan(the_plan, server, print)
    these = "this" if the_plan.total == 1 else "these"
    answer = confirm(f"Apply {these} {counted(the_plan.total, 'change')}?", ns.yes)
    if answer is None:
        return EXIT_INVALID
    if not answer:
        say("nothing was changed")
        return EXIT_CANCELLED
    return _apply(server, the_plan, progress, interrupt, "apply")


def up(ns: argparse.Namespace) -> int:
    code, server = _plan_confirm_apply(ns)
    if code != EXIT_OK or server is None:
        return EXIT_OK if code == EXIT_CANCELLED else code
    from pilot_tui.deploy.addresses import server_rows

    outputs = server.saved_outputs()
    print("\nThe Pilot Server is up.")
    rows = server_rows(server.home, outputs, ("public_ip", "docker_host", "instance_id"))
    width = max((len(key) for key, _ in rows), default=0)
    for key, shown in rows:
        print(f"  {key:{width}}  {shown}")
    if server.config.apps:  # (found walking: it asked for apps pilot.toml had already)
        print("Next: deploy your apps: pilot-tui deploy --all")
    else:
        print(
            "Next: describe your apps (pilot-tui app new, or [[apps]] in pilot.toml), then "
            "deploy them."
        )
    return EXIT_OK


def status(ns: argparse.Namespace) -> int:
    interrupt = Interrupt()
    server = _server(ns, Progress(quiet=True), interrupt)
    if server is None:
        return EXIT_INVALID
    from pilot_tui.deploy.addresses import server_rows, simulated_outputs

    info: dict[str, Any] = {"home": server.home, "outputs": server.saved_outputs()}
    # The outputs as Terraform gave them, and which of them nothing answers at (moto's).
    info["simulated"] = simulated_outputs(server.home, info["outputs"])
    if server.home == "sandbox":
        from pilot_tui.cloud.sandbox import Sandbox

        running = Sandbox(server.project.state_dir).running()
        info["sandbox"] = {n: {"pid": e.pid, "url": e.url} for n, e in running.items()}
    resources: list[str] = []
    if server.workdir.exists() and server.home != "host":
        resources = run_terraform(server.state_resources, interrupt)
    info["resources"] = resources
    # The sandbox's resources live in its local AWS API's memory: stopped or restarted
    # since the apply, none of them is there (found walking: "up (9 resources in state)").
    forgot = bool(resources) and server.sandbox_forgot()
    info["up"] = bool(resources) and not forgot
    if server.home == "sandbox":
        info["sandbox_forgot"] = forgot
    worker = _ci_worker(server.config, server.project)
    if worker is not None:
        info["deploy_worker"] = worker[0]  # (outputs.ci_worker: whether the role is granted)
    if ns.json:
        print_json(info)
        return EXIT_OK
    print(f"home: {server.home}")
    if forgot:
        print(
            f"server: gone: the sandbox's local AWS API was stopped or restarted since the "
            f"last apply, and the {counted(len(resources), 'resource')} in Terraform's state "
            "went with it (`pilot-tui server up` makes them again)"
        )
    else:
        state = "up" if info["up"] else "not provisioned"
        print(f"server: {state} ({counted(len(resources), 'resource')} in state)")
        for key, shown in server_rows(server.home, info["outputs"]):
            print(f"  {key:18} {shown}")
    for name, emu in info.get("sandbox", {}).items():
        print(f"  sandbox {name:10} {emu['url']} (pid {emu['pid']})")
    if worker is not None:
        print(f"CI deploy worker: {worker[1]}")
    return EXIT_OK


def _ci_worker(config: PilotConfig, project: Project) -> tuple[dict[str, Any], str] | None:
    """The worker releasing CI runs' deploys of the server's apps (its heartbeat, as JSON
    and in words), when the project's state is shared and an app runs on the server; None
    when neither, or the bucket cannot be asked without starting anything."""
    from pilot_tui.deploy import server_queue
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history
    from pilot_tui.deploy.targets import on_docker_host

    if config.state.backend == "local" or not on_docker_host(config.apps):
        return None
    try:
        shared = shared_history(config, project.state_dir, project.root)
        if shared is None:  # the sandbox's emulators are not running
            return None
        seen = server_queue.Queue(shared).worker_seen()
    except SharedHistoryError as exc:  # (walk: --json said null, the reason lost)
        return {"taking": None, "error": str(exc), "said": f"unknown: {exc}"}, f"unknown: {exc}"
    said = server_queue.describe_worker(seen)
    if seen is None:
        return {"taking": False, "said": said}, said
    data = {
        "worker": seen.worker,
        "seen_seconds_ago": round(seen.age),
        "stopped": seen.stopped,
        "taking": seen.taking,  # beat lately, and did not say it stopped
        "takes": list(seen.takes),
        "said": said,
    }
    return data, said
