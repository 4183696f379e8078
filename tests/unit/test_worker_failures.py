"""Worker failures in the app: every @work lets the screen show its error (Textual's default
exit_on_error=True ends the whole app on the first exception), and the details go to a
0600 log under .pilot/logs/ with secrets masked."""

from __future__ import annotations

import ast
from pathlib import Path

from pilot_tui.failures import describe
from tests.support.paths import REPO

SCREENS = REPO / "screens"


def test_every_screen_worker_keeps_the_app_running_on_error():
    workers = []
    for path in sorted(SCREENS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "work":
                    flags = {k.arg: getattr(k.value, "value", None) for k in deco.keywords}
                    workers.append((f"{path.name}:{node.name}", flags.get("exit_on_error")))
    assert len(workers) >= 7  # the screens have seven workers today
    assert [name for name, flag in workers if flag is not False] == []


def test_describe_logs_the_traceback_privately_and_masks_secrets(tmp_path):
    try:
        raise RuntimeError("cannot reach https://bob:hunter2secret@example.test/")
    except RuntimeError as exc:
        message = describe(tmp_path, "check credentials", exc)
    assert message.startswith("check credentials failed: cannot reach")
    assert "hunter2secret" not in message
    log = Path(message.split("(details: ")[1].rstrip(")"))
    assert log.parent == tmp_path / "logs" and log.stat().st_mode & 0o777 == 0o600
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError" in text and "hunter2secret" not in text
