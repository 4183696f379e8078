"""The preview-name question (screens/preview_name.py) in a real Textual app: it shows the
name the preview will have, cut to the room the app's names leave (as the engine cuts it),
and what is typed is never read as markup (review: "[/]" crashed the screen)."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Static

from pilot_tui.deploy.previews import slug
from pilot_tui.screens.app import PilotApp
from pilot_tui.screens.preview_name import PreviewName


class Asking(App[None]):
    CSS_PATH = PilotApp.CSS_PATH  # the app's own styles

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self.answer: str | None = "unanswered"

    def on_mount(self) -> None:
        def answered(name: str | None) -> None:
            self.answer = name

        self.push_screen(PreviewName("web", "", self.room), answered)


def shown(app: App[None]) -> str:
    return str(app.screen.query_one("#preview-name-shown", Static).render())


async def test_the_name_shown_is_the_one_deployed_and_typing_is_never_markup():
    app = Asking(room=10)
    async with app.run_test() as pilot:
        await pilot.press(*"[/]")
        assert "holds no letter or digit" in shown(app) and "[/]" in shown(app)
        await pilot.press("backspace", "backspace", "backspace", *"feature/a-long-branch")
        assert shown(app) == f"deploys web--{slug('feature/a-long-branch', 10)}"
        assert len(slug("feature/a-long-branch", 10)) <= 10
        await pilot.press("enter")
    assert app.answer == "feature/a-long-branch"  # the engine makes it the same name


async def test_the_questions_wrap_inside_their_modals_at_80_columns():
    """Seen in tmux: the question's Label was one line, cut at the modal's edge ("Name it
    aft", "what runs it, its"), in this modal and in the shared confirmation."""
    from textual.widgets import Label

    from pilot_tui.screens.run_screen import ConfirmCancel

    app = Asking(room=10)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        question = app.screen.query_one(Label)
        assert question.size.height >= 2 and question.size.width < 80
        app.push_screen(ConfirmCancel("Remove the preview web--x: " + "what runs it, " * 8))
        await pilot.pause()
        question = app.screen.query_one(Label)
        assert question.size.height >= 2 and question.size.width < 80


async def test_enter_on_a_confirmation_keeps_what_runs():
    """The shared confirmation (stop a run, remove a preview) focused its destructive
    button first, so Enter, a reflex after typing a name, removed the preview; now the safe
    answer has the focus and the destructive one takes a Tab or a click."""
    from pilot_tui.screens.run_screen import ConfirmCancel

    answers: list[bool | None] = []
    app = Asking(room=10)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(
            ConfirmCancel("Remove the preview web--x?", "Remove", "Keep"), answers.append
        )
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "keep"
        await pilot.press("enter")
        await pilot.pause()
        assert answers == [False]
        app.push_screen(
            ConfirmCancel("Remove the preview web--x?", "Remove", "Keep"), answers.append
        )
        await pilot.pause()
        await pilot.press("shift+tab", "enter")  # the destructive answer, chosen
        await pilot.pause()
        assert answers == [False, True]
