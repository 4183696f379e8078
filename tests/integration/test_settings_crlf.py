"""The settings editor on a CRLF pilot.toml (saved on Windows): it is not "changed on disk"
every second, and saving keeps CRLF (App.run_test)."""

from __future__ import annotations

from textual.widgets import TextArea

from pilot_tui.screens.app import create_app
from pilot_tui.screens.settings import SettingsScreen


async def test_a_crlf_file_is_edited_and_saved_with_crlf(project):
    project.write_bytes(project.read_bytes().replace(b"\n", b"\r\n"))
    app = create_app(str(project))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.check_outside_change()  # the file did not change: nothing to reload
        await pilot.pause()
        assert not app._notifications, [n.message for n in app._notifications]
        assert not screen.dirty
        editor = screen.query_one("#editor", TextArea)
        editor.load_text(editor.text.replace('region = "us-east-1"', 'region = "eu-west-1"'))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        raw = project.read_bytes()
        assert b'region = "eu-west-1"\r\n' in raw
        assert raw.count(b"\n") == raw.count(b"\r\n")
        assert [n.message for n in app._notifications] == [f"Saved {screen.pf.display}"]
