"""What the last apply recorded of the Pilot Server (.pilot/outputs/server.json): read by
the home screen before anything else, so this module imports nothing of Terraform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUTS_FILE = "server.json"


def saved_record(state_dir: Path) -> dict[str, Any]:
    """What the last apply recorded in .pilot/outputs/server.json ({} when nothing):
    ``home``, ``saved_at`` and ``outputs``."""
    try:
        record = json.loads((state_dir / "outputs" / OUTPUTS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def saved_outputs(state_dir: Path) -> dict[str, Any]:
    """The outputs the last apply recorded ({} when none)."""
    outputs = saved_record(state_dir).get("outputs")
    return dict(outputs) if isinstance(outputs, dict) else {}
