"""A text field that applies keys in the order they were typed.

Textual's Input inserts a typed character in its own key handler, but its editing keys
(backspace, delete, arrows, home/end…) are bindings, run only after the key has bubbled up
to the app. When keys arrive faster than the app handles them (a quick typist on a loaded
machine), a character typed after a backspace was inserted first and the late backspace
then deleted it: the New-app form saved "ello" for "hello". Here the field runs its own
editing keys in its handler, in order with the characters.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class TextInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        bindings = self._bindings.key_to_bindings.get(event.key, ())
        if bindings:
            event.stop()
            event.prevent_default()
            await self.run_action(bindings[0].action)
            return
        await super()._on_key(event)
