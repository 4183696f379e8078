"""Issue 11 item 24: keys typed faster than the app handles them reach a text field in the
order they were typed (the New-app form saved "llo" for "hello")."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from pilot_tui.screens.app import create_app


async def test_a_fast_typist_loses_no_character_in_the_new_app_form(project):
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a", "n")
        await pilot.pause()
        name = app.screen.query_one("#name", Input)
        name.focus()
        name.value = "hello"
        await pilot.pause()
        # As a terminal delivers a quick typist's keys: all queued before the app handles
        # the first (pilot.press would wait for each).
        keys = ["end"] + ["backspace"] * 8 + list("world")
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause(0.5)
        assert name.value == "world"


async def test_a_fast_typist_loses_no_character_in_the_settings_editor(project):
    from textual.widgets import TextArea

    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen.query_one("#editor", TextArea)
        editor.focus()
        editor.load_text("hello\n")
        editor.move_cursor((0, 5))
        await pilot.pause()
        for key in ["backspace"] * 8 + list("world"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause(0.5)
        assert editor.text == "world\n"
