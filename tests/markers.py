"""The suite's markers (registered in pyproject.toml), given from what a test uses so they cannot
drift from what it needs, and guards that fail a test using something its markers do not say.

- ``docker``: a fixture that starts or needs a private dockerd (the fixture closure says so);
- ``terraform``: a fixture that runs Terraform, or an explicit mark; a test that leaves a
  ``.terraform`` folder in its tmp_path without the mark fails;
- ``tui``: ``snap_compare``, ``App.run_test`` or tmux named in the test, or an explicit mark;
  ``App.run_test`` fails in a test without the mark;
- ``slow``: a Docker build or a Terraform apply (the fixtures that do one), or an explicit mark
  on a test that takes more than a few seconds. ``bash .ci/test --fast`` leaves these out.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import types
from pathlib import Path

import pytest

# Fixtures and the markers a test using them gets (pytest resolves the closure: a test using
# `site` uses `docker_engine` too).
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "docker_engine": ("docker", "slow"),  # the session's private dockerd, images built on it
    "own_root": ("docker", "slow"),  # a dockerd of the test's own
    "sandbox_project": ("terraform", "slow"),  # a sandbox project to provision
    "provisioned_sandbox": ("terraform", "slow"),  # one `server up`, shared by readers
    "snap_compare": ("tui",),
    "terraform": ("terraform",),  # tests/integration/test_templates.py: terraform init, validate
}

# What in a test's source (or its module's helpers it calls) says it drives the app: headless,
# or in a real terminal (a command line that starts with tmux).
SOURCE_MARKERS: dict[re.Pattern[str], tuple[str, ...]] = {
    re.compile(r"\.run_test\("): ("tui",),
    re.compile(r"""\[\s*"tmux"\s*,"""): ("tui", "tmux"),
}


def markers_for(item: pytest.Item) -> set[str]:
    """The markers ``item`` gets from its fixtures and its own source."""
    wanted: set[str] = set()
    for fixture in getattr(item, "fixturenames", ()):
        wanted.update(FIXTURE_MARKERS.get(fixture, ()))
    function = getattr(item, "function", None)
    if function is not None:
        source = "\n".join(_sources(function))
        for pattern, markers in SOURCE_MARKERS.items():
            if pattern.search(source):
                wanted.update(markers)
    return wanted


def _names(code: types.CodeType) -> set[str]:
    """The global names ``code`` and the functions nested in it refer to."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
    return names


@functools.cache
def _definitions(filename: str) -> dict[int, str]:
    """The source of each function defined in ``filename``, by its first line (the first
    decorator's, as in ``co_firstlineno``): one parse per file, not one tokenize per test."""
    try:
        text = Path(filename).read_text()
    except OSError:
        return {}
    lines = text.splitlines(keepends=True)
    found: dict[int, str] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found[first] = "".join(lines[first - 1 : node.end_lineno])
    return found


def _source(function: types.FunctionType) -> str | None:
    code = function.__code__
    return _definitions(code.co_filename).get(code.co_firstlineno)


def _sources(function: types.FunctionType) -> list[str]:
    """The source of ``function`` and of its module's functions it calls, transitively (a
    test that drives the app through a helper of its module)."""
    module = function.__globals__
    seen: set[types.FunctionType] = set()
    todo: list[types.FunctionType] = [function]
    sources: list[str] = []
    while todo:
        current = todo.pop()
        if current in seen or current.__module__ != function.__module__:
            continue
        seen.add(current)
        source = _source(current)
        if source is None:
            continue
        sources.append(source)
        called = (module.get(name) for name in _names(current.__code__))
        todo.extend(inspect.unwrap(f) for f in called if isinstance(f, types.FunctionType))
    return sources


@pytest.hookimpl(tryfirst=True)  # before -m selects by them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        have = {mark.name for mark in item.iter_markers()}
        for name in sorted(markers_for(item) - have):
            item.add_marker(name)


# The test being set up: a fixture it asks for in its body (request.getfixturevalue) is not in
# its fixture closure, so the hook above cannot mark it; pytest_fixture_setup refuses it.
_current: list[pytest.Item] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    _current[:] = [item]


def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> None:
    needs = FIXTURE_MARKERS.get(fixturedef.argname, ())
    missing = [name for name in needs if _current and not _current[0].get_closest_marker(name)]
    if missing:
        pytest.fail(
            f"{_current[0].nodeid} uses the {fixturedef.argname} fixture: "
            f"mark it {' and '.join(missing)}"
        )


def terraform_traces(folder: Path) -> list[Path]:
    """The ``.terraform`` folders (left by `terraform init`) under ``folder``."""
    return sorted(folder.rglob(".terraform")) if folder.is_dir() else []


@pytest.fixture(autouse=True)
def marker_guards(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Fail a test that uses what its markers do not say (they select the fast lane)."""
    node = request.node
    unmarked_tmp = None
    if node.get_closest_marker("terraform") is None and "tmp_path" in request.fixturenames:
        unmarked_tmp = request.getfixturevalue("tmp_path")  # torn down after this fixture
    if node.get_closest_marker("tui") is None:
        from textual.app import App

        def run_test(self: App, *args: object, **kwargs: object) -> None:
            pytest.fail(f"{node.nodeid} drives the app with App.run_test: mark it tui")

        monkeypatch.setattr(App, "run_test", run_test)
    yield
    if unmarked_tmp is not None:
        traces = terraform_traces(unmarked_tmp)
        if traces:
            pytest.fail(f"{node.nodeid} ran Terraform ({traces[0]}): mark it terraform")
