"""Provision the Pilot Server: render, init, plan, apply, destroy, outputs.

UI-free: progress goes to an ``on_event`` callback as typed events (Terraform's own events
from :mod:`pilot_tui.provision.tf.events`, plus :class:`Stage` and :class:`Note`), which the
CLI prints and the TUI will draw. Every Terraform run is also logged in full under .pilot/logs/.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.config.schema import PilotConfig, default_size
from pilot_tui.data import managed
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.leftovers import Where, advice
from pilot_tui.naming import project_resource
from pilot_tui.prices import Estimate, estimate
from pilot_tui.project import Project
from pilot_tui.provision import backends
from pilot_tui.provision.backends import Backend
from pilot_tui.provision.keys import server_key
from pilot_tui.provision.outputs import OUTPUTS_FILE as OUTPUTS_FILE
from pilot_tui.provision.outputs import saved_outputs as saved_outputs
from pilot_tui.provision.outputs import saved_record as saved_record
from pilot_tui.provision.progress import NeedsAllowedCidrs, Note, OnEvent, ServerError, Stage
from pilot_tui.provision.sandbox_state import SANDBOX_KEY, sandbox_identity
from pilot_tui.provision.server_setup import after_apply
from pilot_tui.provision.terraform_run import Plan, RunResult, init_advice
from pilot_tui.provision.terraform_run import interrupt_message as interrupt_message  # for faces
from pilot_tui.provision.tf import commands
from pilot_tui.provision.tf.events import Outputs, parse_line
from pilot_tui.provision.tf.plan import ResourceChange, summarize_plan
from pilot_tui.provision.tf.toolchain import Terraform, resolve
from pilot_tui.provision.tf.variables import variables
from pilot_tui.provision.tf.workspace import WorkspaceLock, render, template_sources
from pilot_tui.runner import Command, Interrupt, Line, stream
from pilot_tui.wording import counted

BACKEND_FILE = "pilot_backend.tf"


def _cloud_id(resource_type: str, values: dict[str, object]) -> str:
    """The name a scan of the cloud finds a resource by: its id, except an RDS instance's
    identifier (its id is a resource id on aws 5.x) and a Cloud SQL instance's name."""
    key = {"aws_db_instance": "identifier", "google_sql_database_instance": "name"}
    return str(values.get(key.get(resource_type, "id")) or "")


# The planned_change actions the saved plan's own reading (summarize_plan) lists too.
STREAMED_ACTIONS = ("create", "update", "delete", "replace", "read")


