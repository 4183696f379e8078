"""Server: plan review and live apply of the Pilot Server, driving the core's `Server`.

Terraform runs in a named worker; its events arrive through one handler that updates the
plan table, the progress bar, the live resource list and a capped log pane. Cancel sends
Terraform a graceful interrupt (after confirmation), exactly as Ctrl+C does in the CLI.
"""

from __future__ import annotations

import threading
import time

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, DataTable, Header, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from pilot_tui.config.schema import PilotConfig
from pilot_tui.project import Project
from pilot_tui.provision.server import (
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
    LogLine,
)
from pilot_tui.runner import KILL_AT, Interrupt
from pilot_tui.screens.colorlog import ColorLog, colour_level
from pilot_tui.screens.failures import ErrorPanel
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.project_config import sandbox_forced
from pilot_tui.teardown import Inventory, Teardown, Thing

LOG_LINES = 5000
STATE_LABELS = {"pending": "·", "running": "⟳ working", "done": "✓ done", "failed": "✗ failed"}


class ConfirmCancel(ModalScreen[bool]):
    """Ask before interrupting Terraform."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Keep going")]
    TERRAFORM = (
        "Stop Terraform? It finishes the resources in flight, saves its state and "
        "releases its lock; running Apply again resumes."
    )

    def __init__(
        self, question: str = TERRAFORM, stop: str = "Stop gracefully", keep: str = "Keep going"
    ) -> None:
        super().__init__()
        self.question = question
        self.labels = (stop, keep)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question)
            with Horizontal():
                yield Button(self.labels[0], variant="error", id="stop")
                yield Button(self.labels[1], variant="primary", id="keep")

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop")


class ConfirmDestroy(ModalScreen["bool | None"]):
    """Before a destroy whose list holds the state bucket and lock table: keep them or not
    (`server destroy --keep-state`; not kept by default, as in the CLI). Dismissed with the
    choice, or None to go back."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Go back")]

    def __init__(self, inv: Inventory) -> None:
        super().__init__()
        self.inv = inv

    def compose(self) -> ComposeResult:
        state = [t for t in [*self.inv.remove, *self.inv.keep] if t.step == "state"]
        names = ", ".join(t.name for t in state)
        with Vertical(id="confirm"):
            yield Label(
                f"Remove the {len(self.inv.remove) + len(self.inv.keep)} things listed? "
                "This cannot be undone."
            )
            yield Checkbox(
                f"Keep the state bucket and lock table ({names})", False, id="keep-state"
            )
            with Horizontal():
                yield Button("Destroy", variant="error", id="destroy")
                yield Button("Go back", variant="primary", id="back")

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        keep = self.query_one("#keep-state", Checkbox).value
        self.dismiss(keep if event.button.id == "destroy" else None)


