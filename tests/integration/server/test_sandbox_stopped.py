"""No command starts the sandbox's emulators silently. Once they are stopped, what they
held is gone (their state lives in memory): `app destroy` and `logs` say so and leave them
stopped; a deploy starts them again and says it does. Real moto and GCS emulator, real CLI."""

from __future__ import annotations

import pytest

from pilot_tui.apps import add_app
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid


@pytest.fixture
def site_project(tmp_path, cli):
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(add_app(pf.text, {"name": "site", "path": "site", "target": {"kind": "s3-cloudfront"}}))
    yield tmp_path
    for emulator in Sandbox(tmp_path / ".pilot").load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


@pytest.mark.slow
def test_stopped_emulators_are_said_and_not_restarted(site_project, cli):
    box = Sandbox(site_project / ".pilot")
    assert cli("deploy", "site").code == 0
    box.stop()

    gone = cli("app", "destroy", "site", "--yes")
    assert gone.code == 0, gone.err
    assert "the sandbox's emulators are stopped" in gone.err
    assert box.running() == {}

    rotate = cli("deployer", "rotate")  # no deployer can be left: said, exit 1
    assert rotate.code == 1 and "the sandbox's emulators are stopped" in rotate.err
    assert box.running() == {}

    logs = cli("releases", "site")
    assert logs.code == 0 and "app destroyed" in logs.out  # the history says it went
    assert box.running() == {}

    again = cli("deploy", "site")
    assert again.code == 0, again.err
    assert "starting the sandbox's local AWS API and GCS emulator" in again.err
    assert set(box.running()) == {"aws", "gcs"}


def test_an_app_never_deployed_is_not_deployed_whether_the_emulators_run_or_not(cli, fn_project):
    """The walk: with the emulators stopped, `status` called a Lambda app never deployed
    "stopped (...; deploy again)" and exited 1, which is for a deployed app that is
    unhealthy; with them running it said "not deployed" and exited 0."""
    box = Sandbox(fn_project / ".pilot")
    box.stop()
    stopped = cli("status")
    assert stopped.code == 0, stopped.out + stopped.err
    assert "not deployed" in stopped.out and "stopped" not in stopped.out
    assert box.running() == {}  # not started just to be asked
