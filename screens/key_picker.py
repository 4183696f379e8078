"""Pick a Google service-account JSON key: browse folders or type a path; checked before use.

Only the path goes into pilot.toml (`gcp.credentials`); the key stays where it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, Static

from pilot_tui.cloud.credentials import key_file_problem
from pilot_tui.screens.ordered_keys import TextInput


class JsonTree(DirectoryTree):
    """Folders and .json files only; hidden folders too (keys often live in ~/.config)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if p.is_dir() or p.suffix.lower() == ".json"]


class KeyPickerScreen(ModalScreen[Path | None]):
    """Returns the chosen key file, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(id="key-picker"):
            yield Label(  # (found walking: cut at 80 columns on one line)
                "[b]Google service-account key[/b]\npick a .json file, or type a path + Enter"
            )
            yield TextInput(placeholder="~/keys/acme-pilot.json", id="key-path")
            yield Static(id="key-problem", classes="problem")
            yield JsonTree(self.start, id="key-tree")

    def on_mount(self) -> None:
        self.query_one("#key-path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def file_selected(self, event: DirectoryTree.FileSelected) -> None:
        field = self.query_one("#key-path", Input)
        field.value = str(event.path)
        self._choose(event.path)

    @on(Input.Submitted, "#key-path")
    def path_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._choose(Path(event.value.strip()).expanduser())

    def _choose(self, path: Path) -> None:
        problem = key_file_problem(path)
        if problem:
            self.query_one("#key-problem", Static).update(f"[red]{problem}[/]")
            return
        self.dismiss(path.resolve())

    def action_cancel(self) -> None:
        self.dismiss(None)


def config_path(key: Path, project_root: Path) -> str:
    """How pilot.toml names the key: relative to the project, else `~/...`, else absolute."""
    for base, prefix in ((project_root.resolve(), ""), (Path.home().resolve(), "~/")):
        if key.is_relative_to(base):
            return prefix + str(key.relative_to(base))
    return str(key)


def loose_permissions(key: Path) -> bool:
    """True when users other than the owner can read the key."""
    return bool(key.stat().st_mode & 0o077)
