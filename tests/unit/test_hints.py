"""The "next: ..." hints say how to run Pilot *here*: `pilot-tui` only when that is the
command on PATH; after `bash .ci/pilot` (a virtualenv that is not on PATH) the launcher, else
the entry point's own path. Run as a user would: the installed entry point, a chosen PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import PILOT, run_pilot
from tests.support.paths import REPO

VENV_BIN = str(Path(PILOT).parent)
REPO = REPO


def _hints(tmp_path: Path, path: str, launcher: str | None = None) -> str:
    env = {"PATH": path}
    if launcher:
        env["PILOT_LAUNCHER"] = launcher
    made = run_pilot("init", "--name", "acme", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>")
    added = run_pilot("app", "new", "--path", "site", "--name", "web", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    return made.stdout + added.stderr


def test_hints_name_the_entry_point_when_pilot_tui_is_not_on_path(tmp_path):
    out = _hints(tmp_path, "/usr/bin:/bin")
    assert f"next: `{PILOT}` opens the guided setup; `{PILOT} config validate`" in out
    assert f"Deploy it: {PILOT} deploy web" in out
    assert "`pilot-tui" not in out


def test_hints_say_pilot_tui_when_it_is_the_one_on_path(tmp_path):
    out = _hints(tmp_path, f"{VENV_BIN}:/usr/bin:/bin")
    assert "next: `pilot-tui` opens the guided setup; `pilot-tui config validate`" in out
    assert "Deploy it: pilot-tui deploy web" in out


def test_hints_after_ci_pilot_name_the_launcher(tmp_path):
    launcher = f"bash {REPO}/.ci/pilot"
    out = _hints(tmp_path, "/usr/bin:/bin", launcher)
    assert f"next: `{launcher}` opens the guided setup; `{launcher} config validate`" in out
    assert f"Deploy it: {launcher} deploy web" in out
    # .ci/pilot is what sets it (checked as data: running it would reinstall the venv).
    script = (REPO / ".ci" / "pilot").read_text()
    assert "PILOT_LAUNCHER=" in script
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'here=/src/my\\ pilot; eval "$(grep PILOT_LAUNCHER= .ci/pilot '
            '| sed s/exec.*//)"; echo "$PILOT_LAUNCHER"',
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "bash /src/my\\ pilot/.ci/pilot"


def test_the_home_screens_next_step_names_where_the_server_goes():
    """Found walking: a project on Google Cloud was told "the sandbox needs no cloud
    account" on its way to create its server."""
    from pilot_tui.screens.home_status import next_step

    assert "(the sandbox needs no cloud account)" in next_step(False, False, "sandbox")
    on_gcp = next_step(False, False, "gcp")
    assert "on Google Cloud, with your credentials" in on_gcp and "sandbox" not in on_gcp
    assert "sandbox" not in next_step(False, False, "aws")
