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
