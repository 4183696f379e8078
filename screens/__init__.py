"""The Textual app (installed as ``pilot_tui.screens``). Only this package imports Textual."""
