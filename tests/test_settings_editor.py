"""The settings editor, driven with App.run_test: live validation, saving only valid text
(comments kept, atomically), outside changes, and a broken file at startup."""

from __future__ import annotations

from textual.widgets import ListView, Static, TextArea

from pilot_tui.screens.app import create_app
from pilot_tui.screens.settings import ConfirmReload, SettingsScreen
from pilot_tui.screens.welcome import WelcomeScreen

# (ends with [project]: a file without one is an error of its own since issue 11, item 22)
BROKEN = '# my notes stay\n[server]\nhome = "awss"   # typo\n[project]\nname = "acme"\n'


def status(screen) -> str:
    return str(screen.query_one("#settings-status", Static).render())


async def test_broken_file_at_startup_opens_the_editor_with_its_problems(tmp_path):
    path = tmp_path / "pilot.toml"
    path.write_text(BROKEN)
    app = create_app(str(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        problems = screen.query_one("#problems", ListView)
        assert len(problems) == 1
        assert 'did you mean "aws"' in str(problems.children[0].query_one("Label").render())
        assert "1 problem" in status(screen)

        editor = screen.query_one("#editor", TextArea)
        editor.load_text(BROKEN.replace('"awss"', '"aws" '))
        await pilot.pause()
        assert len(problems) == 0 and "valid" in status(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text() == ('# my notes stay\n[server]\nhome = "aws"    # typo\n'
                                    '[project]\nname = "acme"\n')
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)


async def test_save_refuses_invalid_text_and_leaves_the_file_alone(project):
    before = project.read_bytes()
    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        editor = screen.query_one("#editor", TextArea)
        editor.load_text(editor.text.replace('engine = "pilot"', 'engine = "waypont"'))
        await pilot.pause()
        assert "problem" in status(screen) and "unsaved edits" in status(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert project.read_bytes() == before
        await pilot.press("escape")  # unsaved edits: stays, says why
        assert isinstance(app.screen, SettingsScreen)


async def test_outside_changes_reload_or_ask(project):
    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        # No edits: an outside change is simply reloaded.
        project.write_text(project.read_text().replace('region = "us-east-1"',
                                                       'region = "eu-west-1"'))
        screen.check_outside_change()
        await pilot.pause()
        assert 'region = "eu-west-1"' in editor.text
        # Unsaved edits: ask before throwing them away.
        editor.insert("# mine\n", (0, 0))
        await pilot.pause()
        project.write_text(project.read_text().replace('"eu-west-1"', '"eu-west-2"'))
        screen.check_outside_change()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmReload)
        await pilot.click("#reload")
        await pilot.pause()
        assert 'region = "eu-west-2"' in editor.text and "# mine" not in editor.text
