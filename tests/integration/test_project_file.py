"""Finding pilot.toml: a path named pilot.toml that is not a usable file (a directory, a
named pipe, a link to /dev/zero, a link loop, a dangling link, a huge file) is reported as
such, never read (no hang), and never silently replaced by a parent directory's file."""

from __future__ import annotations

import os

import pytest

from tests.conftest import run_pilot

PARENT = '[project]\nname = "parent"\n'


@pytest.fixture
def nested(tmp_path):
    """A parent project with a valid pilot.toml, and a child folder to work in."""
    (tmp_path / "pilot.toml").write_text(PARENT)
    child = tmp_path / "child"
    child.mkdir()
    return child


def _make(kind: str, target) -> str:
    """Put something that is not a usable file at ``target``; what the error must say."""
    if kind == "directory":
        target.mkdir()
        return "is a directory"
    if kind == "fifo":
        os.mkfifo(target)
        return "is a named pipe"
    if kind == "dev-zero":
        target.symlink_to("/dev/zero")
        return "is a character device"
    if kind == "loop":
        target.symlink_to(target)
        return "symbolic link loop"
    if kind == "dangling":
        target.symlink_to(target.parent / "gone.toml")
        return "does not exist"
    with target.open("wb") as handle:  # "huge": sparse, so nothing is really written
        handle.truncate(64 * 1024 * 1024)
    return "too large"


KINDS = ["directory", "fifo", "dev-zero", "loop", "dangling", "huge"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
def test_an_unusable_pilot_toml_is_named_and_the_parents_file_is_not_used(nested, kind):
    says = _make(kind, nested / "pilot.toml")
    for args in (("config", "validate"), ("config", "path"), ("status",)):
        result = run_pilot(*args, cwd=nested)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"{nested / 'pilot.toml'}" in result.stderr and says in result.stderr, result.stderr
        assert "parent" not in result.stdout and "no pilot.toml in" not in result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_naming_one_with_project_does_not_hang_either(tmp_path, kind):
    target = tmp_path / "odd.toml"
    says = _make(kind, target)
    result = run_pilot("--project", str(target), "config", "validate", cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr, result.stderr


async def test_the_app_names_the_unusable_file_and_offers_no_init(nested, monkeypatch):
    from textual.widgets import Static

    from pilot_tui.screens.app import create_app

    _make("directory", nested / "pilot.toml")
    monkeypatch.chdir(nested)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)
    app = create_app(None)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status = str(app.screen.query_one("#project-status", Static).render())
        assert "is a directory" in status and "parent" not in status
        await pilot.press("i")  # no starter file is written over (or into) it
        await pilot.pause()
        assert (nested / "pilot.toml").is_dir() and not any((nested / "pilot.toml").iterdir())
