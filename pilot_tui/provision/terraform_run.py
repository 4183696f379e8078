"""What one Terraform run produced (RunResult, folded from its -json events), a saved
plan (Plan), and what to tell the user when a run fails or is interrupted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pilot_tui.provision.tf.events import (
    ApplyComplete,
    ApplyErrored,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    Event,
    Outputs,
    PlannedChange,
)
from pilot_tui.provision.tf.plan import ResourceChange
from pilot_tui.runner import KILL_AT


@dataclass
class RunResult:
    """What one Terraform run produced."""

    code: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    summary: ChangeSummary | None = None
    log: Path | None = None
    interrupted: bool = False
    # address -> action of every resource Terraform started to change, and of those not
    # finished (from its -json apply_start / apply_complete / apply_errored events).
    started: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, str] = field(default_factory=dict)
    killed: bool = False  # Terraform was killed: its state may miss what it was doing
    untracked: list[tuple[str, str]] = field(default_factory=list)  # after a kill
    # The root module's outputs an apply reports as it ends (its -json `outputs` message):
    # they save a separate `terraform output`, which starts the providers again.
    outputs: Outputs | None = None
    planned: list[PlannedChange] = field(default_factory=list)  # a plan's, as it streamed

    @property
    def outputs_changing(self) -> list[str]:
        """The outputs a plan changes, as its stream said (its `outputs` message)."""
        return [] if self.outputs is None else self.outputs.changing()

    @property
    def changes_nothing(self) -> bool:
        """A plan that said, in its own stream, it has nothing to do: no resource and no
        output changes (an output's new value is recorded by an apply only)."""
        summary = self.summary
        return (
            self.code == 0
            and not self.planned
            and summary is not None
            and summary.add == summary.change == summary.remove == 0
            and not self.outputs_changing
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def record(self, event: Event) -> None:
        """Fold one of Terraform's events into what this run produced."""
        if isinstance(event, Diagnostic):
            self.diagnostics.append(event)
        elif isinstance(event, ApplyStart):
            self.started[event.address] = event.action
            self.in_flight[event.address] = event.action
        elif isinstance(event, ApplyErrored):
            self.errored.append(event.address)
            self.in_flight.pop(event.address, None)
        elif isinstance(event, ApplyComplete):
            self.completed.append(event.address)
            self.in_flight.pop(event.address, None)
        elif isinstance(event, ChangeSummary):
            self.summary = event
        elif isinstance(event, Outputs):
            self.outputs = event
        elif isinstance(event, PlannedChange):
            self.planned.append(event)


PROVIDER_DOWNLOAD_FAILED = (
    "Failed to query available provider packages",
    "Failed to install provider",
    "could not connect to registry",
)


def init_advice(log: str) -> str:
    """What to do about a failed `terraform init`, from what its log says."""
    if any(sign in log for sign in PROVIDER_DOWNLOAD_FAILED):
        return (
            "\nTerraform could not download its providers. Check this machine's network "
            "(registry.terraform.io must be reachable, through $HTTPS_PROXY if you use "
            "one), or install them from a provider mirror: `terraform providers mirror "
            "DIR` on a connected machine, then a provider_installation { filesystem_mirror "
            '{ path = "DIR" } } block in the CLI config file $TF_CLI_CONFIG_FILE names.'
        )
    return "\nFix what the log shows, then run the command again."


def interrupt_message(presses: int, in_flight: dict[str, str]) -> str:
    """What an interrupt does, for the CLI's Ctrl+C and the app's Esc alike."""
    if presses <= 1:
        what = (
            f"the {len(in_flight)} resource{'s' if len(in_flight) != 1 else ''} in flight "
            f"({', '.join(in_flight)})"
            if in_flight
            else "what is in flight"
        )
        return (
            f"interrupt: stopping gracefully; Terraform finishes {what} and saves "
            "its state (press again to see what it waits for)"
        )
    if presses >= KILL_AT:
        return "interrupt: killing Terraform now"
    if not in_flight:
        return (
            "interrupt: Terraform is saving its state and releasing its lock; Ctrl+C again "
            "to kill it (its state may then miss what it just made)"
        )
    n = len(in_flight)
    return (
        f"interrupt: waiting for {n} resource{'s' if n != 1 else ''} in flight: "
        f"{', '.join(in_flight)}; Ctrl+C again to kill Terraform (may leave "
        f"{'them' if n != 1 else 'it'} untracked, outside its state)"
    )


@dataclass
class Plan:
    """A saved plan, reviewed before it is applied."""

    changes: list[ResourceChange]
    summary: ChangeSummary | None
    warnings: list[str]
    destroy: bool = False
    # False: its changes are those the plan streamed (no details, no warnings yet); the
    # saved plan is still to be read back (Server.read_back) for the table a person reads.
    read_back: bool = True
    # The outputs it changes: with no resource change, still applied (nothing to review:
    # only Terraform's record of its outputs changes), so the saved outputs are current.
    outputs: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(1 for c in self.changes if c.action != "read")