class Server:
    """The Pilot Server of one project."""

    def __init__(
        self,
        project: Project,
        config: PilotConfig,
        on_event: OnEvent,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.on_event = on_event
        self.interrupt = interrupt or Interrupt()
        self.home = config.server.home
        self._tf: Terraform | None = None
        self.backend: Backend = Backend("local")
        self._aws_url: str | None = None
        self._gcs_url: str | None = None
        self.started_sandbox = False  # True when this process started the emulators
        self.current: RunResult | None = None  # the Terraform run under way

    # -- preparation -----------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        return self.project.state_dir / "terraform" / self.home

    @property
    def outputs_file(self) -> Path:
        return self.project.state_dir / "outputs" / OUTPUTS_FILE

    def terraform(self) -> Terraform:
        if self._tf is None:
            self._tf = resolve(
                self.config.terraform.binary,
                sandbox=self.home == "sandbox",
                project_root=self.project.root,
            )
            self.on_event(Note(f"using {self._tf.describe()}"))
        return self._tf

    def prepare(self) -> Path:
        """Sandbox emulators, SSH key, rendered templates; the working directory."""
        if self.home == "host":
            raise ServerError(
                'home = "host" uses your own Docker host (server.host): there '
                "is no server to provision"
            )
        self.project.ensure_state_dir()
        override = None
        if self.home == "sandbox":
            from pilot_tui.cloud.sandbox import Sandbox, provider_override

            sandbox = Sandbox(self.project.state_dir)
            if len(sandbox.running()) < 2:
                self.on_event(Stage("sandbox", "starting the local AWS API and GCS emulator"))
            emulators, started = sandbox.ensure()
            self.started_sandbox = self.started_sandbox or started
            if self._state_has_resources() and self.sandbox_forgot():
                # Planned against, Terraform would read each vanished resource, and wait
                # minutes for some (found walking: a destroy silent for 6 minutes).
                aside = self._set_aside_state()
                self.on_event(
                    Note(
                        "the sandbox's local AWS API was restarted, and the resources of "
                        "the earlier run went with it (they lived in its memory): their "
                        f"Terraform record is set aside as {aside.name}; a plan starts "
                        "afresh",
                        "warning",
                    )
                )
            override = provider_override(emulators["aws"].url)
            self._aws_url = emulators["aws"].url
            self._gcs_url = emulators["gcs"].url
        _, public_key = server_key(
            self.project.state_dir / "keys", project_resource(self.config.project.name)
        )
        sources = template_sources(self.home, self.project.root, self.config.terraform.templates)
        values = variables(
            self.config, self.home, self.project.root, public_key, self.allowed_cidrs()
        )
        render(sources, self.workdir, values, override, self.secret_inputs())
        self.backend = self.ensure_backend()
        block = self.backend.terraform_block()
        backend_file = self.workdir / BACKEND_FILE
        if block:
            atomic_write(backend_file, block, mode=0o600)
        else:
            backend_file.unlink(missing_ok=True)
        return self.workdir

    def secret_inputs(self) -> dict[str, dict[str, str]]:
        """Sensitive Terraform inputs: the managed databases' passwords (masked in every
        log)."""
        found = managed.terraform_passwords(self.config, self.project.state_dir, self._managed_has)
        redact.register(found.values())
        return {"database_passwords": found} if found else {}

    def _managed_has(self, name: str) -> bool:
        """Whether the managed service has database ``name`` (asked only when its password
        is not here)."""
        from pilot_tui.cloud.clients import emulator_aws, profile_aws
        from pilot_tui.data.services import open_managed

        region = self.config.aws.region
        config = self.config if self.home != "sandbox" else self.config.in_sandbox()
        service = managed.home_service(self.home)
        title = service.title if service else "the managed service"
        try:
            aws = None
            if service is not None and service.on == "rds":
                made = (
                    emulator_aws(region, self._aws_url)
                    if self.home == "sandbox"
                    else profile_aws(self.config.aws.profile, region)
                )
                aws = made.client
            databases = open_managed(config, self.project.root, aws)
            return databases is not None and databases.exists(name)
        except Exception as exc:  # no credentials, no network: never guess a new password
            raise managed.ManagedError(
                f"cannot tell whether {title} database {name} exists, and its password is "
                f"not on this machine: {redact.clip(str(exc), 200)}"
            ) from exc

    def ensure_backend(self) -> Backend:
        """Create (idempotently) the remote state bucket pilot.toml asks for."""
        from pilot_tui.provision.backends import prepare_backend

        return prepare_backend(
            self.config,
            self.home,
            self.project.root,
            lambda text, level="info": self.on_event(Note(text, level)),
            self._aws_url,
            self._gcs_url,
        )

    def _prepare_all(self) -> None:
        self.prepare()
        self.terraform()

    def sandbox_forgot(self) -> bool:
        """Whether the sandbox's local AWS API holds nothing of what the local Terraform
        state records (sandbox_state.forgotten)."""
        from pilot_tui.provision.sandbox_state import forgotten

        state = self.workdir / "terraform.tfstate"
        return self.home == "sandbox" and state.is_file() and forgotten(self.project.state_dir)

    def _set_aside_state(self) -> Path:
        """The local state file renamed beside itself (kept, never deleted); its path. Its
        name is this process's own: two setting it aside at once never overwrite one."""
        import os

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.workdir / f"terraform.tfstate.stale-{stamp}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):  # another process set it aside first
            (self.workdir / "terraform.tfstate").replace(aside)
        return aside

    def _state_has_resources(self) -> bool:
        try:
            state = json.loads((self.workdir / "terraform.tfstate").read_text())
        except (FileNotFoundError, ValueError):
            return False
        return bool(state.get("resources"))

    def allowed_cidrs(self) -> list[str]:
        cidrs = list(self.config.server.allowed_cidrs)
        if cidrs:
            return cidrs
        if self.home == "sandbox":
            return ["127.0.0.1/32"]
        from pilot_tui.netinfo import public_address

        address = public_address()
        if address is None:
            raise NeedsAllowedCidrs(
                "server.allowed_cidrs is empty and your public address could not be found; "
                "set it: pilot-tui config set server.allowed_cidrs '[\"YOUR.IP.ADDRESS/32\"]'"
            )
        self.on_event(
            Note(f"allowing your address {address}/32 (set server.allowed_cidrs to choose)")
        )
        return [f"{address}/32"]

    # -- terraform runs --------------------------------------------------------------
    async def run(self, command: Command, verb: str) -> RunResult:
        """Run one Terraform command, streaming events; the full log goes to .pilot/logs."""
        logs = ensure_private_dir(self.project.state_dir / "logs")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())  # UTC, as the deploys' logs
        log_path = logs / f"terraform-{stamp}-{verb}.log"
        result = RunResult(0, log=log_path)
        with log_path.open("w", encoding="utf-8") as log:
            log_path.chmod(0o600)
            log.write(f"$ {redact.text(str(command))}\n")
            advice = _LockFileAdvice()

            def on_line(line: Line) -> None:
                # Redacted once, here: the log file and every event the UIs show get the
                # masked text.
                clean = redact.text(line.text)
                log.write(clean + "\n")
                if advice.swallows(clean):
                    return
                event = parse_line(clean)
                if event is None:
                    return
                # The outputs are saved as Terraform gave them (a mask would corrupt them);
                # only the masked event is shown.
                unmasked = parse_line(line.text) if isinstance(event, Outputs) else None
                result.record(unmasked or event)
                self.on_event(event)

            self.current = result
            try:
                result.code = await stream(command, on_line, self.interrupt)
            finally:
                self.current = None
        result.interrupted = self.interrupt.count > 0
        result.killed = result.code == -signal.SIGKILL
        return result

    def in_flight(self) -> dict[str, str]:
        """The resources the running Terraform is changing right now (address -> action)."""
        return dict(self.current.in_flight) if self.current else {}

    def _init_fingerprint(self, tf: Terraform) -> str:
        """What `init` depends on: Terraform's version, the .tf files, the backend."""
        import hashlib

        digest = hashlib.sha256(f"{tf.path} {tf.version}\n".encode())
        for path in sorted(self.workdir.glob("*.tf")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        digest.update(json.dumps(self.backend.config, sort_keys=True).encode())
        return digest.hexdigest()

    async def init(self) -> None:
        """`terraform init`, skipped when nothing it depends on has changed since the last
        successful one (it costs a second or more on every command otherwise)."""
        tf = self.terraform()
        stamp = self.workdir / ".terraform" / "pilot-init"
        fingerprint = self._init_fingerprint(tf)
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        self.on_event(Stage("init", "preparing Terraform and its providers"))
        gone = self.home == "sandbox" and backends.emulator_gone(self.workdir)
        if gone:
            self.on_event(
                Stage(
                    "init",
                    f"the state Terraform kept at {gone} went with the sandbox's emulator "
                    "there (its state is in memory): starting from what is here",
                )
            )
            # Forgotten, so init starts afresh: told to move state from a backend that
            # cannot answer, or to drop one, it can only fail.
            backends.saved_backend(self.workdir).unlink(missing_ok=True)
        result = await self.run(commands.init(tf, self.workdir, self.backend.config), "init")
        if result.code != 0:
            text = result.log.read_text() if result.log else ""
            tail = "".join(text.splitlines(True)[-15:])
            raise ServerError(
                f"terraform init failed (log: {result.log}):\n{tail}" + init_advice(text)
            )
        atomic_write(stamp, fingerprint)

    async def plan(
        self, *, destroy: bool = False, read_back: bool = True
    ) -> tuple[Plan, RunResult]:
        """Plan (a destroy, with ``destroy``) into the saved plan file. Without
        ``read_back`` the plan's changes are those it streamed, and reading the saved plan
        back for its details and warnings (a Terraform run that starts the providers again)
        is left to read_back(), which may run beside the apply."""
        import asyncio

        # Starting emulators, unpacking the provider and rendering block: keep them off the
        # event loop (the TUI's stays responsive; events then arrive from that thread).
        await asyncio.to_thread(self._prepare_all)
        await self.init()
        tf = self.terraform()
        self.on_event(
            Stage(
                "plan",
                "working out what to destroy"
                if destroy
                else "working out what to create or change",
            )
        )
        result = await self.run(commands.plan(tf, self.workdir, destroy=destroy), "plan")
        if result.code != 0:
            return Plan([], None, [], destroy), result
        outputs, summary = result.outputs_changing, result.summary
        if result.changes_nothing and not destroy:
            # Nothing to review: reading the plan back would start the providers again.
            return Plan([], summary, [], destroy), result
        no_resource_changes = (
            not result.planned
            and summary is not None
            and summary.add == summary.change == summary.remove == 0
        )
        if no_resource_changes and not destroy:  # its outputs only: nothing to read back
            return Plan([], summary, [], destroy, outputs=outputs), result
        if not read_back:
            streamed = [
                ResourceChange(c.address, c.resource_type, c.action)
                for c in result.planned
                if c.action in STREAMED_ACTIONS
            ]
            return Plan(streamed, summary, [], destroy, read_back=False, outputs=outputs), result
        return await self.read_back(Plan([], summary, [], destroy, outputs=outputs)), result

    async def read_back(self, plan: Plan) -> Plan:
        """``plan`` with what the saved plan file holds: each change's details, and the
        warnings a reviewer must see."""
        shown = await self._capture(commands.show_plan(self.terraform(), self.workdir))
        changes, warnings = summarize_plan(json.loads(shown))
        return Plan(changes, plan.summary, warnings, plan.destroy, outputs=plan.outputs)

    async def apply(self, plan: Plan) -> RunResult:
        """Apply ``plan``, then run setup. A plan with no changes still runs setup: an
        earlier `up` may have stopped before it (the deployer, host key, certificates)."""
        if not plan.changes and not plan.outputs and not plan.destroy:
            await self.setup()
            return RunResult(0)
        tf = self.terraform()
        self.on_event(
            Stage("destroy" if plan.destroy else "apply", counted(plan.total, "resource change"))
        )
        result = await self.run(
            commands.apply(tf, self.workdir), "destroy" if plan.destroy else "apply"
        )
        if result.killed:
            result.untracked = await self.untracked(result)
        elif plan.destroy and result.code == 0:
            self.outputs_file.unlink(missing_ok=True)
        elif result.code == 0:
            await self.setup(result.outputs)
        return result

    async def setup(self, reported: Outputs | None = None) -> None:
        """Record the outputs and run setup's steps, each of which checks its own part."""
        await after_apply(self, await self.save_outputs(reported))

    async def save_outputs(self, reported: Outputs | None = None) -> dict[str, Any]:
        """Save the outputs an apply ``reported``; without them (no apply ran, or one
        value is missing: a sensitive output), ask `terraform output` for them."""
        if reported is not None and None not in reported.values.values():
            values = dict(reported.values)
        else:
            raw = json.loads(
                await self._capture(commands.output(self.terraform(), self.workdir)) or "{}"
            )
            values = {k: v.get("value") for k, v in raw.items()}
        if values:
            record: dict[str, Any] = {
                "home": self.home,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "outputs": values,
            }
            if self.home == "sandbox":  # which local AWS API holds it (sandbox_state)
                record[SANDBOX_KEY] = sandbox_identity(self.project.state_dir)
            atomic_write(self.outputs_file, json.dumps(record, indent=2) + "\n", mode=0o600)
        return values

    def saved_outputs(self) -> dict[str, Any]:
        return saved_outputs(self.project.state_dir)

    def estimate(self) -> Estimate:
        """What this server costs a month (the dated price table's estimate)."""
        size = self.config.server.size or default_size("gcp" if self.home == "gcp" else "aws")
        databases = tuple(
            (db.name, db.machine, db.managed.storage_gb) for db in self.config.managed_databases()
        )
        return estimate(self.home, size or "", databases)

    def workspace_lock(self, command: str) -> WorkspaceLock:
        """The lock one run holds on the working directory (see WorkspaceLock)."""
        return WorkspaceLock(self.workdir, command)

    async def state_resources(self) -> list[str]:
        """Addresses of the resources in Terraform state (empty before the first apply),
        read from wherever the state lives: a local file or the remote backend."""
        return list(await self.state_ids())

    async def state_ids(self) -> dict[str, str]:
        """{address: the cloud's id} of the resources in Terraform state, read from wherever
        the state lives (empty when this workspace was never initialised)."""
        if (
            not (self.workdir / "terraform.tfstate").exists()
            and not (self.workdir / ".terraform").is_dir()
        ):
            return {}  # never initialised here: no state to read
        from pilot_tui.provision.backends import emulator_gone

        if emulator_gone(self.workdir) is not None:
            # Its state was in a stopped sandbox emulator's memory: gone with it (found
            # walking: `server status` failed with Terraform's "Error loading state").
            return {}
        shown = json.loads(
            await self._capture(commands.show_state(self.terraform(), self.workdir)) or "{}"
        )
        module = (shown.get("values") or {}).get("root_module") or {}
        return {
            r["address"]: _cloud_id(r.get("type", ""), r.get("values") or {})
            for r in module.get("resources", [])
            if r.get("mode") == "managed"
        }

    def where(self) -> Where:
        cfg = self.config
        gcp = self.home == "gcp"
        return Where(
            self.home,
            cfg.project.name,
            cfg.gcp.region if gcp else cfg.aws.region,
            self.workdir,
            aws_profile=cfg.aws.profile if self.home == "aws" else None,
            gcp_project=cfg.gcp.project if gcp else None,
            endpoint=self._aws_url,
        )

    def after_kill(self, result: RunResult) -> list[str]:
        """What to tell the user once Terraform was killed: what may be untracked, how to
        find it, and the state lock a remote backend may still hold."""
        lines = advice(self.where(), result.untracked)
        if self.backend.kind != "local":
            lines.append(
                f"The {self.backend.kind} state lock may still be held: if the next "
                'run says "Error acquiring the state lock", run `terraform '
                f"-chdir={self.workdir} force-unlock LOCK_ID` with the ID it shows."
            )
        return lines

    async def untracked(self, result: RunResult) -> list[tuple[str, str]]:
        """After Terraform was killed: the resources it started to create that its state
        does not hold, so they may exist in the cloud unknown to it ((address, action))."""
        created = [(a, act) for a, act in result.started.items() if act in ("create", "replace")]
        try:
            in_state = set(await self.state_resources())
        except ServerError:
            return created  # the state cannot be read: any of them may be untracked
        return [(a, act) for a, act in created if a not in in_state]

    async def _capture(self, command: Command) -> str:
        out: list[str] = []
        err: list[str] = []
        # Short reads (show, output): not tied to the run's Ctrl+C, which may already be spent.
        code = await stream(
            command, lambda line: (out if line.stream == "stdout" else err).append(line.text)
        )
        if code != 0:
            raise ServerError(f"{command.argv[1]} failed: {' '.join(err)[-500:]}")
        return "\n".join(out)


class _LockFileAdvice:
    """`init`'s paragraph asking to commit .terraform.lock.hcl, which is Pilot's, in the
    git-ignored .pilot/ (found walking: shown as advice to the person): kept in the log
    file, never shown."""

    START = "Terraform has created a lock file"

    def __init__(self) -> None:
        self.inside = False

    def swallows(self, text: str) -> bool:
        if self.START in text:
            self.inside = True
        elif self.inside and not text.strip():
            self.inside = False
            return True
        return self.inside
