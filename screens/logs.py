"""Run logs: a tab per Terraform run, deploy, preview and rollback, from .pilot/logs/.

The files keep JSON lines for machines (Terraform's -json, the deploy engine's events); the
viewer shows each as a person reads it: `[level] message`, `==> api: build`.

The newest run is followed live while it grows; `/` searches, `n` finds the next match,
`x` jumps to the next error. Logs on disk are already redacted by the core.

A pane keeps the last MAX_LINES lines of its run (the status says "showing the last N of M
lines" when a run is longer); each line of the file is one line of the pane, so search reads
the whole file on disk and finds a match in the part no longer shown too.
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterator
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Static, TabbedContent, TabPane

from pilot_tui import redact
from pilot_tui.screens.colorlog import ColorLog, colour_level, plain
from pilot_tui.screens.footer import PilotFooter
from pilot_tui.screens.ordered_keys import TextInput
from pilot_tui.wording import counted

MAX_RUNS = 12
DEPLOY_EVENTS = ("StageStarted", "StageFinished", "StageFailed", "Output", "Released")
MAX_LINES = 20_000


def run_logs(state_dir: Path) -> list[Path]:
    """Every run log, the newest first: Terraform runs, deploys, previews and rollbacks
    (the screen shows the newest MAX_RUNS and says how many there are)."""
    logs = [
        p
        for p in (state_dir / "logs").glob("*.log")
        if p.name.startswith(("terraform-", "deploy-", "preview-", "rollback-"))
    ]
    logs.sort(key=lambda p: p.stem.split("-")[1:3], reverse=True)  # by date, time
    return logs


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


def pane_line(raw: str) -> str:
    """One line of the file as exactly one line of the pane (the Log widget would drop an
    empty one and split one holding a line break: then the pane and the file would no
    longer line up)."""
    line = display_line(raw)
    return " ".join(line.splitlines()) or " "


def file_lines(path: Path) -> Iterator[str]:
    """The complete lines of a run log on disk, as the pane shows them, without colours."""
    try:
        with path.open(encoding="utf-8", errors="replace", newline="\n") as handle:
            for raw in handle:
                if raw.endswith("\n"):
                    yield plain(redact.values(pane_line(raw[:-1])))  # as the pane has it
    except OSError:
        return


def find_in_file(path: Path, needle: str, start: int) -> tuple[int, str] | None:
    """(index, text) of the first line at ``start`` or after that contains ``needle`` (any
    case), else the first before it (the search wraps); None when no line does."""
    needle = needle.lower()
    first: tuple[int, str] | None = None
    for index, line in enumerate(file_lines(path)):
        if needle in line.lower():
            if index >= start:
                return index, line
            first = first or (index, line)
    return first


def deploy_line(data: dict[str, object]) -> str:
    """A deploy event (its JSON line in the run log) as the CLI prints it."""
    from pilot_tui.deploy import events

    kind = getattr(events, str(data["type"]))
    fields = {k: v for k, v in data.items() if k not in ("type", "time")}
    if "logs" in fields:
        fields["logs"] = tuple(fields["logs"])  # type: ignore[arg-type]
    line = events.describe(kind(**fields))
    return colour_level("error", line) if data["type"] == "StageFailed" else line


def tab_title(path: Path, now: float | None = None) -> str:
    """terraform-20261125-142341-apply.log -> "apply 14:23:41"; deploy-20261125-142341-api.log
    -> "deploy api 14:23:41": the name's time (UTC) on this machine's clock, and its day
    ("deploy api Nov 25 14:23") when that is not today's (``now``: the clock, for tests)."""
    parts = path.stem.split("-")
    if len(parts) >= 4:
        try:
            utc = calendar.timegm(time.strptime(f"{parts[1]}{parts[2]}", "%Y%m%d%H%M%S"))
            local, today = time.localtime(utc), time.localtime(now)
            if local[:3] == today[:3]:
                clock = time.strftime("%H:%M:%S", local)
            else:  # a day's name and the minute: the seconds matter less than the day
                clock = time.strftime(f"%b {local.tm_mday} %H:%M", local)
        except ValueError:  # a name of another form: its time as written
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
        # Another run's tab from the pane (found walking: only Tab, then the arrows, did it)
        Binding("right_square_bracket", "run(1)", "Older run", show=False),
        Binding("left_square_bracket", "run(-1)", "Newer run", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.state_dir = state_dir
        every = run_logs(state_dir)
        self.runs = len(every)  # how many there are: the tabs hold the newest MAX_RUNS
        self.files = every[:MAX_RUNS]
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, str] = {}
        self.totals: dict[int, int] = {}  # lines read from each run's file (the pane keeps
        self.query_text = ""  # only the last MAX_LINES of them)
        self.found_line: int | None = None  # the match's line in the pane, when shown there
        self.found: tuple[int, int, str] | None = None  # (tab, line in the file, its text)
        self.follow = True
        self.extra = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="logs"):
            yield Static(id="logs-status")
            yield TextInput(
                placeholder="search (Enter to find, Esc to close)", id="search", classes="hidden"
            )
            if not self.files:
                yield Static(
                    "No runs yet: plan or apply the Pilot Server and its Terraform "
                    "output appears here.",
                    id="no-logs",
                )
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
            # Split at "\n" only, as search does (file_lines): the pane's line numbers are
            # the file's.
            with path.open(encoding="utf-8", errors="replace", newline="\n") as handle:
                handle.seek(self.offsets.get(key, 0))
                chunk = handle.read()
                self.offsets[key] = handle.tell()
        except OSError:
            return
        text = self.partial.pop(key, "") + chunk
        complete, newline, rest = text.rpartition("\n")
        if rest:
            self.partial[key] = rest  # a line still being written: wait for its end
        if newline:  # complete lines (an empty one too: the pane must count it)
            log = self.query_one(f"#log-{n}", ColorLog)
            log.auto_scroll = self.follow
            lines = complete.split("\n")
            self.totals[n] = self.totals.get(n, 0) + len(lines)
            log.write_lines([pane_line(line) for line in lines])
            if n == self._active():
                self._status()  # the count of lines shown

    def _tail_newest(self) -> None:
        if self.files:
            self._read_more(0, self.files[0])

    def _active(self) -> int | None:
        if not self.files:
            return None
        active = self.query_one("#runs", TabbedContent).active
        return int(active.removeprefix("run-")) if active else None

    def _active_log(self) -> ColorLog | None:
        n = self._active()
        return None if n is None else self.query_one(f"#log-{n}", ColorLog)

    def _dropped(self, n: int) -> int:
        """How many of the run's first lines the pane no longer holds."""
        return max(0, self.totals.get(n, 0) - len(self.query_one(f"#log-{n}", ColorLog).lines))

    def _status(self, extra: str | None = None) -> None:
        """The status line; ``extra`` (the last search's result) stays until replaced."""
        self.extra = self.extra if extra is None else extra
        extra = self.extra
        follow = "following the newest run" if self.follow else "not following"
        n = self._active()
        cut = ""
        if n is not None and self._dropped(n):
            shown = len(self.query_one(f"#log-{n}", ColorLog).lines)
            cut = (
                f" · showing the last {shown:,} of {self.totals[n]:,} lines (search reads them all)"
            )
        self.query_one("#logs-status", Static).update(
            f"[b]Run logs[/b] · {self._runs_said()} in {self.state_dir / 'logs'} · "
            f"{follow}{cut}{' · ' + extra if extra else ''}"
        )

    def _runs_said(self) -> str:
        """ "3 runs", or "the newest 12 of 24 runs" (found walking: "12 runs" with 24)."""
        if self.runs > len(self.files):
            return f"the newest {len(self.files)} of {self.runs} runs"
        return counted(len(self.files), "run")

    def action_run(self, step: int) -> None:
        """The run ``step`` tabs older (newer when negative), if there is one."""
        n = self._active()
        if n is not None and 0 <= n + step < len(self.files):
            self.query_one("#runs", TabbedContent).active = f"run-{n + step}"

    @on(TabbedContent.TabActivated)
    def tab_changed(self) -> None:
        self.found_line, self.found = None, None
        self._status("")

    def _find(self, needle: str, start_after: bool = True) -> None:
        """Find ``needle`` in the whole file on disk, from the match before (or the top of
        the pane) on; scroll to it when the pane holds it, else show it in the status."""
        n = self._active()
        log = self._active_log()
        if n is None or log is None or not needle:
            return
        dropped = self._dropped(n)
        here = (
            self.found[1]
            if self.found is not None and self.found[0] == n
            else dropped + int(log.scroll_offset.y)
        )
        match = find_in_file(self.files[n], needle, here + (1 if start_after else 0))
        if match is None:
            self._status(f'"{needle}" not found')
            return
        index, line = match
        self.found = (n, index, line)
        self.follow = False
        log.auto_scroll = False
        if index >= dropped:
            self.found_line = index - dropped
            log.scroll_to(y=self.found_line, animate=False)
            self._status(f"line {index + 1}: {line.strip()[:60]}")
        else:  # in the part the pane no longer holds: said here, `c` copies it
            self.found_line = None
            self._status(f"line {index + 1} (before the lines shown): {line.strip()[:60]}")

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
        if not text and self.found is not None:
            text = self.found[2]
        if not text:
            self.notify("Select text with the mouse, or find a line with /, then press c.")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {counted(len(text.splitlines()) or 1, 'line')}.")

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
