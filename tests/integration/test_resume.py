"""Reopening the app resumes where the user left off; the theme choice is kept."""

from __future__ import annotations

import json

from pilot_tui.screens.app import create_app
from pilot_tui.screens.apps import AppsScreen
from pilot_tui.screens.ui_state import settings_file
from pilot_tui.screens.welcome import WelcomeScreen


async def test_reopening_returns_to_the_last_screen_and_home_sticks(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)
    state = json.loads((project.parent / ".pilot" / "tui.json").read_text())
    assert state == {"screen": "apps"}

    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AppsScreen)  # resumed
        assert any("where you left off" in n.message for n in app._notifications)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)

    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)  # left at home: opens at home


async def test_a_damaged_state_file_starts_at_home(project):
    (project.parent / ".pilot" / "tui.json").write_text("{not json")
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)


async def test_theme_choice_is_kept_for_the_next_run(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.theme != "textual-light"
        app.theme = "textual-light"  # what the palette's "Change theme" does
        await pilot.pause()
    assert json.loads(settings_file().read_text())["theme"] == "textual-light"
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-light"
    settings_file().unlink()


async def test_the_home_screen_reads_pilot_toml_again_when_it_changes_on_disk(project):
    """Found walking: pilot.toml broken, then fixed in another editor, while the home
    screen showed: it kept saying the old problem, its keys (a, s, d) stayed off, and no
    key said how to read it again. It now looks for a change each WATCH_SECONDS."""
    from tests.integration.deploy.test_tui_deploy import text, until

    good = project.read_text()
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        home = app.screen
        assert isinstance(home, WelcomeScreen) and home.config is not None
        project.write_text(good.replace("[project]", "[project", 1))  # broken by hand
        assert await until(pilot, lambda: "problem" in text(home, "#project-status"), seconds=5)
        assert home.config is None
        project.write_text(good)  # fixed elsewhere
        assert await until(pilot, lambda: home.config is not None, seconds=5)
        assert "problem" not in text(home, "#project-status")
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)  # its keys work again
