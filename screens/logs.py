"""Run logs: a tab per Terraform run, deploy and rollback, from .pilot/logs/.

The files keep JSON lines for machines (Terraform's -json, the deploy engine's events); the
viewer shows each as a person reads it: `[level] message`, `==> api: build`.

The newest run is followed live while it grows; `/` searches, `n` finds the next match,
`x` jumps to the next error. Logs on disk are already redacted by the core.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Static, TabbedContent, TabPane

from pilot_tui.screens.colorlog import ColorLog, colour_level
from pilot_tui.screens.footer import PilotFooter

MAX_RUNS = 12
DEPLOY_EVENTS = ("StageStarted", "StageFinished", "StageFailed", "Output", "Released")
MAX_LINES = 20_000


def run_logs(state_dir: Path) -> list[Path]:
    """The newest run logs first: Terraform runs, deploys and rollbacks."""
    logs = [p for p in (state_dir / "logs").glob("*.log")
            if p.name.startswith(("terraform-", "deploy-", "rollback-"))]
    logs.sort(key=lambda p: p.stem.split("-")[1:3], reverse=True)  # by date, time
    return logs[:MAX_RUNS]


def display_line(raw: str) -> str:
    """Terraform's -json lines as a person reads them: `[level] message`, errors in red."""
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(data, dict) and data.get("type") in DEPLOY_EVENTS:
            return deploy_line(data)
        if isinstance(data, dict) and "@message" in data:
            message = str(data["@message"]).strip().replace("\n", " ")
            level = str(data.get("@level", "info"))
            return colour_level(level, f"[{level}] {message}")
    return raw


def deploy_line(data: dict[str, object]) -> str:
    """A deploy event (its JSON line in the run log) as the CLI prints it."""
    from pilot_tui.deploy import events

    kind = getattr(events, str(data["type"]))
    fields = {k: v for k, v in data.items() if k not in ("type", "time")}
    if "logs" in fields:
        fields["logs"] = tuple(fields["logs"])  # type: ignore[arg-type]
    line = events.describe(kind(**fields))
    return colour_level("error", line) if data["type"] == "StageFailed" else line


def tab_title(path: Path) -> str:
    # terraform-20261125-142341-apply.log -> "apply 14:23:41";
    # deploy-20261125-142341-api.log -> "deploy api 14:23:41"
    parts = path.stem.split("-")
    if len(parts) >= 4:
        clock = f"{parts[2][:2]}:{parts[2][2:4]}:{parts[2][4:6]}"
        what = "-".join(parts[3:])
        return f"{what} {clock}" if parts[0] == "terraform" else f"{parts[0]} {what} {clock}"
    return path.stem


class LogsScreen(Screen[None]):
    AUTO_FOCUS = "Log"  # not the (hidden) search box
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("x", "next_error", "Next error"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("c", "copy", "Copy"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.state_dir = state_dir
        self.files = run_logs(state_dir)
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, str] = {}
        self.query_text = ""
        self.found_line: int | None = None
        self.follow = True

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="logs"):
            yield Static(id="logs-status")
            yield Input(placeholder="search (Enter to find, Esc to close)", id="search",
                        classes="hidden")
            if not self.files:
                yield Static("No runs yet: plan or apply the Pilot Server and its Terraform "
                             "output appears here.", id="no-logs")
            with TabbedContent(id="runs"):
                for n, path in enumerate(self.files):
                    with TabPane(tab_title(path), id=f"run-{n}"):
                        yield ColorLog(id=f"log-{n}", max_lines=MAX_LINES)
        yield PilotFooter()

    def on_mount(self) -> None:
        for n, path in enumerate(self.files):
            self._read_more(n, path)
        self.set_interval(1.0, self._tail_newest)
        self._status()

    def _read_more(self, n: int, path: Path) -> None:
        key = str(path)
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                handle.seek(self.offsets.get(key, 0))
                chunk = handle.read()
                self.offsets[key] = handle.tell()
        except OSError:
            return
        text = self.partial.pop(key, "") + chunk
        complete, _, rest = text.rpartition("\n")
        if rest:
            self.partial[key] = rest  # a line still being written: wait for its end
        if complete:
            log = self.query_one(f"#log-{n}", ColorLog)
            log.auto_scroll = self.follow
            log.write_lines([display_line(line) for line in complete.split("\n")])

    def _tail_newest(self) -> None:
        if self.files:
            self._read_more(0, self.files[0])

    def _active_log(self) -> ColorLog | None:
        if not self.files:
            return None
        active = self.query_one("#runs", TabbedContent).active
        return (self.query_one(f"#log-{active.removeprefix('run-')}", ColorLog)
                if active else None)

    def _status(self, extra: str = "") -> None:
        follow = "following the newest run" if self.follow else "not following"
        self.query_one("#logs-status", Static).update(
            f"[b]Run logs[/b] · {len(self.files)} run(s) in {self.state_dir / 'logs'} · "
            f"{follow}{' · ' + extra if extra else ''}")

    def _find(self, needle: str, start_after: bool = True) -> None:
        log = self._active_log()
        if log is None or not needle:
            return
        lines = log.plain_lines
        here = self.found_line if self.found_line is not None else int(log.scroll_offset.y)
        current = here + (1 if start_after else 0)
        order = list(range(current, len(lines))) + list(range(0, current))
        for index in order:
            if needle.lower() in lines[index].lower():
                self.found_line = index
                self.follow = False
                log.auto_scroll = False
                log.scroll_to(y=index, animate=False)
                self._status(f"line {index + 1}: {lines[index].strip()[:60]}")
                return
        self._status(f'"{needle}" not found')

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.query_text = event.value
        event.input.add_class("hidden")
        self._focus_log()
        self._find(self.query_text, start_after=False)

    def _focus_log(self) -> None:
        log = self._active_log()
        if log is not None:
            log.focus()

    def action_next_match(self) -> None:
        self._find(self.query_text)

    def action_next_error(self) -> None:
        self._find("error")

    def action_copy(self) -> None:
        """Copy the mouse selection, or else the line the last search found."""
        log = self._active_log()
        if log is None:
            return
        text = self.get_selected_text()
        if not text and self.found_line is not None and self.found_line < log.line_count:
            text = log.plain_lines[self.found_line]
        if not text:
            self.notify("Select text with the mouse, or find a line with /, then press c.")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(text.splitlines()) or 1} line(s).")

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        log = self._active_log()
        if log is not None:
            log.auto_scroll = self.follow
            if self.follow:
                log.scroll_end(animate=False)
        self._status()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("hidden"):
            search.add_class("hidden")
            self._focus_log()
            return
        self.app.pop_screen()
