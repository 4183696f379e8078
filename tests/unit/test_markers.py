"""The markers that select the fast lane (tests/markers.py): every test gets the ones its
fixtures and source imply, and a test that drives the app or runs Terraform without saying so
fails."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.markers import FIXTURE_MARKERS, markers_for, terraform_traces


def test_every_test_in_this_run_has_the_markers_of_its_fixtures(request):
    """In `--fast` (-m "not slow") this also proves that no test needing a dockerd or a
    sandbox to provision was selected."""
    missing = [
        (item.nodeid, fixture, marker)
        for item in request.session.items
        for fixture in item.fixturenames
        for marker in FIXTURE_MARKERS.get(fixture, ())
        if item.get_closest_marker(marker) is None
    ]
    assert missing == []
    selected = request.config.getoption("markexpr")
    if selected == "not slow":
        assert not [i for i in request.session.items if i.get_closest_marker("slow")]


def test_the_dockerd_fixtures_make_a_test_docker_and_slow():
    for fixture in ("docker_engine", "own_root", "site", "python_base"):
        # `site` and `python_base` reach the engine through their own fixtures: the closure
        # pytest resolves names it too.
        closure = [fixture, "docker_engine"] if fixture in ("site", "python_base") else [fixture]
        assert markers_for(SimpleNamespace(fixturenames=closure)) >= {"docker", "slow"}


async def _drive_the_app(app):
    async with app.run_test() as pilot:
        await pilot.pause()


class Samples:
    """Test bodies to classify (in a class: the tests below name them as attributes, which
    the classifier does not follow, so those tests stay unmarked)."""

    @staticmethod
    def through_a_helper():
        return _drive_the_app(None)

    @staticmethod
    async def directly(app):
        async with app.run_test():
            pass

    @staticmethod
    def in_tmux():
        return ["tmux", "new-session", "-d"]

    @staticmethod
    def plain():
        return 1 + 1


def test_driving_the_app_or_tmux_marks_a_test_tui_even_through_a_helper(request):
    def item(function):
        return SimpleNamespace(fixturenames=[], function=function)

    assert markers_for(item(Samples.directly)) == {"tui"}
    assert markers_for(item(Samples.through_a_helper)) == {"tui"}
    assert markers_for(item(Samples.in_tmux)) == {"tui", "tmux"}
    assert markers_for(item(Samples.plain)) == set()
    assert markers_for(SimpleNamespace(fixturenames=["snap_compare"])) == {"tui"}
    assert request.node.get_closest_marker("tui") is None  # naming them is not driving


def test_run_test_fails_in_a_test_not_marked_tui():
    from textual.app import App

    run = App.run_test  # the guard replaced it for this unmarked test
    with pytest.raises(pytest.fail.Exception, match="mark it tui"):
        run(App())


def test_a_terraform_working_folder_is_found(tmp_path_factory):
    # Not in tmp_path: the guard would (rightly) fail this unmarked test for it.
    folder = tmp_path_factory.mktemp("traces")
    assert terraform_traces(folder) == []
    assert terraform_traces(folder / "missing") == []
    made = folder / "acme" / ".pilot" / "terraform" / "sandbox" / ".terraform"
    made.mkdir(parents=True)
    assert terraform_traces(folder) == [made]
