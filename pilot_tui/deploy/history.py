"""Release history per app: .pilot/releases/APP.json, one record per deploy or rollback.

Written atomically and only while the app's deploy lock is held, so concurrent deploys
cannot interleave records. Secrets never reach a record: only the image, commit, the app's
settings from pilot.toml and the name of a version of its secrets.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir

LIVE, SUPERSEDED, FAILED, CANCELLED = "live", "superseded", "failed", "cancelled"
REVERTED = "reverted"  # went live, went bad while watched, and the previous one came back


class HistoryError(PilotError):
    """The history file cannot be read; the message names it."""

    title = "Release history unreadable"


@dataclass(frozen=True)
class Release:
    id: str  # v1, v2, ...
    app: str
    image: str  # the tag it was built as
    image_id: str  # sha256:..., what a rollback runs
    created: str  # ISO 8601, UTC
    status: str
    commit: str | None = None
    port: int | None = None
    url: str | None = None
    note: str = ""  # "rollback to v3", the failure's reason
    revision: str | None = None  # a managed target's own name for it (Lambda version, ...)
    # In the sandbox: the address its cloud made up (nothing answers there); ``url`` is then
    # what answers on this machine, if anything (see addresses.py).
    simulated_url: str | None = None
    # What it ran with besides its image (see release_contents.py): the app's [[apps]]
    # table as deployed, and the name of the version of its secrets' values (never the
    # values). None in a record made before releases kept them.
    settings: dict[str, Any] | None = None
    secrets_version: str | None = None
    by: str | None = None  # who released it: a person and their git identity, or a CI run


def history_file(state_dir: Path, app: str) -> Path:
    return state_dir / "releases" / f"{app}.json"


def load(state_dir: Path, app: str) -> list[Release]:
    path = history_file(state_dir, app)
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{path}: cannot read the release history ({exc})") from exc
    fields = {f.name for f in dataclasses.fields(Release)}
    try:
        return [Release(**{k: v for k, v in item.items() if k in fields}) for item in raw]
    except (TypeError, AttributeError) as exc:
        raise HistoryError(f"{path}: not a release history ({exc})") from exc


def save(state_dir: Path, app: str, releases: list[Release]) -> None:
    path = history_file(state_dir, app)
    ensure_private_dir(path.parent)
    data = [dataclasses.asdict(r) for r in releases]
    atomic_write(path, json.dumps(data, indent=2) + "\n", mode=0o600)


def next_id(releases: list[Release]) -> str:
    numbers = [int(r.id[1:]) for r in releases if r.id[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def reverted(bad: Release, good: Release, why: str) -> tuple[Release, Release]:
    """The records of a watch's revert, in the order written: ``bad`` reverted with
    ``why``, then ``good`` live again (every target records one the same way)."""
    return (
        dataclasses.replace(bad, status=REVERTED, note=f"reverted: {why}"),
        dataclasses.replace(
            good, status=LIVE, note=f"live again: {bad.id} was reverted by the watch"
        ),
    )


def live(releases: list[Release]) -> Release | None:
    return next((r for r in reversed(releases) if r.status == LIVE), None)


def image_digests(state_dir: Path, app: str) -> frozenset[str]:
    """The image digests (sha256:...) the app's releases name: what its rollbacks need
    kept in its registry. An unreadable history names none."""
    try:
        releases = load(state_dir, app)
    except HistoryError:
        return frozenset()
    return frozenset(
        digest for r in releases if (digest := r.image.partition("@")[2]).startswith("sha256:")
    )


def live_release(state_dir: Path, app: str) -> Release | None:
    """The live release, or None; an unreadable history counts as none (screens that must
    say it is unreadable call load themselves)."""
    try:
        return live(load(state_dir, app))
    except HistoryError:
        return None


def record(state_dir: Path, app: str, release: Release) -> list[Release]:
    """Append ``release`` (or put it in place of the record with its id); when it is live,
    the previous live one becomes superseded."""
    releases = load(state_dir, app)
    if release.status == LIVE:
        releases = [
            dataclasses.replace(r, status=SUPERSEDED)
            if r.status == LIVE and r.id != release.id
            else r
            for r in releases
        ]
    ids = [r.id for r in releases]
    if release.id in ids:
        releases[ids.index(release.id)] = release
    else:
        releases.append(release)
    save(state_dir, app, releases)
    return releases


def retire(state_dir: Path, app: str, note: str) -> None:
    """The live release is live no more (the app was destroyed); the history stays."""
    releases = load(state_dir, app)
    if any(r.status == LIVE for r in releases):
        save(
            state_dir,
            app,
            [
                dataclasses.replace(r, status=SUPERSEDED, note=note) if r.status == LIVE else r
                for r in releases
            ],
        )


def same_contents(a: Release, b: Release) -> bool:
    """Whether two releases run the same: one image, the same settings and the same
    secrets' version (a rollback to such a one would change nothing)."""
    if a.settings is None or b.settings is None:  # a record from before settings were kept
        return a.image_id == b.image_id
    return (a.image_id, a.settings, a.secrets_version) == (
        b.image_id,
        b.settings,
        b.secrets_version,
    )


def rollback_candidate(releases: list[Release], wanted: str | None, app: str = "APP") -> Release:
    """The release to go back to: ``wanted``, else the newest good one before the live one
    that differs from it (in its image, settings or secrets). ``app``: named in a refusal."""
    current = live(releases)
    if wanted is not None:
        found = next((r for r in releases if r.id == wanted), None)
        if found is None:
            ids = ", ".join(r.id for r in releases) or "none"
            raise HistoryError(f"no release {wanted!r} (releases: {ids})", exit_code=EXIT_INVALID)
        if found.status in (FAILED, CANCELLED):
            raise HistoryError(
                f"release {wanted} never went live ({found.status}); pick one that did",
                exit_code=EXIT_INVALID,
            )
        return found  # the live one too: a restore relaunches it onto the restored data
    good = [r for r in releases if r.status in (LIVE, SUPERSEDED)]
    earlier = [r for r in good if current is None or r.id != current.id]
    if current is not None:
        good = [r for r in earlier if not same_contents(r, current)]
    if not good and earlier and current is not None:
        same = ", ".join(r.id for r in earlier)
        raise HistoryError(
            f"no earlier release differs from the live one, {current.id}: {same} "
            f"{'has' if len(earlier) == 1 else 'have'} the same image, settings and secrets "
            f"(name one to put it back all the same: pilot-tui rollback {app} {earlier[-1].id})",
            exit_code=EXIT_INVALID,
        )
    if not good:
        # (found walking: said as "release failed", exit 1, where nothing failed)
        only = (
            f" ({app} has only {current.id})" if current is not None and len(releases) == 1 else ""
        )
        raise HistoryError(
            f"nothing to roll back to: no earlier release went live{only}",
            exit_code=EXIT_INVALID,
        )
    return good[-1]
