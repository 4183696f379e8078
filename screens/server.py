"""Server: plan review and live apply of the Pilot Server, driving the core's `Server`.

Terraform runs in a named worker; its events arrive through one handler that updates the
plan table, the progress bar, the live resource list and a capped log pane. Cancel sends
Terraform a graceful interrupt (after confirmation), exactly as Ctrl+C does in the CLI.
"""

from __future__ import annotations

import time

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, ProgressBar, Static
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
from pilot_tui.screens.run_screen import LOG_LINES, STATES, ConfirmCancel, RunScreen, tracked
from pilot_tui.screens.sandboxes import app_sandboxes
from pilot_tui.screens.server_view import (
    ConfirmDestroy,
    apply_summary,
    gone_summary,
    inventory_rows,
    inventory_summary,
    plan_summary,
    row_key,
)
from pilot_tui.teardown import Inventory, Teardown
from pilot_tui.wording import counted, plural


class ServerScreen(RunScreen):
    """Plan, review and apply (or destroy) the Pilot Server."""

    WORKERS = "terraform"

    BINDINGS = [
        Binding("p", "plan", "Plan"),
        Binding("a", "apply", "Apply"),
        Binding("d", "plan_destroy", "Destroy"),
        Binding("escape", "cancel_or_back", "Cancel / Back"),
    ]

    def __init__(self, project: Project, config: PilotConfig) -> None:
        super().__init__(project.state_dir)
        self.project = project
        self.config = config
        self.interrupt = Interrupt()
        self.server = Server(project, config, self.core_event, self.interrupt)
        # Held from a plan until it is applied or dropped, so no other run replaces the
        # plan file under review.
        self.workspace = self.server.workspace_lock("pilot-tui (its Server screen)")
        self.plan: Plan | None = None
        self.teardown: Teardown | None = None  # a destroy's list (the CLI shows the same)
        self.inventory: Inventory | None = None
        self.rows: dict[str, str] = {}
        self.done = 0
        self.started = 0.0
        self.clock = "0:00"  # the time since the run started, as _tick last said it
        self.followed = 0  # the row _follow moved the cursor to (it starts on the first)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="server"):
            home = self.config.server.home
            region = self.config.gcp.region if home == "gcp" else self.config.aws.region
            yield Static(f"[b]Pilot Server[/b] · home [b]{home}[/b] · {region}", id="server-title")
            yield ErrorPanel(id="error", classes="hidden")
            yield Static(self._opening(), id="summary")
            yield DataTable(id="resources", cursor_type="row", zebra_stripes=True)
            # The highlighted row whole: its details run off a narrow table's edge.
            yield Static("", id="resource-detail", classes="hidden")
            with Horizontal(id="progress-row", classes="hidden"):
                yield ProgressBar(id="progress", show_eta=False)
                yield Static("", id="elapsed")
            yield ColorLog(id="log", max_lines=LOG_LINES)
        yield PilotFooter()

    def _opening(self) -> str:
        """What the screen says first: how to make the server, or that it is up and what
        p and d do then (found walking: an up server's screen said only "Press p to plan:
        Terraform works out what to create")."""
        from pilot_tui.screens.home_status import saved_server

        up = saved_server(self.project.state_dir, ask_engine=False)  # (the UI thread)
        if up is None:
            return (
                "Press [b]p[/b] to plan: Terraform works out what to create, and you "
                "review it before anything is changed."
            )
        return (
            f"The server is [green]up[/green] {escape(up)}. Press [b]p[/b] to plan changes "
            "(pilot.toml's edits since), or [b]d[/b] to plan its removal; you review either "
            "before anything is changed."
        )

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
        self.set_interval(1.0, self._tick)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        detail = self.query_one("#resource-detail", Static)
        if event.data_table.id != "resources" or event.row_key.value is None:
            return
        row = event.data_table.get_row(event.row_key)
        what, details = str(row[0]), str(row[3])
        detail.update(Text(f"{what}: {details}" if details else what))
        detail.set_class(False, "hidden")

    # -- events from the core (RunScreen.core_event) --------------------------------------
    def handle(self, event: object) -> None:
        if isinstance(event, Stage):
            self.log_line(f"==> {event.name}: {event.detail}")
        elif isinstance(event, Note):
            self.log_line(
                colour_level(event.level, f"{event.level}: {event.text}")
                if event.level != "info"
                else event.text
            )
        elif isinstance(event, ApplyStart):
            self._set_state(event.address, "running")
            self._follow(event.address)
        elif isinstance(event, ApplyComplete):
            self._set_state(event.address, "done")
            self._advance()
        elif isinstance(event, ApplyErrored):
            self._set_state(event.address, "failed")
        elif isinstance(event, Diagnostic):
            self.log_line(
                colour_level(
                    event.severity, f"{event.severity}: {event.summary} {event.detail}".strip()
                )
            )
            if event.severity == "error":
                where = f" ({event.address})" if event.address else ""
                self._pin_error(f"{event.summary}{where}\n{event.detail}".strip())
        elif isinstance(event, LogLine) and event.message:
            self.log_line(event.message)

    def _tick(self) -> None:
        if self.started:
            elapsed = int(time.monotonic() - self.started)
            self.clock = f"{elapsed // 60}:{elapsed % 60:02d}"
            self._show_progress()

    def _advance(self) -> None:
        """One more change made: the bar and its count (a destroy's step, or Terraform's)."""
        self.done += 1
        self.query_one("#progress", ProgressBar).update(progress=self.done)
        self._show_progress()

    def _start_clock(self, *, follow: bool = False) -> None:
        """A run starts: its clock from 0:00; with ``follow``, the table follows Terraform
        from where its cursor is."""
        self.started, self.clock = time.monotonic(), "0:00"
        if follow:
            self.followed = self.query_one("#resources", DataTable).cursor_row

    def _show_progress(self) -> None:
        """The time since the run started and the changes made of those planned (as the
        CLI's [n/total]), as the bar has them: said at each change and at the end too, not
        only each second (found in CI: the last second's "8/9" stayed under "Done.")."""
        bar = self.query_one("#progress", ProgressBar)
        count = f"  {int(bar.progress)}/{int(bar.total)}" if bar.total else ""
        self.query_one("#elapsed", Static).update(f"{self.clock}{count}")

    def _set_state(self, address: str, state: str) -> None:
        if address in self.rows:
            table = self.query_one("#resources", DataTable)
            table.update_cell(address, "state", STATES[state])

    def _follow(self, address: str) -> None:
        """The row Terraform works on now highlighted, scrolled into view (found walking:
        at 80x24 it was below the table's visible rows while the bar sat at 11%), until
        the person moves the cursor themselves (found reviewing: it took the row away)."""
        table = self.query_one("#resources", DataTable)
        if address not in self.rows or table.cursor_row != self.followed:
            return
        self.followed = table.get_row_index(address)
        table.move_cursor(row=self.followed)

    def _pin_error(self, text: str) -> None:
        self.error_panel.pin(
            "Apply failed",
            f": {text}",
            then="\nFix the cause and press [b]a[/b] after a new plan: Terraform resumes "
            "from what exists.",
        )

    # -- actions --------------------------------------------------------------------------
    def action_plan(self) -> None:
        if not self.busy():
            self.run_plan(destroy=False)

    def action_plan_destroy(self) -> None:
        if self.busy():
            return
        if sandbox_forced(self.app):  # --sandbox over a real home: their records are shared
            from pilot_tui.config.document import ProjectFile
            from pilot_tui.teardown import sandbox_stand_in

            written = ProjectFile.load(self.project.file).check().config
            refusal = sandbox_stand_in(written.server.home) if written else None
            if refusal:
                self.error_panel.pin("Not destroyed", f": {refusal}")
                return
        self.run_plan(destroy=True)

    def action_apply(self) -> None:
        if self.busy() or self.plan is None:
            if self.plan is None:
                self.notify("Plan first (p), then review, then apply.")
            return
        if self.plan.destroy and self.inventory is not None:
            from pilot_tui.teardown import databases_at_stake

            at_stake = databases_at_stake(self.inventory, self.server.config, server_goes=True)
            if at_stake:  # never removed on a yes: each is named, in the CLI
                flags = " ".join(f"--drop-database {name}" for name in at_stake)
                self.notify(
                    f"This destroys the data of {plural(len(at_stake), 'database')} "
                    f"{', '.join(at_stake)}. Remove "
                    f"them first (pilot-tui db destroy NAME), or run pilot-tui server destroy "
                    f"{flags} in a terminal.",
                    severity="error",
                    timeout=20,
                )
                return
            if self.inventory.has_state:  # keep the state bucket and lock table?
                self.app.push_screen(ConfirmDestroy(self.inventory), self._destroy_keeping)
            elif self.inventory.remove:
                self.run_teardown(self.plan, self.inventory)
            else:
                self.notify("Nothing to destroy.")
            return
        if not self.plan.changes and self.plan.outputs:  # Terraform's record of them only
            self.notify(f"No resource changes; recording new outputs ({len(self.plan.outputs)}).")
        elif not self.plan.changes:  # setup still checks its parts (the deployer, ...)
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
                table.update_cell(row_key(thing), "action", "keep" if kept else "remove (state)")
                if kept:
                    self.rows.pop(row_key(thing), None)
        if self.inventory.remove:
            self.run_teardown(self.plan, self.inventory)

    def running(self) -> str:
        return (
            "Terraform is running (stopped, it finishes the resources in flight, saves its "
            "state and releases its lock; Apply again resumes)"
        )

    def stop_for_quit(self) -> None:
        if not self.interrupt.count:
            self.interrupt.request()
            self.log_line(interrupt_message(1, self.server.in_flight()))

    def stop_now_leaves(self) -> str:
        in_flight = self.server.in_flight()
        what = f" ({', '.join(in_flight)})" if in_flight else ""
        return f"Terraform is killed: what it is creating{what} may be left outside its state"

    def stop_now(self) -> None:
        self.interrupt.kill()

    def ask_to_cancel(self) -> None:
        if self.interrupt.count:
            # Already stopping: Terraform waits for the cloud calls in flight. Killing it
            # may leave what they create outside its state, so say what and ask.
            in_flight = self.server.in_flight()
            self.log_line(interrupt_message(2, in_flight))
            what = (
                f"{counted(len(in_flight), 'resource')} in flight: {', '.join(in_flight)}"
                if in_flight
                else "Terraform to save its state"
            )
            self.confirm(
                ConfirmCancel(
                    f"Waiting for {what}. Kill Terraform now? What it is creating "
                    "may then exist outside its state.",
                    "Kill Terraform",
                    "Keep waiting",
                ),
                self._kill,
            )
            return

        def stop() -> None:
            self.interrupt.request()
            self.log_line(interrupt_message(1, self.server.in_flight()))

        self.confirm(ConfirmCancel(), stop)

    def _kill(self) -> None:
        self.interrupt.kill()
        self.log_line(interrupt_message(KILL_AT, {}))

    @work(exclusive=True, group="terraform", name="terraform plan", exit_on_error=False)
    @tracked
    async def run_plan(self, destroy: bool) -> tuple[Plan, RunResult]:
        self.interrupt = self.server.interrupt = Interrupt()
        self.error_panel.clear()
        self.query_one("#summary", Static).update("Planning…")
        self._start_clock()
        self.workspace.acquire()
        self.inventory = None
        self._record_sandbox()
        plan, result = await self.server.plan(destroy=destroy)
        if destroy and result.code == 0:  # what `server destroy` lists, found the same way
            from pilot_tui.teardown import plan_teardown

            self.teardown, self.inventory = await plan_teardown(self.server, plan, keep_state=False)
        return plan, result

    def _record_sandbox(self) -> None:
        if self.server.home == "sandbox":
            self.record_sandbox(self.state_dir)

    @work(exclusive=True, group="terraform", name="teardown", exit_on_error=False)
    @tracked
    async def run_teardown(self, plan: Plan, inv: Inventory) -> Inventory:
        """Remove the listed things step by step (the rows follow), then scan again."""
        import asyncio

        from pilot_tui.teardown import execute, remaining

        assert self.teardown is not None
        from pilot_tui.errors import PilotError
        from pilot_tui.teardown import backups_held

        held = await asyncio.to_thread(backups_held, self.teardown, inv)
        if held:  # never on a yes: the CLI's --drop-backups names them
            raise PilotError(
                f"The state bucket holds the backups of {', '.join(held)}: keep the state "
                "(destroy again and choose to keep it), or run pilot-tui server destroy "
                "--drop-backups in a terminal. Nothing was removed.",
                title="Backups in the state bucket",
            )
        self.interrupt = self.server.interrupt = Interrupt()
        self.done = 0
        self._start_clock(follow=True)
        self.query_one("#progress", ProgressBar).update(total=len(inv.remove), progress=0)
        self.query_one("#progress-row").remove_class("hidden")
        self.query_one("#summary", Static).update(
            f"Removing {counted(len(inv.remove), 'thing')}… (Esc to cancel)"
        )
        steps = dict(inv.by_step())
        current: list[str] = []

        def stage(step: str, title: str) -> None:
            for key in current:
                self._step_row(key, "done")
            current[:] = [
                row_key(t)
                for t in steps[step]  # Terraform's rows: its events
                if t.kind != "Terraform resource"
            ]
            for key in current:
                self._set_state(key, "running")
            self.core_event(Stage(step, title))

        await execute(
            self.teardown,
            inv,
            self.server,
            plan,
            lambda text: self.core_event(Note(text)),
            stage,
        )
        for key in current:
            self._step_row(key, "done")
        left = await remaining(self.teardown, self.server)
        for thing in left.remove:
            self._set_state(row_key(thing), "failed")
        if not left.remove and self.config.server.home == "sandbox":
            from pilot_tui.cloud.sandbox import Sandbox

            await asyncio.to_thread(Sandbox(self.project.state_dir).stop)
        return left

    def _step_row(self, key: str, state: str) -> None:
        if self.rows.get(key) != state:
            self.rows[key] = state
            self._set_state(key, state)
            self._advance()

    @work(exclusive=True, group="terraform", name="terraform apply", exit_on_error=False)
    @tracked
    async def run_apply(self, plan: Plan) -> RunResult:
        self.interrupt = self.server.interrupt = Interrupt()
        self.done = 0
        self._start_clock(follow=True)
        progress = self.query_one("#progress", ProgressBar)
        progress.update(total=plan.total, progress=0)
        self.query_one("#progress-row").remove_class("hidden")
        self._record_sandbox()
        self.query_one("#summary", Static).update(
            f"{'Destroying' if plan.destroy else 'Applying'} {counted(plan.total, 'change')}… "
            "(Esc to cancel)"
        )
        return await self.server.apply(plan)

    def succeeded(self, worker: Worker[object]) -> None:
        outcome = worker.result
        if isinstance(outcome, RunResult):  # terraform apply
            self._show_result(outcome)
        elif isinstance(outcome, Inventory):  # teardown: what is left
            self._show_left(outcome)
        elif isinstance(outcome, tuple):  # terraform plan
            plan, result = outcome
            self._show_plan(plan, result)

    def failed(self, worker: Worker[object]) -> None:
        self.plan = None
        super().failed(worker)
        self.query_one("#summary", Static).update("Stopped by an error (see above).")

    def finished(self, state: WorkerState) -> None:
        self._tick()  # the last word on the time, before the clock stops
        self.started = 0.0
        if state == WorkerState.CANCELLED or self.plan is None or not self.plan.changes:
            self.workspace.release()  # nothing left to apply
        if self.server.started_sandbox:
            app_sandboxes(self.app).started(self.state_dir)

    def _show_plan(self, plan: Plan, result: RunResult) -> None:
        table = self.query_one("#resources", DataTable)
        table.clear()
        self.rows = {}
        self.query_one("#resource-detail", Static).set_class(True, "hidden")
        if result.code != 0:
            self.plan = None
            self.query_one("#summary", Static).update(
                f"Planning failed; log: {escape(str(result.log))}"
            )
            return
        self.plan = plan
        if plan.destroy and self.inventory is not None:
            self._show_inventory(self.inventory)
            return
        for change in plan.changes:
            table.add_row(
                change.address,
                change.action,
                STATES["pending"],
                change.details,
                key=change.address,
            )
            self.rows[change.address] = "pending"
        estimate = self.server.estimate().text() if plan.changes and not plan.destroy else ""
        self.query_one("#summary", Static).update(plan_summary(plan, estimate))

    def _show_inventory(self, inv: Inventory) -> None:
        """The destroy's list, the same the CLI prints: each thing, how it was found."""
        table = self.query_one("#resources", DataTable)
        for key, what, action, found in inventory_rows(inv):
            table.add_row(what, action, STATES["pending"], found, key=key)
            self.rows[key] = "pending"
        self.query_one("#summary", Static).update(inventory_summary(inv))

    def _show_left(self, left: Inventory) -> None:
        summary = self.query_one("#summary", Static)
        if left.remove:
            names = ", ".join(t.describe() for t in left.remove[:5])
            self._pin_error(f"{len(left.remove)} left after the destroy: {names}")
            summary.update(
                f"What remains ({len(left.remove)}): see above and the log. "
                "Press d then a to try again."
            )
        else:
            from pilot_tui.teardown.plan import kept_here

            kept = kept_here(self.server.project.state_dir)
            summary.update(
                gone_summary(left)
                + (
                    f"\nKept on this machine, yours to delete: {escape(', '.join(kept))}."
                    if kept
                    else ""
                )
            )
        self.plan = self.inventory = None

    def _show_result(self, result: RunResult) -> None:
        from pilot_tui.deploy.addresses import server_rows

        def outputs() -> list[tuple[str, str]]:
            saved = self.server.saved_outputs()
            return server_rows(self.server.home, saved, ("public_ip", "docker_host"))

        summary = apply_summary(
            result, self.done, self.server.after_kill, outputs, bool(self.config.apps)
        )
        bar = self.query_one("#progress", ProgressBar)
        if result.code == 0 and not (result.interrupted or result.killed) and bar.total:
            # Whole: every planned change was made, whether or not the bar's last updates
            # were handled before the result.
            bar.update(progress=bar.total)
            self._show_progress()
        self.query_one("#summary", Static).update(summary)
        self.plan = None
