"""Render a Terraform working directory under .pilot/terraform/<home>/.

The templates (Pilot's, or the project's own after `server eject`) are copied in, Pilot's
inputs are written as `pilot.auto.tfvars.json`, and the sandbox adds a provider override.
Terraform's own files there (.terraform/, state, lock file) are left alone.
"""

from __future__ import annotations

import fcntl
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir

TEMPLATE_SUFFIXES = (".tf", ".tpl", ".yaml", ".sh")
TFVARS = "pilot.auto.tfvars.json"
SECRET_TFVARS = "pilot.secrets.auto.tfvars.json"  # the databases' passwords: never copied out
OVERRIDE = "pilot_sandbox_override.tf"
GENERATED = (TFVARS, SECRET_TFVARS, OVERRIDE, "pilot_backend.tf")
LOCK_FILE = ".pilot-lock"
TEMPLATE_FOR_HOME = {"aws": "aws", "sandbox": "aws", "gcp": "gcp"}


class WorkspaceError(PilotError):
    """The templates cannot be found or rendered."""

    title = "Templates unusable"


class WorkspaceBusy(WorkspaceError):
    """Another Pilot process is using this working directory."""

    title = "Working directory busy"


class WorkspaceLock:
    """An exclusive lock on one working directory, held while Pilot renders, plans and
    applies there: two runs in one folder would overwrite each other's templates and plan
    file (the first then fails with "Invalid plan file ... not a valid zip file").

    An flock on ``LOCK_FILE``, so the operating system releases it when the holder exits,
    however it exits; the file names the holder (pid and command) for the message.
    """

    def __init__(self, workdir: Path, command: str) -> None:
        self.path = workdir / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, _, command = os.read(fd, 256).decode("utf-8", "replace").strip().partition(" ")
            os.close(fd)
            raise WorkspaceBusy(
                f"another `{command or 'pilot-tui server'}` is running (pid {pid or '?'}) in "
                f"{self.path.parent}",
                hint="wait for it to finish, then run this again",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.command}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def shipped_templates(name: str) -> Path:
    """The template folder shipped inside the package (pilot_tui.terraform)."""
    root = resources.files("pilot_tui.terraform") / name
    path = Path(str(root))
    if not path.is_dir():
        raise WorkspaceError(f"Pilot's {name} templates are missing from {path}")
    return path


def template_sources(home: str, project_root: Path, ejected: str | None) -> list[Path]:
    """Folders whose files make up the templates, later ones winning on a name clash."""
    if ejected:
        path = (project_root / ejected).resolve()
        if not path.is_dir():
            raise WorkspaceError(
                f"terraform.templates = {ejected!r}, but {path} is not a "
                "directory; restore it or unset the key to use Pilot's own"
            )
        return [path]
    name = TEMPLATE_FOR_HOME.get(home)
    if name is None:
        raise WorkspaceError(f'home = "{home}" has no Terraform to run')
    return [shipped_templates("common"), shipped_templates(name)]


def template_files(sources: list[Path]) -> dict[str, Path]:
    return {
        p.name: p
        for source in sources
        for p in sorted(source.iterdir())
        if p.is_file() and p.suffix in TEMPLATE_SUFFIXES
    }


def render(
    sources: list[Path],
    workdir: Path,
    variables: dict[str, Any],
    override: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> Path:
    """Copy templates and write inputs into ``workdir``; returns it. ``secrets`` (sensitive
    inputs) go in a file of their own, 0600 like the rest, removed when there are none."""
    ensure_private_dir(workdir)
    wanted = template_files(sources)
    for stale in workdir.iterdir():  # a template removed upstream must not linger
        if (
            stale.is_file()
            and stale.suffix in TEMPLATE_SUFFIXES
            and stale.name not in wanted
            and stale.name not in GENERATED
        ):
            stale.unlink()
    for name, path in wanted.items():
        text = path.read_bytes()
        target = workdir / name
        if not target.exists() or target.read_bytes() != text:
            atomic_write(target, text, mode=0o600)
    atomic_write(workdir / TFVARS, json.dumps(_drop_none(variables), indent=2) + "\n", mode=0o600)
    secret_path = workdir / SECRET_TFVARS
    if secrets:
        atomic_write(secret_path, json.dumps(secrets, indent=2) + "\n", mode=0o600)
    else:
        secret_path.unlink(missing_ok=True)
    override_path = workdir / OVERRIDE
    if override:
        atomic_write(override_path, override, mode=0o600)
    else:
        override_path.unlink(missing_ok=True)
    return workdir


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
