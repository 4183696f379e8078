"""Pilot: your own platform-as-a-service on your own cloud account.

This package is the UI-free core. The Textual app lives in ``pilot_tui.screens``
(the ``screens/`` folder of the source tree) and is the only part that imports Textual.
"""

__version__ = "0.1.0"
