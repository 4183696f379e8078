"""Snapshots of every screen at 80x24, 120x36 and 200x60 (pytest-textual-snapshot).

Projects live at a fixed path so the screens render identically on every machine; two
test runs on one machine take turns there (an exclusive lock for this file's tests).
Regenerate after a deliberate change:
`bash .ci/test tests/integration/test_snapshots.py --snapshot-update`, and look at the SVGs
(tests/integration/__snapshots__/) before committing them.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pilot_tui.config.starter import starter_text
from pilot_tui.screens.app import create_app
from tests.support.paths import TESTS

ROOT = Path("/tmp/pilot-snapshots")
SIZES = [(80, 24), (120, 36), (200, 60)]  # usable small, good large


@pytest.fixture(scope="module", autouse=True)
def _the_fixed_path_alone() -> Iterator[None]:
    """The fixed path to this run alone until its snapshots are taken: another test run
    on the machine (a second checkout's suite) waits instead of overwriting its projects."""
    with Path("/tmp/pilot-snapshots.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fresh(name: str, text: str | None) -> Path:
    path = ROOT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    if text is not None:
        (path / "pilot.toml").write_text(text)
    return path


def pressed(*keys: str):
    """Press ``keys``, then let every worker finish: the picture must not depend on how
    fast this machine is (a loaded CI machine caught screens mid-refresh)."""

    async def run_before(pilot) -> None:
        await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def size(request):
    return request.param


def test_welcome(snap_compare, size):
    project = fresh("acme", starter_text("acme"))
    assert snap_compare(create_app(str(project)), terminal_size=size)


def test_welcome_without_a_project(snap_compare, size, monkeypatch):
    empty = fresh("empty", None)
    monkeypatch.chdir(empty)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)
    assert snap_compare(create_app(None), terminal_size=size)


def test_settings_editor_with_problems(snap_compare, size):
    project = fresh("broken", '# notes\n[server]\nhome = "awss"\nallowed_cidrs = ["10.0.0.1/8"]\n')
    assert snap_compare(create_app(str(project)), terminal_size=size)


def test_server_screen_before_planning(snap_compare, size):
    project = fresh("acme", starter_text("acme"))
    assert snap_compare(create_app(str(project)), run_before=pressed("s"), terminal_size=size)


def test_help(snap_compare, size):
    project = fresh("acme", starter_text("acme"))
    assert snap_compare(create_app(str(project)), run_before=pressed("f1"), terminal_size=size)


def test_server_settings_form(snap_compare, size):
    project = fresh("acme", starter_text("acme"))
    assert snap_compare(create_app(str(project)), run_before=pressed("o"), terminal_size=size)


def test_apps(snap_compare, size):
    from pilot_tui.apps import add_app

    text = add_app(
        starter_text("acme"),
        {
            "name": "api",
            "path": ".",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server"},
            "env": {"LOG_LEVEL": "info"},
            "secrets": ["DB_URL"],
        },
    )
    project = fresh("acme", text)
    assert snap_compare(create_app(str(project)), run_before=pressed("a"), terminal_size=size)


def test_run_logs(snap_compare, size, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "UTC")  # the tabs say the runs' times on this machine's clock
    time.tzset()
    project = fresh("acme", starter_text("acme"))
    logs = project / ".pilot" / "logs"
    logs.mkdir(parents=True)
    fixtures = TESTS / "fixtures" / "tf"
    shutil.copy(fixtures / "plan-create.jsonl", logs / "terraform-20261125-101500-plan.log")
    shutil.copy(fixtures / "apply-failed.jsonl", logs / "terraform-20261125-101600-apply.log")
    try:
        assert snap_compare(create_app(str(project)), run_before=pressed("l"), terminal_size=size)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.fixture
def gcp_key_home(monkeypatch):
    """A Google project with a service-account key at a fixed path and no AWS profiles; the
    live check fails the same way every time (no network here: the token request fails)."""
    from tests.integration.test_key_picker import service_account_key

    home = fresh("home", None)
    (home / "keys").mkdir()
    (home / "keys" / "acme.json").write_text(service_account_key())
    (home / "keys" / "acme.json").chmod(0o600)
    (home / "projects").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "none"))
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(var, raising=False)
    text = (
        starter_text("acme")
        .replace('home = "sandbox"', 'home = "gcp"')
        .replace("[gcp]", '[gcp]\nproject = "acme-prod"\ncredentials = "~/keys/acme.json"')
    )
    return fresh("acme", text)


def test_credentials(snap_compare, size, gcp_key_home):
    async def checked(pilot):
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        # The check's outcome is a message the screen handles after the worker ends: on a
        # loaded machine (c1d9391's CI) two pauses were not always enough for it. Wait for
        # its rows, then lay them out before the shot (c433770's CI caught the table's
        # header not yet widened to its rows, as test_key_picker's once did).
        for _ in range(100):
            if pilot.app.screen.query_one("#found").row_count:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(create_app(str(gcp_key_home)), run_before=checked, terminal_size=size)


def test_key_picker(snap_compare, size, gcp_key_home):
    async def opened(pilot):
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        # the check's rows shown before the picker covers them: a loaded CI machine caught
        # the credentials table with its header not yet widened to its rows
        await pilot.pause()
        await pilot.press("k")
        for _ in range(40):  # the tree lists the home folder in its own worker
            await pilot.pause(0.05)
            if len(pilot.app.screen.query_one("#key-tree").root.children) == 2:
                break
        await pilot.pause()

    assert snap_compare(create_app(str(gcp_key_home)), run_before=opened, terminal_size=size)


def test_deploy_screen_when_the_host_cannot_be_reached(snap_compare, size, monkeypatch):
    from pilot_tui.apps import add_app

    # The sandbox deploys on this machine's Docker: point it at a socket nothing serves.
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/pilot-snapshots/no-docker.sock")

    text = add_app(
        starter_text("acme"),
        {"name": "api", "path": ".", "build": {"kind": "dockerfile"}, "target": {"kind": "server"}},
    )
    project = fresh("acme", text)  # home = "sandbox": no engine answers, said plainly

    async def deployed(pilot):
        await pilot.press("a", "d")
        # Until the screen has shown the failure: waiting on the workers raised the deploy
        # worker's HostError (WorkerFailed) whenever the worker had started by then.
        for _ in range(200):
            await pilot.pause(0.05)
            shown = pilot.app.screen.query("#deploy-result")
            if shown and "Not deployed" in str(shown.first().render()):
                break
        await pilot.pause()

    assert snap_compare(create_app(str(project)), run_before=deployed, terminal_size=size)


def test_new_app_form(snap_compare, size):
    project = fresh("acme", starter_text("acme"))
    (project / "Dockerfile").write_text("FROM scratch\n")
    assert snap_compare(create_app(str(project)), run_before=pressed("a", "n"), terminal_size=size)
