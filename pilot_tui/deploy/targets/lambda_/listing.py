"""Which Lambda functions are a project's previews, told from their tags and names: one
rule for the laptop's listing (function.py) and the agent on the Pilot Server, which
removes expired previews (data/agent/lambda_previews.py). Standard library only: the
agent's image carries this module.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime

from pilot_tui.deploy.previews import Preview, from_labels
from pilot_tui.naming import PROJECT_TAG, resource_name

NAME_MAX = 64  # characters of a Lambda function's name


def function_name(project: str, app: str) -> str:
    """The function Pilot makes for ``app`` (a preview's: APP--NAME) of ``project``."""
    return resource_name(project, app)[:NAME_MAX]


def preview_of(tags: Mapping[str, str], name: str, project: str) -> Preview | None:
    """The preview function ``name`` runs, when its tags say it is one of ``project``'s
    and it has the name Pilot gives that preview; None: not a preview Pilot made."""
    preview = from_labels(dict(tags))
    if (
        preview is None
        or tags.get(PROJECT_TAG) != project
        or name != function_name(project, preview.full)
    ):
        return None
    return preview


def last_modified(value: str) -> float:
    """Lambda's LastModified ("2026-12-05T09:00:00.521+0000"; fractions to nanoseconds,
    or "Z", elsewhere) in seconds since the epoch; now when it cannot be read (the tag's
    expiry then decides)."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)", value)
    if found is None:
        return time.time()
    zone = "+0000" if found[2] == "Z" else found[2].replace(":", "")
    return datetime.strptime(found[1] + zone, "%Y-%m-%dT%H:%M:%S%z").timestamp()
