"""``python -m pilot_tui`` runs the same entry point as ``pilot-tui``."""

import sys

from pilot_tui.cli.main import main

sys.exit(main())
