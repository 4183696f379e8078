"""Where the project is: finding pilot.toml and the .pilot/ state directory beside it.

``pilot.toml`` is intent (hand-editable); ``.pilot/`` holds what machines produce
(Terraform workspaces, outputs, release history, keys, logs), is created 0700, and is kept
out of git.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir, file_kind

PROJECT_FILE = "pilot.toml"
STATE_DIR = ".pilot"
ENV_VAR = "PILOT_PROJECT"
STATE_SUBDIRS = ("terraform", "outputs", "releases", "keys", "logs")


# A pilot.toml is a few KB; a bigger "file" is a mistake (or /dev/zero), never read whole.
MAX_PROJECT_FILE = 1 << 20


class ProjectNotFound(PilotError):
    """No pilot.toml where one was looked for; the message says where and what to do."""

    exit_code = EXIT_INVALID
    title = "No project file"


class ProjectFileUnusable(ProjectNotFound):
    """Something is at the project file's path, but not a file Pilot can read as one."""


@dataclass(frozen=True)
class Project:
    """A project: its pilot.toml and its .pilot/ directory."""

    file: Path

    @property
    def root(self) -> Path:
        return self.file.parent

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def ensure_state_dir(self) -> Path:
        """Create .pilot/ (0700) and its subdirectories."""
        ensure_private_dir(self.state_dir)
        for sub in STATE_SUBDIRS:
            ensure_private_dir(self.state_dir / sub)
        return self.state_dir


def project_file_for(
    explicit: str | None = None, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """Where pilot.toml is (or would be): ``--project``, then $PILOT_PROJECT, then the current
    directory. Either may name the file or the directory holding it."""
    env = os.environ if env is None else env
    given = explicit or env.get(ENV_VAR)
    base = cwd or Path.cwd()
    if given:
        path = (base / Path(given).expanduser()).absolute()
        return path / PROJECT_FILE if path.is_dir() or not path.suffix else path
    return base.absolute() / PROJECT_FILE


def find_project(
    explicit: str | None = None, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Project:
    """The existing project, searching parent directories when none was named."""
    env = os.environ if env is None else env
    named = explicit or env.get(ENV_VAR)
    candidate = project_file_for(explicit, cwd, env)
    if usable_project_file(candidate):
        return Project(candidate)
    if named:
        source = "--project" if explicit else f"${ENV_VAR}"
        raise ProjectNotFound(
            f"{candidate} does not exist (from {source}); "
            "create it with `pilot-tui init` or fix the path"
        )
    for parent in candidate.parent.parents:
        if usable_project_file(parent / PROJECT_FILE):
            return Project(parent / PROJECT_FILE)
    raise ProjectNotFound(
        f"no {PROJECT_FILE} in {candidate.parent} or its parents; create one with "
        "`pilot-tui init`, or point to one with --project PATH or $PILOT_PROJECT"
    )


def usable_project_file(path: Path) -> bool:
    """True for a readable-sized regular file at ``path``, False when nothing is there;
    ProjectFileUnusable when something else is (a directory, a pipe or device that would
    hang a read, a link loop or a dangling link), so a parent's file is never used instead."""
    fix = (
        "; Pilot's project file must be a regular file: remove or rename it, or point to "
        "another with --project"
    )
    try:
        info = path.stat()  # follows links
    except FileNotFoundError:
        if path.is_symlink():
            raise ProjectFileUnusable(
                f"{path} is a symbolic link to {path.readlink()}, which does not exist{fix}"
            ) from None
        return False
    except OSError as exc:
        what = "a symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise ProjectFileUnusable(f"{path} cannot be opened ({what}){fix}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ProjectFileUnusable(f"{path} is {file_kind(info.st_mode)}, not a file{fix}")
    if info.st_size > MAX_PROJECT_FILE:
        raise ProjectFileUnusable(
            f"{path} is {info.st_size:,} bytes, too large for a "
            f"pilot.toml (at most {MAX_PROJECT_FILE:,}){fix}"
        )
    return True


def create_project(target: Path, text: str) -> tuple[Project, tuple[str, ...]]:
    """Write pilot.toml (atomically), create .pilot/ (0700) and keep it out of git and of
    images: (the project, the ignore files changed)."""
    atomic_write(target, text)
    project = Project(target)
    project.ensure_state_dir()
    return project, ignore_state_dir(project.root)


# What each ignore file beside pilot.toml must list: (file, comment, entries).
IGNORED = (
    (
        ".gitignore",
        "# Pilot's machine state: Terraform state, keys, logs. Never commit it.",
        (f"{STATE_DIR}/",),
    ),
    # Pilot's packer leaves these out whatever the file says (deploy/shippable.py); the
    # file keeps them out of a plain `docker build` of this folder too.
    (
        ".dockerignore",
        "# Pilot's machine state (keys, secrets, Terraform state) and version "
        "control: never in an image.",
        (STATE_DIR, ".git", ".hg", ".svn"),
    ),
)


def ignore_state_dir(root: Path) -> tuple[str, ...]:
    """Add what is missing of IGNORED to root/.gitignore and root/.dockerignore (keeping
    what is there); the names of the files changed."""
    changed = []
    for name, comment, wanted in IGNORED:
        path = root / name
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        present = {line.strip().strip("/") for line in existing.splitlines()}
        missing = [entry for entry in wanted if entry.strip("/") not in present]
        if not missing:
            continue
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        atomic_write(path, existing + prefix + comment + "\n" + "".join(f"{m}\n" for m in missing))
        changed.append(name)
    return tuple(changed)
