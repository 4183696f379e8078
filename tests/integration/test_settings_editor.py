"""The settings editor, driven with App.run_test: live validation, saving only valid text
(comments kept, atomically), outside changes, and a broken file at startup."""

from __future__ import annotations

from textual.widgets import ListView, Static, TextArea

from pilot_tui.screens.app import create_app
from pilot_tui.screens.settings import ConfirmDiscard, ConfirmReload, SettingsScreen
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
        # opened at the problem's line, not the first (found walking: a broken quote on
        # line 40, the editor at line 1)
        assert editor.cursor_location[0] == 2
        # ... with nothing selected (review: a selected line went with the first key typed)
        assert editor.selected_text == ""
        editor.load_text(BROKEN.replace('"awss"', '"aws" '))
        await pilot.pause()
        assert len(problems) == 0 and "valid" in status(screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text() == (
            '# my notes stay\n[server]\nhome = "aws"    # typo\n[project]\nname = "acme"\n'
        )
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
        # Unsaved edits: Esc asks whether to discard them (issue 11 item 25: it used to
        # refuse, so there was no way out but saving); "Keep editing" goes back to them.
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmDiscard)
        await pilot.click("#keep")
        assert app.screen is screen and "waypont" in editor.text
        # Found walking: Enter, pressed by reflex, discarded the edits (the focus started
        # on "Discard"). It keeps them, in both questions.
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmDiscard)  # the question is up: Enter answers it
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and "waypont" in editor.text
        await pilot.press("escape")
        await pilot.click("#discard")
        assert isinstance(app.screen, WelcomeScreen)
        assert project.read_bytes() == before


async def test_outside_changes_reload_or_ask(project):
    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        # No edits: an outside change is simply reloaded.
        project.write_text(
            project.read_text().replace('region = "us-east-1"', 'region = "eu-west-1"')
        )
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
        assert app.focused is app.screen.query_one("#keep")  # Enter keeps the edits
        await pilot.click("#reload")
        await pilot.pause()
        assert 'region = "eu-west-2"' in editor.text and "# mine" not in editor.text


async def test_the_line_being_edited_stays_in_view_as_problems_appear(project):
    """Issue 11 item 25 reported that at 80x24 the problem list growing under the editor hid
    the line being typed on. It did not reproduce here (run_test and tmux, Textual's
    TextArea follows its cursor on resize); this guards the worst case: the cursor on the
    last visible line when a two-line message appears."""
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        editor = screen.query_one("#editor", TextArea)
        editor.focus()
        await pilot.pause()

        def in_view() -> bool:
            top, rows = editor.scroll_offset.y, editor.scrollable_content_region.height
            return top <= editor.cursor_location[0] < top + rows

        while (
            editor.cursor_location[0]
            < editor.scroll_offset.y + editor.scrollable_content_region.height - 2
        ):
            await pilot.press("down")
        assert in_view() and "problem" not in status(screen)
        # A new line on the last visible row, then a syntax error: the list appears below.
        await pilot.press("end", "enter", *"nonsense")
        await pilot.pause()
        assert "problem" in status(screen)
        assert in_view(), (
            editor.cursor_location,
            editor.scroll_offset,
            editor.scrollable_content_region,
        )
