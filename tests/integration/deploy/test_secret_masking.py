"""Issue 11 item 4: a secret value never reaches an output, in any process.

An app prints its two secrets to stdout and stderr (not behind a `token=` a pattern would
catch): one stored with `pilot-tui secrets set`, one exported in the environment for its
declared name. Everything a person or a script can see is then searched for either value:
`deploy -v` (a good one and one that fails with the new release's last lines), `logs`,
`logs --follow` and the `--json` outputs, each a fresh `pilot-tui` process where no deploy
registered anything; every file under .pilot/ but the secrets file itself; and, in the app
(App.run_test) with an empty redactor, the app-log pane, a failing deploy's viewer and
pinned error, and the run-log viewer. Each must hold 0 copies — while showing the masked
line, so the check cannot pass by showing nothing. Real private dockerd, real CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from pilot_tui import redact
from pilot_tui.config.document import ProjectFile
from pilot_tui.screens.app import create_app
from pilot_tui.screens.app_logs import AppLogsScreen
from pilot_tui.screens.apps import AppsScreen
from pilot_tui.screens.colorlog import ColorLog
from pilot_tui.screens.deploy import DeployScreen
from pilot_tui.screens.logs import LogsScreen
from tests.conftest import PILOT, run_pilot
from tests.integration.deploy.test_tui_deploy import text, until

STORED = "st0red-9c41b7e2d5-value"  # from `secrets set`: in .pilot/secrets/hello.env
EXPORTED = 'ex"p\u00f6rted-5d3a8f10c2'  # from the environment; JSON escapes it in log lines


def forms(value: str) -> set[str]:
    """The value as it could appear in output: as is, and escaped inside JSON."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def leaks(where: str, output: str) -> list[str]:
    return [
        f"{where}: {form!r}"
        for value in (STORED, EXPORTED)
        for form in forms(value)
        if form in output
    ]


@pytest.fixture
def leaky(site, monkeypatch):
    """The hello app, printing both secret values as it starts."""
    root, port = site
    monkeypatch.delenv("API_TOKEN")  # stored in .pilot/secrets instead
    dockerfile = root / "hello" / "Dockerfile"
    original = dockerfile.read_text()
    changed = original.replace(
        "with token=$API_TOKEN;", "with $API_TOKEN; echo db $DB_PASSWORD >&2;"
    )
    assert changed != original, "the hello fixture's CMD changed: update this test"
    dockerfile.write_text(changed)
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.secrets", ["API_TOKEN", "DB_PASSWORD"]))
    stored = run_pilot("secrets", "set", "hello", "API_TOKEN", cwd=root, input=STORED + "\n")
    assert stored.returncode == 0, stored.stderr
    return root, port


def pilot(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pilot(*args, cwd=root, env={"DB_PASSWORD": EXPORTED})


def follow(root: Path, until: str, seconds: float = 30) -> str:
    """`logs --follow` until it printed ``until`` (or ``seconds`` passed), then Ctrl+C:
    everything it printed."""
    env = {**os.environ, "DB_PASSWORD": EXPORTED}
    env.pop("PILOT_PROJECT", None)
    process = subprocess.Popen(
        [PILOT, "logs", "hello", "--follow"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True
    )
    reader.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(until in line for line in lines):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)
    reader.join(10)
    return "".join(lines) + process.stderr.read()  # a few lines at most


async def test_no_output_path_shows_a_secret_value(leaky, monkeypatch):
    root, _ = leaky
    found: list[str] = []
    shown: dict[str, str] = {}

    deployed = pilot(root, "deploy", "hello", "-v")
    assert deployed.returncode == 0, deployed.stderr
    shown["deploy"] = deployed.stdout + deployed.stderr
    for _ in range(50):  # the app's first lines reach its log
        printed = pilot(root, "logs", "hello")
        if "starting on" in printed.stdout and "db " in printed.stdout:
            break
        time.sleep(0.2)
    shown["logs"] = printed.stdout + printed.stderr
    assert "with ••••••" in printed.stdout and "db ••••••" in printed.stdout, shown["logs"]
    last = pilot(root, "logs", "hello", "--tail", "1")  # item 17: a cut is said, not silent
    assert len(last.stdout.splitlines()) == 1 and "older ones with --tail N" in last.stderr
    shown["logs --tail 1"] = last.stdout + last.stderr
    shown["logs --follow"] = follow(root, until="with ")
    assert "with ••••••" in shown["logs --follow"], shown["logs --follow"]
    for args in (
        ("status", "--json"),
        ("releases", "hello", "--json"),
        ("secrets", "list", "hello"),
        ("app", "list"),
    ):
        result = pilot(root, *args)
        shown[" ".join(args)] = result.stdout + result.stderr

    # A release that never gets healthy: its last lines are shown, masked.
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.target.health_path", "/missing"))
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.target.health_timeout", 3))
    failed = pilot(root, "deploy", "hello", "-v")
    assert failed.returncode == 1
    shown["failed deploy"] = failed.stdout + failed.stderr
    assert "with ••••••" in failed.stderr, failed.stderr
    for where, output in shown.items():
        found += leaks(where, output)

    files = {
        str(path.relative_to(root)): path.read_bytes().decode("utf-8", "replace")
        for path in sorted((root / ".pilot").rglob("*"))
        # the secret store (0600): APP.env and the versions releases ran with
        if path.is_file() and path.relative_to(root / ".pilot").parts[0] != "secrets"
    }
    masked = json.dumps("with " + redact.MASK)[1:-1]  # as the JSON lines hold it
    assert any(masked in body for name, body in files.items() if "deploy-" in name)
    for name, body in files.items():
        found += leaks(name, body)

    # The app, with nothing registered in this process (as in a fresh `pilot-tui`).
    monkeypatch.setattr(redact, "REDACTOR", redact.Redactor())
    monkeypatch.setenv("DB_PASSWORD", EXPORTED)
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot_:
        await pilot_.pause()
        await pilot_.press("a")
        assert isinstance(app.screen, AppsScreen)
        await pilot_.press("l")
        pane = app.screen
        assert isinstance(pane, AppLogsScreen)
        lines = pane.query_one("#app-logs-log", ColorLog)
        assert await until(pilot_, lambda: any("db " in line for line in lines.plain_lines))
        pane_text = "\n".join(lines.plain_lines) + text(pane, "#app-logs-state")
        assert "with ••••••" in pane_text and "db ••••••" in pane_text, pane_text
        found += leaks("app-log pane", pane_text)
        await pilot_.press("escape")

        await pilot_.press("d")  # health_path is /missing: fails with the last lines
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        assert await until(pilot_, lambda: "Not deployed" in text(screen, "#deploy-result"))
        viewer = (
            "\n".join(screen.query_one("#deploy-log", ColorLog).plain_lines)
            + text(screen, "#deploy-error")
            + text(screen, "#deploy-result")
        )
        assert "with ••••••" in viewer and "response:404" in text(screen, "#deploy-error"), (
            viewer
        )  # the pinned error shows the last 12 of the lines the pane has
        found += leaks("deploy viewer", viewer)
        await pilot_.press("escape", "escape")

        await pilot_.press("l")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        await pilot_.pause()
        runs = "\n".join(line for log in logs.query(ColorLog) for line in log.plain_lines)
        runs += str(logs.query_one("#logs-status", Static).render())
        assert "error: hello: deploy failed: " in runs, runs
        found += leaks("run-log viewer", runs)
    assert found == []