class ServerScreen(Screen[None]):
    """Plan, review and apply (or destroy) the Pilot Server."""

    BINDINGS = [
        Binding("p", "plan", "Plan"),
        Binding("a", "apply", "Apply"),
        Binding("d", "plan_destroy", "Destroy"),
        Binding("escape", "cancel_or_back", "Cancel / Back"),
    ]

    def __init__(self, project: Project, config: PilotConfig) -> None:
        super().__init__()
        self.project = project
        self.config = config
        self.interrupt = Interrupt()
        self.server = Server(project, config, self._on_core_event, self.interrupt)
        # Held from a plan until it is applied or dropped, so no other run replaces the
        # plan file under review.
        self.workspace = self.server.workspace_lock("pilot-tui (its Server screen)")
        self.plan: Plan | None = None
        self.teardown: Teardown | None = None  # a destroy's list (the CLI shows the same)
        self.inventory: Inventory | None = None
        self.rows: dict[str, str] = {}
        self.done = 0
        self.started = 0.0
        self._pending: list[str] = []
        self._ui_thread = threading.get_ident()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="server"):
            home = self.config.server.home
            region = self.config.gcp.region if home == "gcp" else self.config.aws.region
            yield Static(f"[b]Pilot Server[/b] · home [b]{home}[/b] · {region}", id="server-title")
            yield ErrorPanel(id="error", classes="hidden")
            yield Static(
                "Press [b]p[/b] to plan: Terraform works out what to create, and you "
                "review it before anything is changed.",
                id="summary",
            )
            yield DataTable(id="resources", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="progress-row", classes="hidden"):
                yield ProgressBar(id="progress", show_eta=False)
                yield Static("", id="elapsed")
            yield ColorLog(id="log", max_lines=LOG_LINES)
        yield PilotFooter()

    def on_unmount(self) -> None:
        self.workspace.release()

    def on_mount(self) -> None:
        table = self.query_one("#resources", DataTable)
        # The state column comes before the details, which are the longest: at 80 columns
        # the details run off the edge, never the state of an apply in progress.
        table.add_column("resource", key="resource")
        table.add_column("action", key="action")
        table.add_column("state", key="state", width=10)
        table.add_column("details", key="details")
        self.set_interval(0.1, self._flush_log)
        self.set_interval(1.0, self._tick)

    # -- events from the core (possibly from a worker thread) ----------------------------
    def _on_core_event(self, event: object) -> None:
        if threading.get_ident() != self._ui_thread:
            self.app.call_from_thread(self._handle, event)
        else:
            self._handle(event)

    def _handle(self, event: object) -> None:
        if isinstance(event, Stage):
            self._log(f"==> {event.name}: {event.detail}")
        elif isinstance(event, Note):
            self._log(
                colour_level(event.level, f"{event.level}: {event.text}")
                if event.level != "info"
                else event.text
            )
        elif isinstance(event, ApplyStart):
            self._set_state(event.address, "running")
        elif isinstance(event, ApplyComplete):
            self.done += 1
            self._set_state(event.address, "done")
            self.query_one("#progress", ProgressBar).update(progress=self.done)
        elif isinstance(event, ApplyErrored):
            self._set_state(event.address, "failed")
        elif isinstance(event, Diagnostic):
            self._log(
                colour_level(
                    event.severity, f"{event.severity}: {event.summary} {event.detail}".strip()
                )
            )
            if event.severity == "error":
                where = f" ({event.address})" if event.address else ""
                self._pin_error(f"{event.summary}{where}\n{event.detail}".strip())
        elif isinstance(event, LogLine) and event.message:
            self._log(event.message)

    def _log(self, line: str) -> None:
        self._pending.append(line)  # Terraform's text arrives already redacted by the core

    def _flush_log(self) -> None:
        if self._pending:  # one batched write per tick keeps a busy stream cheap
            lines, self._pending = self._pending, []
            self.query_one("#log", ColorLog).write_lines(lines)

    def _tick(self) -> None:
        if self.started:
            elapsed = int(time.monotonic() - self.started)
            self.query_one("#elapsed", Static).update(f"{elapsed // 60}:{elapsed % 60:02d}")

    def _set_state(self, address: str, state: str) -> None:
        if address in self.rows:
            table = self.query_one("#resources", DataTable)
            table.update_cell(address, "state", STATE_LABELS[state])

    def _pin_error(self, text: str) -> None:
        self.query_one("#error", ErrorPanel).pin(
            "Apply failed",
            f": {text}",
            then="\nFix the cause and press [b]a[/b] after a new plan: Terraform resumes "
            "from what exists.",
        )

    # -- actions --------------------------------------------------------------------------
    def _busy(self) -> bool:
        return any(w.group == "terraform" and w.is_running for w in self.workers)

    def action_plan(self) -> None:
        if not self._busy():
            self.run_plan(destroy=False)

    def action_plan_destroy(self) -> None:
        if self._busy():
            return
        if sandbox_forced(self.app):  # --sandbox over a real home: their records are shared
            from pilot_tui.config.document import ProjectFile
            from pilot_tui.teardown import sandbox_stand_in

            written = ProjectFile.load(self.project.file).check().config
            refusal = sandbox_stand_in(written.server.home) if written else None
            if refusal:
                self.query_one("#error", ErrorPanel).pin("Not destroyed", f": {refusal}")
                return
        self.run_plan(destroy=True)

    def action_apply(self) -> None:
        if self._busy() or self.plan is None:
            if self.plan is None:
                self.notify("Plan first (p), then review, then apply.")
            return
        if self.plan.destroy and self.inventory is not None:
            if self.inventory.has_state:  # keep the state bucket and lock table?
                self.app.push_screen(ConfirmDestroy(self.inventory), self._destroy_keeping)
            elif self.inventory.remove:
                self.run_teardown(self.plan, self.inventory)
            else:
                self.notify("Nothing to destroy.")
            return
        if not self.plan.changes:  # setup still checks its parts (the deployer, ...)
            self.notify("The server matches pilot.toml; checking setup.")
        self.run_apply(self.plan)

    def _destroy_keeping(self, keep_state: bool | None) -> None:
        """The confirmation's answer: the same executor, with the state kept or not."""
        if keep_state is None or self.plan is None or self.inventory is None:
            return
        assert self.teardown is not None
        self.teardown.keep_state = keep_state
        self.inventory = self.inventory.keeping_state(keep_state)
        table = self.query_one("#resources", DataTable)
        for thing in [*self.inventory.remove, *self.inventory.keep]:
            if thing.step == "state":
                kept = thing in self.inventory.keep
                table.update_cell(_row_key(thing), "action", "keep" if kept else "remove (state)")
                if kept:
                    self.rows.pop(_row_key(thing), None)
        if self.inventory.remove:
            self.run_teardown(self.plan, self.inventory)

    def action_cancel_or_back(self) -> None:
        if not self._busy():
            self.app.pop_screen()
            return

        if self.interrupt.count:
            # Already stopping: Terraform waits for the cloud calls in flight. Killing it
            # may leave what they create outside its state, so say what and ask.
            in_flight = self.server.in_flight()
            self._log(interrupt_message(2, in_flight))
            what = (
                f"{len(in_flight)} resource(s) in flight: {', '.join(in_flight)}"
                if in_flight
                else "Terraform to save its state"
            )
            self.app.push_screen(
                ConfirmCancel(
                    f"Waiting for {what}. Kill Terraform now? What it is creating "
                    "may then exist outside its state.",
                    "Kill Terraform",
                    "Keep waiting",
                ),
                lambda kill: self._kill() if kill else None,
            )
            return

        def decided(stop: bool | None) -> None:
            if stop:
                self.interrupt.request()
                self._log(interrupt_message(1, self.server.in_flight()))

        self.app.push_screen(ConfirmCancel(), decided)

    def _kill(self) -> None:
        self.interrupt.kill()
        self._log(interrupt_message(KILL_AT, {}))

    @work(exclusive=True, group="terraform", name="terraform plan", exit_on_error=False)
    async def run_plan(self, destroy: bool) -> tuple[Plan, RunResult]:
        self.interrupt = self.server.interrupt = Interrupt()
        self.query_one("#error", ErrorPanel).clear()
        self.query_one("#summary", Static).update("Planning…")
        self.started = time.monotonic()
        self.workspace.acquire()
        self.inventory = None
        self._record_sandbox()
        plan, result = await self.server.plan(destroy=destroy)
        if destroy and result.code == 0:  # what `server destroy` lists, found the same way
            from pilot_tui.teardown import plan_teardown

            self.teardown, self.inventory = await plan_teardown(self.server, plan, keep_state=False)
        return plan, result

    def _record_sandbox(self) -> None:
        """Before Terraform's run may start the sandbox's emulators: the app's exit stops
        them even if it comes while they are starting."""
        if self.server.home == "sandbox":
            self.app.starting_sandbox(self.project.state_dir)  # type: ignore[attr-defined]

    @work(exclusive=True, group="terraform", name="teardown", exit_on_error=False)
    async def run_teardown(self, plan: Plan, inv: Inventory) -> Inventory:
        """Remove the listed things step by step (the rows follow), then scan again."""
        import asyncio

        from pilot_tui.teardown import execute, remaining

        assert self.teardown is not None
        self.interrupt = self.server.interrupt = Interrupt()
        self.done = 0
        self.started = time.monotonic()
        self.query_one("#progress", ProgressBar).update(total=len(inv.remove), progress=0)
        self.query_one("#progress-row").remove_class("hidden")
        self.query_one("#summary", Static).update(
            f"Removing {len(inv.remove)} things… (Esc to cancel)"
        )
        steps = dict(inv.by_step())
        current: list[str] = []

        def stage(step: str, title: str) -> None:
            for key in current:
                self._step_row(key, "done")
            current[:] = [
                _row_key(t)
                for t in steps[step]  # Terraform's rows: its events
                if t.kind != "Terraform resource"
            ]
            for key in current:
                self._set_state(key, "running")
            self._on_core_event(Stage(step, title))

        await execute(
            self.teardown,
            inv,
            self.server,
            plan,
            lambda text: self._on_core_event(Note(text)),
            stage,
        )
        for key in current:
            self._step_row(key, "done")
        left = await remaining(self.teardown, self.server)
        for thing in left.remove:
            self._set_state(_row_key(thing), "failed")
        if not left.remove and self.config.server.home == "sandbox":
            from pilot_tui.cloud.sandbox import Sandbox

            await asyncio.to_thread(Sandbox(self.project.state_dir).stop)
        return left

    def _step_row(self, key: str, state: str) -> None:
        if self.rows.get(key) != state:
            self.rows[key] = state
            self._set_state(key, state)
            self.done += 1
            self.query_one("#progress", ProgressBar).update(progress=self.done)

    @work(exclusive=True, group="terraform", name="terraform apply", exit_on_error=False)
    async def run_apply(self, plan: Plan) -> RunResult:
        self.interrupt = self.server.interrupt = Interrupt()
        self.done = 0
        self.started = time.monotonic()
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=plan.total, progress=0)
        self.query_one("#progress-row").remove_class("hidden")
        self._record_sandbox()
        self.query_one("#summary", Static).update(
            f"{'Destroying' if plan.destroy else 'Applying'} {plan.total} change(s)… "
            "(Esc to cancel)"
        )
        return await self.server.apply(plan)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker outcomes reach the screen."""
        worker = event.worker
        if worker.group != "terraform":
            return
        if event.state == WorkerState.ERROR:
            self.plan = None
            self.query_one("#error", ErrorPanel).pin_failure(worker, self.project.state_dir)
            self.query_one("#summary", Static).update("Stopped by an error (see above).")
        elif event.state == WorkerState.SUCCESS and worker.name == "terraform plan":
            plan, result = worker.result  # type: ignore[misc]
            self._show_plan(plan, result)
        elif event.state == WorkerState.SUCCESS and worker.name == "terraform apply":
            self._show_result(worker.result)  # type: ignore[arg-type]
        elif event.state == WorkerState.SUCCESS and worker.name == "teardown":
            self._show_left(worker.result)  # type: ignore[arg-type]
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.started = 0.0
            if event.state == WorkerState.CANCELLED or self.plan is None or not self.plan.changes:
                self.workspace.release()  # nothing left to apply
            if self.server.started_sandbox:
                self.app.started_sandboxes.add(self.project.state_dir)  # type: ignore[attr-defined]

    def _show_plan(self, plan: Plan, result: RunResult) -> None:
        table = self.query_one("#resources", DataTable)
        table.clear()
        self.rows = {}
        if result.code != 0:
            self.plan = None
            self.query_one("#summary", Static).update(f"Planning failed; log: {result.log}")
            return
        self.plan = plan
        if plan.destroy and self.inventory is not None:
            self._show_inventory(self.inventory)
            return
        for change in plan.changes:
            table.add_row(
                change.address,
                change.action,
                STATE_LABELS["pending"],
                change.details,
                key=change.address,
            )
            self.rows[change.address] = "pending"
        lines = []
        if not plan.changes:
            lines.append("No changes: the Pilot Server matches pilot.toml.")
        else:
            verb = "destroy" if plan.destroy else "apply"
            lines.append(
                f"[b]{plan.total}[/b] change(s) to review. Press [b]a[/b] to {verb}, "
                "Esc to go back."
            )
            if not plan.destroy:
                lines.append(escape(self.server.estimate().text()))
        lines += [f"[red b]WARNING: {w}[/]" for w in plan.warnings]
        self.query_one("#summary", Static).update("\n".join(lines))

    def _show_inventory(self, inv: Inventory) -> None:
        """The destroy's list, the same the CLI prints: each thing, how it was found."""
        from pilot_tui.teardown import STEP_TITLES

        table = self.query_one("#resources", DataTable)
        for step, things in inv.by_step():
            for thing in things:
                key = _row_key(thing)
                what = (
                    thing.name
                    if thing.kind == "Terraform resource"
                    else f"{thing.kind} {thing.name}"
                )
                found = f"app {thing.app}; {thing.found}" if thing.app else thing.found
                table.add_row(what, f"remove ({step})", STATE_LABELS["pending"], found, key=key)
                self.rows[key] = "pending"
        if not inv.remove:
            lines = ["Nothing to destroy."]
        else:
            steps = ", ".join(STEP_TITLES[step] for step, _ in inv.by_step())
            lines = [
                f"[b]{len(inv.remove)}[/b] things Pilot made for this project to remove "
                f"({steps}). Press [b]a[/b] to destroy them all, Esc to go back."
            ]
        lines += [escape(line) for line in inv.unowned_lines()]
        lines += [f"[yellow]warning: {p}; not listed[/]" for p in inv.problems]
        self.query_one("#summary", Static).update("\n".join(lines))

    def _show_left(self, left: Inventory) -> None:
        summary = self.query_one("#summary", Static)
        if left.remove:
            names = ", ".join(t.describe() for t in left.remove[:5])
            self._pin_error(f"{len(left.remove)} left after the destroy: {names}")
            summary.update(
                f"What remains ({len(left.remove)}): see above and the log. "
                "Press d then a to try again."
            )
        elif left.unowned:  # never "nothing" while they are there
            summary.update(
                "[green b]Done.[/] Everything Pilot made for this project is gone. What "
                f"remains: {len(left.unowned)} bucket(s) Pilot left alone.\n"
                + "\n".join(escape(line) for line in left.unowned_lines())
            )
        else:
            kept = ", ".join(f"{t.kind} {t.name}" for t in left.keep)
            summary.update(
                "[green b]Done.[/] Everything Pilot made for this project is gone. "
                "What remains: nothing"
                + (f" (kept, as asked: {escape(kept)})" if kept else "")
                + "."
            )
        self.plan = self.inventory = None

    def _show_result(self, result: RunResult) -> None:
        summary = self.query_one("#summary", Static)
        if result.killed:
            lines = "\n".join(escape(line) for line in self.server.after_kill(result))
            summary.update(
                f"[b]Killed[/b] after {self.done} change(s): Terraform's state may "
                f"miss what it was doing.\n{lines}\nLog: {result.log}"
            )
        elif result.interrupted:
            summary.update(
                f"Stopped after {self.done} change(s); state is saved. Plan and "
                "apply again to finish."
            )
        elif result.code != 0:
            summary.update(
                f"Failed at {', '.join(result.errored) or 'a step'}; "
                f"{len(result.completed)} change(s) made. Log: {result.log}"
            )
        else:
            outputs = self.server.saved_outputs()
            from pilot_tui.deploy.addresses import server_rows

            shown = "  ".join(
                f"{k}: [b]{v}[/b]"
                for k, v in server_rows(self.server.home, outputs, ("public_ip", "docker_host"))
            )
            what = (
                "pick an app and d to deploy it" if self.config.apps else "describe your first app"
            )
            summary.update(f"[green b]Done.[/] {shown}\nNext: Esc, then [b]a[/b] to {what}.")
        self.plan = None


def _row_key(thing: Thing) -> str:
    """A Terraform resource's row is its address (Terraform's events name it)."""
    return thing.name if thing.kind == "Terraform resource" else f"{thing.kind} {thing.name}"
