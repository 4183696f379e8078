"""Issue 11 item 27: every screen's footer fits 80 columns (the Apps screen showed "f1 Hel",
the run logs lost ^q and f1)."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from pilot_tui.screens.app import create_app


def cut_keys(app) -> list[str]:
    """Footer keys that do not fit on the screen, by their description."""
    width = app.screen.size.width
    return [
        key.description
        for key in app.screen.query(FooterKey)
        if key.region.right > width or key.region.width == 0
    ]


@pytest.mark.slow
async def test_footers_fit_at_80_columns(project):
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for keys in ("a", "n", "escape escape l", "escape s", "escape o", "escape e", "escape c"):
            await pilot.press(*keys.split())
            await pilot.pause()
            shown = [key.description for key in app.screen.query(FooterKey)]
            assert "Help" in shown and "Quit" in shown, (keys, shown)
            assert cut_keys(app) == [], (keys, type(app.screen).__name__)
        # The credentials screen starts the sandbox's emulators to check them: let it finish,
        # so the app stops them as it exits (an exit mid-start left them running).
        await app.workers.wait_for_complete()
