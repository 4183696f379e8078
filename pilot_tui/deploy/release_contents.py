"""What a release is made of besides its image: the app's settings as deployed (its
[[apps]] table: env, port, health, the target's settings, the secrets' names) and the
version of its secrets' values (secret_versions.py). A rollback runs the old image with
both again; `releases APP` shows what changed from one release to the next.

Settings are recorded as plain TOML-shaped data and read back through the same schema
walker pilot.toml goes through, so a record is checked like the file is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy import secret_versions
from pilot_tui.deploy.history import HistoryError, Release
from pilot_tui.wording import plural


def settings_record(app: AppSettings) -> dict[str, Any]:
    """The app's settings as a release keeps them (what pilot.toml would say, unset keys
    left out)."""
    return _without_none(dataclasses.asdict(app))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def settings_of(release: Release) -> AppSettings | None:
    """The settings ``release`` ran with (None: not recorded); HistoryError when the record
    no longer reads as settings of this version of Pilot."""
    if release.settings is None:
        return None
    from pilot_tui.config.walk import Walker

    walker = Walker(AppSettings)
    settings = walker.table(release.settings, AppSettings, ())
    if walker.problems:
        said = "; ".join(p.message for p in walker.problems[:3])
        raise HistoryError(f"the settings recorded with {release.id} cannot be read ({said})")
    return settings


@dataclass(frozen=True)
class Restored:
    """What a rollback to a release runs with."""

    app: AppSettings
    secrets: dict[str, str]
    note: str = ""  # said when the record predates recorded settings


def restore(state_dir: Path, target: Release, today: AppSettings) -> Restored | None:
    """The settings and secret values ``target`` ran with. None when its record predates
    them (the caller uses today's); HistoryError when its secrets' version is not on this
    machine, or it ran on another kind of target than the app's today."""
    settings = settings_of(target)
    if settings is None:
        return None
    if settings.target.kind != today.target.kind:
        raise HistoryError(
            f"{target.id} ran on target {settings.target.kind!r} and the app is on "
            f"{today.target.kind!r} now: deploy it instead of rolling back"
        )
    values: dict[str, str] = {}
    if target.secrets_version is not None:
        found = secret_versions.read(state_dir, target.app, target.secrets_version)
        if found is None:
            path = secret_versions.version_file(state_dir, target.app, target.secrets_version)
            raise HistoryError(
                f"the secrets {target.id} ran with (version {target.secrets_version}) are not "
                f"on this machine ({path}): roll back from the machine that deployed it, or "
                "deploy instead; nothing was released"
            )
        values = found
    missing = [name for name in settings.secrets if name not in values]
    if missing:
        raise HistoryError(
            f"{target.id} needs {plural(len(missing), 'secret')} {', '.join(missing)} and its "
            "record has no value "
            "for them: deploy instead; nothing was released"
        )
    return Restored(settings, {name: values[name] for name in settings.secrets})


def changes(state_dir: Path, before: Release | None, after: Release) -> list[str]:
    """What ``after`` changed from ``before``, in a person's words: the image, env keys
    added / removed / changed, secrets rotated (by name), the target's settings. Values are
    never shown (env values are pilot.toml's, secrets never)."""
    if before is None:
        return []
    said = []
    if before.image != after.image:  # a managed target's image_id is a fingerprint
        said.append(f"image {before.image} -> {after.image}")
    old, new = before.settings, after.settings
    if old is not None and new is not None:
        said += _env_changes(old.get("env") or {}, new.get("env") or {})
        said += _target_changes(old.get("target") or {}, new.get("target") or {})
    elif new is not None:
        said.append("settings recorded from here on")
    rotated = secret_versions.changed_names(
        state_dir, after.app, before.secrets_version, after.secrets_version
    )
    if rotated is None:
        said.append(
            f"secrets {before.secrets_version or '-'} -> {after.secrets_version or '-'} "
            "(a version is not on this machine)"
        )
    elif rotated:
        said.append(f"secrets changed: {', '.join(rotated)}")
    return said


def _env_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    said = []
    if added:
        said.append(f"env added: {', '.join(added)}")
    if removed:
        said.append(f"env removed: {', '.join(removed)}")
    if changed:
        said.append(f"env changed: {', '.join(changed)}")
    return said


def _target_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(old.keys() | new.keys())
    return [
        f"target.{key} {old.get(key, '-')} -> {new.get(key, '-')}"
        for key in keys
        if old.get(key) != new.get(key)
    ]
