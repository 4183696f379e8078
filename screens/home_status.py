"""What the home screen says of a project (markup, from the core's data): its provisioned
server, each app's live release and how it is doing, and the next step to offer."""

from __future__ import annotations

from pathlib import Path

from textual.markup import escape


def saved_server(state_dir: Path, *, ask_engine: bool = True) -> str | None:
    """The provisioned server from .pilot/outputs as shown (one the sandbox made: where
    apps really run, and its simulated address), if there is one."""
    from pilot_tui.deploy.addresses import server_summary
    from pilot_tui.provision.outputs import saved_record

    record = saved_record(state_dir)
    home = str(record.get("home", ""))
    if home == "sandbox" and sandbox_server_gone(state_dir):
        return None  # (found walking: "up" once the app's exit had stopped the sandbox)
    return server_summary(home, record.get("outputs", {}), ask_engine=ask_engine)


def sandbox_server_gone(state_dir: Path) -> bool:
    """Whether the sandbox made a server that went with its local AWS API (its record
    is there, what it records is not: provision.sandbox_state)."""
    from pilot_tui.provision.outputs import saved_record
    from pilot_tui.provision.sandbox_state import forgotten

    return saved_record(state_dir).get("home") == "sandbox" and forgotten(state_dir)


def app_rows(
    state_dir: Path, apps: list[str], health: dict[str, str] | str | None = None
) -> list[str]:
    """One line per app: its live release and URL from the release history, and how that
    release is doing: ``health`` maps each app to what `pilot-tui status` says of it (the
    same function, status.statuses), or says why that is not known (yet). The history alone
    never makes an app "live": its container may have stopped behind Pilot's back."""
    from pilot_tui.deploy import history
    from pilot_tui.deploy.addresses import of_release

    rows = []
    for name in apps:
        try:
            records = history.load(state_dir, name)
        except history.HistoryError:
            rows.append(f"{name}: [red]release history unreadable[/red]")
            continue
        live = history.live(records)
        last = records[-1] if records else None
        if live is not None:
            row = f"{name}: {live.id} {_health_mark(health, name)}{escape(of_release(live).at())}"
        else:
            row = f"{name}: not deployed"
        if last is not None and last.status in (history.FAILED, history.CANCELLED):
            row += f" · [red]last deploy {last.id} {last.status}[/red]"
        rows.append(row)
    return rows


def _health_mark(health: dict[str, str] | str | None, app: str) -> str:
    if health is None:
        return "[dim](checking its health…)[/dim]"
    if isinstance(health, str):  # why it could not be asked
        return f"[yellow]({health})[/yellow]"
    said = health.get(app, "not checked")
    if said in ("healthy", "managed target"):
        return "[green]live[/green]"
    return f"[red]{escape(said)}[/red]"


def any_live(state_dir: Path, apps: list[str]) -> bool:
    from pilot_tui.deploy import history

    return any(history.live_release(state_dir, name) is not None for name in apps)


def next_step(has_server: bool, has_apps: bool, home: str = "sandbox") -> str:
    """What the home screen offers next (markup); ``home``: server.home."""
    if not has_server:
        where = {
            "sandbox": " (the sandbox needs no cloud account)",
            "aws": " on AWS, with your credentials",
            "gcp": " on Google Cloud, with your credentials",
        }.get(home, "")
        return (
            f"[b]Next:[/b] press [reverse] s [/reverse] to plan and create the Pilot Server{where}."
        )
    if not has_apps:
        return "[b]Next:[/b] press [reverse] a [/reverse] to describe your first app."
    return (
        "[b]Next:[/b] press [reverse] a [/reverse], pick an app and "
        "press [reverse] d [/reverse] to deploy it; "
        "[reverse] l [/reverse] shows every run's log."
    )
