"""The Textual app, driven headless with App.run_test (the same factory the CLI uses)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from textual.widgets import Static

from pilot_tui.screens.app import create_app
from pilot_tui.screens.welcome import WelcomeScreen
from tests.conftest import PILOT


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_welcome_screen_shows_project_and_quits_with_ctrl_q(project):
    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        status = _text(app, "#project-status")
        assert str(project) in status and "valid" in status
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_welcome_lists_problems_of_a_broken_file(tmp_path):
    broken = tmp_path / "pilot.toml"
    broken.write_text('[server]\nhome = "awss"\n')
    app = create_app(str(broken))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # the editor opened first; the welcome screen lists them too
        await pilot.pause()
        status = _text(app, "#project-status")
        assert "problem" in status and 'did you mean "aws"' in status
        # Fix the file outside the app, reload with `r`.
        broken.write_text('[project]\nname = "fixed"\n')
        await pilot.press("r")
        await pilot.pause()
        assert "valid" in _text(app, "#project-status")


async def test_no_project_offers_to_create_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)
    app = create_app(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "no pilot.toml" in _text(app, "#project-status")
        await pilot.press("i")
        await pilot.pause()
        assert (tmp_path / "pilot.toml").is_file()
        assert "valid" in _text(app, "#project-status")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_in_a_real_terminal_ctrl_q_exits_zero(project):
    session = f"pilot-test-{time.monotonic_ns()}"
    marker = project.parent / "exit-code"
    cmd = f"cd {project.parent} && {PILOT}; echo $? > {marker}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd], check=True
    )
    try:
        screen = ""
        for _ in range(100):
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if "Welcome to Pilot" in screen and "valid" in screen:
                break  # (the project's status is filled in just after the first paint)
            time.sleep(0.1)
        assert "Welcome to Pilot" in screen and "valid" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        for _ in range(100):
            if marker.exists() and marker.read_text().strip():
                break
            time.sleep(0.1)
        assert marker.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_open_in_editor_suspends_the_app_and_reloads(project):
    editor = project.parent / "fake-editor"
    # Stands in for vim/nano: appends a line to the file it is given, as a user would.
    editor.write_text('#!/bin/sh\necho "# edited in my editor" >> "$1"\n')
    editor.chmod(0o755)
    session = f"pilot-edit-{time.monotonic_ns()}"
    cmd = f"cd {project.parent} && EDITOR={editor} {PILOT}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "110", "-y", "34", cmd], check=True
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    def wait_for(text: str) -> str:
        for _ in range(100):
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    try:
        wait_for("Welcome to Pilot")
        subprocess.run(["tmux", "send-keys", "-t", session, "e"], check=True)
        wait_for("ctrl+s saves")
        wait_for("Open in $EDITOR")  # the footer offers ctrl+o: the editor screen has the keys
        subprocess.run(["tmux", "send-keys", "-t", session, "C-o"], check=True)
        for _ in range(50):
            if project.read_text().endswith("# edited in my editor\n"):
                break
            time.sleep(0.1)
        assert project.read_text().endswith("# edited in my editor\n")
        wait_for("Reloaded pilot.toml")  # the app is back, the text reloaded
        for _ in range(4):  # scroll the reloaded text to its end
            subprocess.run(["tmux", "send-keys", "-t", session, "NPage"], check=True)
        wait_for("# edited in my editor")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


async def test_help_and_command_palette_entries(project):
    from pilot_tui.screens.help import HelpScreen

    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        listed = [c.title for c in app.get_system_commands(app.screen)]
        titles = set(listed)
        assert {"Help", "Server", "Edit", "Creds", "Apps", "Logs"} <= titles
        # each once (found walking: "Copy selected text" was listed twice)
        assert len(listed) == len(titles), sorted(t for t in titles if listed.count(t) > 1)
        assert any("theme" in t.lower() for t in titles)  # dark and light themes
        # every action of the screen, the footer's hidden ones too, with its key said
        # (found walking the app: "reload" found nothing, and each said only "key: s")
        assert "Reload pilot.toml" in titles
        server = next(c for c in app.get_system_commands(app.screen) if c.title == "Server")
        assert server.help == "on this screen, or press s"
        app.call_later(server.callback)  # as the palette runs it
        await pilot.pause()
        from pilot_tui.screens.server import ServerScreen

        assert isinstance(app.screen, ServerScreen)


async def test_a_failed_stage_is_pinned_as_written_even_with_brackets(tmp_path, cli):
    """A StageFailed message is plain text from the core: a site folder named `docs[red]`
    shows as written in the pinned panel, not restyled (or broken) as Rich markup."""
    from pilot_tui.screens.deploy import DeployScreen

    assert cli("init").code == 0
    folder = tmp_path / "docs[red]"
    folder.mkdir()
    (folder / "index.html").write_text("<h1>docs</h1>")
    assert cli("app", "new", "--path", "docs[red]", "--name", "docs").code == 0
    (folder / "index.html").unlink()  # the build stage fails, naming the folder
    app = create_app(str(tmp_path / "pilot.toml"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("a", "d")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        pinned = _text(app, "#deploy-error")
        assert f"build failed: app 'docs': {folder} has no index.html" in pinned, pinned
        assert "Not deployed" in _text(app, "#deploy-result")


def test_a_destroy_list_problem_is_shown_as_written():
    """What could not be listed comes from the cloud's own error text: shown as written on
    the Server screen, never read as markup (`[red]` lost, the rest restyled)."""
    from textual.content import Content

    from pilot_tui.screens.server_view import inventory_summary
    from pilot_tui.teardown import Inventory

    problem = "could not list buckets: [red]AccessDenied[/red] for [bold]"
    shown = Content.from_markup(inventory_summary(Inventory([], problems=[problem]))).plain
    assert f"warning: {problem}; not listed" in shown, shown


def test_a_plan_warning_is_shown_as_written():
    """A plan's warnings are Terraform's own text: shown as written on the Server screen."""
    from textual.content import Content

    from pilot_tui.provision.server import Plan
    from pilot_tui.screens.server_view import plan_summary

    warning = "Argument is deprecated: use [bold] tags[/i] instead"
    shown = Content.from_markup(plan_summary(Plan([], None, [warning]), "")).plain
    assert f"WARNING: {warning}" in shown, shown


async def test_the_home_screen_shows_a_project_path_as_written(tmp_path, monkeypatch):
    """A project in a folder named `acme[red]`: its path shows as written on the home screen
    (found or not), never read as markup."""
    from pilot_tui.config.starter import starter_text

    folder = tmp_path / "acme[red]"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)
    app = create_app(None)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert str(folder) in _text(app, "#project-status"), _text(app, "#project-status")
        (folder / "pilot.toml").write_text(starter_text("acme"))
        await pilot.press("r")
        await pilot.pause()
        assert str(folder / "pilot.toml") in _text(app, "#project-status")
        (folder / "pilot.toml").write_bytes(b"\xff not UTF-8")
        await pilot.press("r")
        await pilot.pause()
        assert f"cannot read {folder / 'pilot.toml'}" in _text(app, "#project-status")


def test_an_apply_log_path_is_shown_as_written():
    """The log's path lies in the project's folder, which may be named `acme[red]`."""
    from pathlib import Path

    from textual.content import Content

    from pilot_tui.provision.server import RunResult
    from pilot_tui.screens.server_view import apply_summary

    log = Path("/projects/acme[red]/.pilot/logs/apply.log")
    failed = RunResult(1, errored=["aws_instance.server"], log=log)
    shown = Content.from_markup(apply_summary(failed, 0, lambda r: [], lambda: [], True)).plain
    assert f"Failed at aws_instance.server; 0 changes made. Log: {log}" == shown
