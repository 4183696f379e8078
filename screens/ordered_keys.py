"""Text fields that apply keys in the order they were typed.

Textual's Input and TextArea insert a typed character in their own key handler, but their
editing keys (backspace, delete, arrows, home/end…) are bindings, run only after the key has
bubbled up to the app. When keys arrive faster than the app handles them (a quick typist on
a loaded machine), a character typed after a backspace was inserted first and the late
backspace then deleted it: the New-app form saved "ello" for "hello". These fields run their
own editing keys in their handler, in order with the characters.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input, TextArea


async def ran_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run the widget's own binding for ``event`` now, if it has one."""
    bindings = widget._bindings.key_to_bindings.get(event.key, ())
    if not bindings:
        return False
    event.stop()
    event.prevent_default()
    await widget.run_action(bindings[0].action)
    return True


class TextInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not await ran_own_binding(self, event):
            await super()._on_key(event)


class TextEditor(TextArea):
    async def _on_key(self, event: events.Key) -> None:
        if not await ran_own_binding(self, event):
            await super()._on_key(event)
