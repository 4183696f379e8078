"""Help: what each screen does and its keys (F1 or ? anywhere)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# Pilot — help

Pilot sets up your own platform on your own cloud account. Everything you choose is saved in
**pilot.toml**; machine state lives in **.pilot/**. Secrets never go in pilot.toml.
`Esc`, `F1` or `?` closes this help.

| key | where | what |
|---|---|---|
| `c` | welcome | credentials found on this machine, checked live |
| `o` | welcome | server options: home, region, size (with price), who may reach it |
| `s` | welcome | the Pilot Server: plan, review, apply, destroy |
| `a` | welcome | apps: the list, and `n` for a new one (detects how it builds) |
| `d` | welcome | data: databases, last backup and drill; `b` back up, `t` drill, `r` restore |
| `l` | welcome | run logs: a tab per run; `/` search, `n` next match, `x` next error, `f` follow |
| `e` | welcome | edit pilot.toml (live validation; a broken file opens here at start) |
| `r` | welcome | reload pilot.toml |
| `i` | welcome | create a commented pilot.toml when there is none |
| `r` | credentials | check again |
| `k` | credentials | choose a Google key file |
| `p` | server | plan |
| `a` | server | apply the reviewed plan |
| `d` | server | plan a destroy |
| `n` | apps | a new app (detects how it builds) |
| `d` | apps | deploy the selected app, or the selected preview again |
| `r` | apps | roll back the selected app |
| `l` | apps | follow the selected app's logs (a preview's own too) |
| `p` | apps | deploy a preview (its name asked) |
| `x` | apps | remove the selected preview |
| `c` | run logs | copy the selection, or the line found |
| `]` `[` | run logs | the older run's tab, the newer run's |
| `Esc` | server | cancel a running Terraform gracefully (asks first), or go back |
| `ctrl+s` | editor | save (only a valid file) |
| `ctrl+o` | editor | open in $EDITOR |
| `ctrl+p` | anywhere | command palette: this screen's actions, the theme |
| `F1`, `?` | anywhere | this help |
| `ctrl+q` | anywhere | quit |

Everything here is also a command: `pilot-tui --help`.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
