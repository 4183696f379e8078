"""What of an app's folder may leave this machine: the one walk behind build contexts,
static-site uploads and zip Lambdas.

Whatever .dockerignore says (a `!` re-include too), these never ship: a `.pilot/` folder
(Pilot's state: Terraform state, keys, secrets; the project's own and a nested project's),
version-control folders, and the key file gcp.credentials names. A link that points out of
the app folder (or at one of those) is never followed: it is skipped and reported, so a
`ln -s ~/.aws/credentials site/x` cannot publish the file. Links that stay inside are kept.
A static site also never publishes the sources of a program (``programs=False``): a
server.py beside index.html stays private, and is named.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy.build.stack import program_language
from pilot_tui.project import STATE_DIR

VCS_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class Skipped:
    """A path left out that a person would expect to ship (a link, a source file), and why."""

    path: str  # relative to the app folder, with forward slashes
    reason: str

    def message(self) -> str:
        return f"warning: skipped {self.path}: {self.reason}"


@dataclass(frozen=True)
class Collected:
    """The paths that may ship (relative, sorted; folders, files and links inside the app
    folder), and the links skipped."""

    paths: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()


def program_source(path: str) -> Skipped | None:
    """``path`` left out of a static site when it is a program's file (stack.program_language)."""
    language = program_language(path)
    if language is None:
        return None
    return Skipped(
        path,
        f"{language} source: a static site never publishes a program's "
        "files (deploy the program as its own app)",
    )


def private_paths(root: Path, config: PilotConfig | None = None) -> frozenset[Path]:
    """Paths of this project that never ship: its state directory, and the service-account
    key gcp.credentials names (resolved like the clients do, relative to ``root``)."""
    found = {(root / STATE_DIR).resolve()}
    credentials = getattr(getattr(config, "gcp", None), "credentials", None)
    if credentials:
        from pilot_tui.cloud.gcp_api import key_path

        found.add(Path(str(key_path(credentials, root))))
    return frozenset(found)


def _never(path: Path, folder: Path, private: frozenset[Path]) -> bool:
    """``path`` (resolved) is state, VCS or a key: inside a .pilot/ or VCS folder (below
    ``folder``), or one of the project's private paths or below one."""
    if any(path == p or p in path.parents for p in private):
        return True
    try:
        parts = path.relative_to(folder).parts
    except ValueError:
        return False
    return any(part == STATE_DIR or part in VCS_DIRS for part in parts)


def _link_problem(link: Path, folder: Path, private: frozenset[Path]) -> Skipped | None:
    rel = link.relative_to(folder).as_posix()
    try:
        target = link.resolve()
    except (OSError, RuntimeError) as exc:  # a loop
        return Skipped(rel, f"a link to {link.readlink()}, which cannot be resolved ({exc})")
    if target != folder and folder not in target.parents:
        return Skipped(
            rel, f"a link to {target}, outside the app folder (links out are never followed)"
        )
    if _never(target, folder, private):
        return Skipped(rel, f"a link to {target}, which never ships (Pilot's state, keys or VCS)")
    return None


def collect(
    folder: Path,
    private: Iterable[Path] = (),
    *,
    ignore: Sequence[str] = (),
    hidden: bool = True,
    programs: bool = True,
) -> Collected:
    """Walk ``folder`` (never through a link); ``ignore`` holds .dockerignore patterns,
    ``hidden=False`` leaves out every dot-file and dot-folder (sites, zips),
    ``programs=False`` every program source (static sites: stack.program_language)."""
    folder = folder.resolve()
    never = frozenset(private)
    matcher = None
    if ignore:
        from docker.utils.build import PatternMatcher

        matcher = PatternMatcher(list(ignore))
    paths: list[str] = []
    skipped: list[Skipped] = []

    def reincluded_below(rel: str) -> bool:
        # docker's rule: an ignored folder is still entered when a `!` pattern reaches in.
        return matcher is not None and any(
            p.exclusion and p.cleaned_pattern.startswith(rel) for p in matcher.patterns
        )

    def visit(directory: Path, prefix: str) -> None:
        with os.scandir(directory) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            rel = prefix + entry.name
            path = Path(entry.path)
            if (not hidden and entry.name.startswith(".")) or _never(path, folder, never):
                continue
            # docker matches str paths itself (its stub says PathLike, a Path would fail)
            ignored = matcher is not None and bool(matcher.matches(rel))  # type: ignore[arg-type]
            is_dir = entry.is_dir(follow_symlinks=False)  # a link never counts as a folder
            source = None if programs or is_dir else program_source(rel)
            if source is not None:
                if not ignored:
                    skipped.append(source)
                continue
            if entry.is_symlink():
                if ignored:
                    continue
                problem = _link_problem(path, folder, never)
                if problem is not None:
                    skipped.append(problem)
                else:
                    paths.append(rel)
                continue
            if not ignored:
                paths.append(rel)
            if is_dir and (not ignored or reincluded_below(rel)):
                visit(path, rel + "/")

    visit(folder, "")
    return Collected(tuple(sorted(paths)), tuple(skipped))
