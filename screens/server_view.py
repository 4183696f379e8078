"""What the Server screen says, made from the core's data (pure, so it is tested as data):
a plan to review, how an apply ended, and for a destroy the list of what goes (the same the
CLI prints, each thing with how it was found), the question about the state bucket, and what
remains. Terraform's and the cloud's own text (warnings, problems, paths) is escaped here:
shown as written, never read as markup."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label

from pilot_tui.provision.server import Plan, RunResult
from pilot_tui.teardown import STEP_TITLES, Inventory, Thing
from pilot_tui.wording import counted, plural


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
                f"Remove the {counted(len(self.inv.remove) + len(self.inv.keep), 'thing')} listed? "
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


def row_key(thing: Thing) -> str:
    """A Terraform resource's row is its address (Terraform's events name it)."""
    return thing.name if thing.kind == "Terraform resource" else f"{thing.kind} {thing.name}"


def inventory_rows(inv: Inventory) -> list[tuple[str, str, str, str]]:
    """(row key, what, action, how it was found) for each thing on the list, step by step."""
    rows = []
    for step, things in inv.by_step():
        for thing in things:
            found = f"app {thing.app}; {thing.found}" if thing.app else thing.found
            rows.append((row_key(thing), row_key(thing), f"remove ({step})", found))
    return rows


def inventory_summary(inv: Inventory) -> str:
    """Markup: how many things go, in which steps, and what Pilot leaves alone."""
    if not inv.remove:
        lines = ["Nothing to destroy."]
    else:
        steps = ", ".join(STEP_TITLES[step] for step, _ in inv.by_step())
        lines = [
            f"[b]{len(inv.remove)}[/b] {plural(len(inv.remove), 'thing')} Pilot made for this "
            "project to remove "
            f"({steps}). Press [b]a[/b] to destroy them all, Esc to go back."
        ]
    lines += [escape(line) for line in inv.unowned_lines()]
    lines += [f"[yellow]warning: {escape(p)}; not listed[/]" for p in inv.problems]
    return "\n".join(lines)


def gone_summary(left: Inventory) -> str:
    """Markup once nothing Pilot made is left: what remains (never "nothing" while there is
    something)."""
    done = "[green b]Done.[/] Everything Pilot made for this project is gone. What remains:"
    if left.problems:  # a place not looked in: what it holds is unknown, never "nothing"
        problems = "\n".join(f"[yellow]warning: {escape(p)}[/]" for p in left.problems)
        return (
            "[green b]Done.[/] Everything Pilot found for this project is gone. What remains: "
            f"nothing found where Pilot could look.\n{problems}"
        )
    if left.unowned:
        return f"{done} {counted(len(left.unowned), 'bucket')} Pilot left alone.\n" + "\n".join(
            escape(line) for line in left.unowned_lines()
        )
    kept = ", ".join(f"{t.kind} {t.name}" for t in left.keep)
    return f"{done} nothing" + (f" (kept, as asked: {escape(kept)})" if kept else "") + "."


def plan_summary(plan: Plan, estimate: str) -> str:
    """Markup: how many changes to review and what they cost (``estimate``), then the plan's
    warnings."""
    if not plan.changes:
        lines = ["No changes: the Pilot Server matches pilot.toml."]
    else:
        verb = "destroy" if plan.destroy else "apply"
        lines = [
            f"[b]{plan.total}[/b] {plural(plan.total, 'change')} to review. Press [b]a[/b] to "
            f"{verb}, Esc to go back."
        ]
        if estimate:
            lines.append(escape(estimate))
    return "\n".join(lines + [f"[red b]WARNING: {escape(w)}[/]" for w in plan.warnings])


def apply_summary(
    result: RunResult,
    done: int,
    after_kill: Callable[[RunResult], list[str]],
    outputs: Callable[[], list[tuple[str, str]]],
    has_apps: bool,
) -> str:
    """Markup: how an apply ended, after ``done`` changes. ``after_kill`` (what may be
    untracked) and ``outputs`` (the server's address rows) are asked only when needed."""
    log = escape(str(result.log))
    if result.killed:
        lines = "\n".join(escape(line) for line in after_kill(result))
        return (
            f"[b]Killed[/b] after {counted(done, 'change')}: Terraform's state may "
            f"miss what it was doing.\n{lines}\nLog: {log}"
        )
    if result.interrupted:
        return (
            f"Stopped after {counted(done, 'change')}; state is saved. Plan and apply again "
            "to finish."
        )
    if result.code != 0:
        failed = escape(", ".join(result.errored) or "a step")
        return f"Failed at {failed}; {counted(len(result.completed), 'change')} made. Log: {log}"
    shown = "  ".join(f"{k}: [b]{escape(v)}[/b]" for k, v in outputs())
    what = "pick an app and d to deploy it" if has_apps else "describe your first app"
    # What to do next first: on a short terminal the summary scrolls (found walking: a
    # long DOCKER_HOST in the addresses pushed it out of view)
    return f"[green b]Done.[/] Next: Esc, then [b]a[/b] to {what}.\n{shown}"
