"""What a scan has found so far, and whose it is: a ``pilot-PROJECT-APP`` name belongs to
the project's app APP, unless a neighbour project (``PROJECT-something``) owns it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pilot_tui.naming import parameter_path, prefix
from pilot_tui.teardown.things import Thing


def app_of(project: str, name: str, suffix: str = "") -> str:
    """The app a ``pilot-PROJECT-APP[suffix]`` name belongs to ("" when none)."""
    if not name.startswith(prefix(project)):
        return ""
    rest = name[len(prefix(project)) :]
    return rest[: -len(suffix)] if suffix and rest.endswith(suffix) else rest


@dataclass
class Finds:
    """The project's things found so far (each place's reader adds to them)."""

    project: str
    apps: tuple[str, ...] = ()  # the apps pilot.toml names
    neighbours: set[str] = field(default_factory=set)  # projects named PROJECT-something
    found: list[Thing] = field(default_factory=list)

    def add(self, kind: str, name: str, found: str, app: str = "", target: str = "") -> None:
        if (
            found != self.tag
            and app not in self.apps
            and any(
                prefix(other) in name or f"{parameter_path(other)}/" in name
                for other in self.neighbours
            )
        ):
            return  # pilot-acme-dev-web is project acme-dev's, not app dev-web of acme
        self.found.append(Thing(kind, name, found, app, target))

    @property
    def named(self) -> str:
        return f"name {prefix(self.project)}*"

    @property
    def tag(self) -> str:
        return f"tag pilot:project={self.project}"
