"""The core never imports Textual or the screens; heavy libraries load only when used."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pilot_tui
from tests.support.paths import REPO

ROOT = REPO


def _core_modules() -> list[str]:
    names = ["pilot_tui"]
    for info in pkgutil.walk_packages(pilot_tui.__path__, "pilot_tui."):
        if not info.name.startswith(
            ("pilot_tui.screens", "pilot_tui.terraform", "pilot_tui.__main__")
        ):
            names.append(info.name)
    return names


def test_core_modules_import_without_textual_in_a_fresh_interpreter():
    modules = _core_modules()
    assert "pilot_tui.cli.main" in modules and "pilot_tui.config.validate" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    for forbidden in ("textual", "rich", "pilot_tui.screens", "boto3", "google", "docker"):
        assert not any(m == forbidden or m.startswith(forbidden + ".") for m in loaded), forbidden


def test_import_linter_contracts_are_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts)} kept, 0 broken" in result.stdout
    assert "The core never imports Textual (only pilot_tui.screens may) KEPT" in result.stdout
    assert "Deploy targets never import the engine or the CLI" in result.stdout


# Import cycles still to break, each a group of modules that import one another (through
# function-local imports too). The list only shrinks: a group that is gone or smaller fails
# the test below until it is removed or made smaller here. The Target contract ended the last
# two (the engine <-> its target families, managed.open_target <-> each managed target).
ALLOWED_CYCLES: set[frozenset[str]] = set()


def import_cycles() -> set[frozenset[str]]:
    """Strongly connected groups of pilot_tui modules in grimp's import graph, which holds
    every import statement (function-local and TYPE_CHECKING ones included)."""
    import grimp

    graph = grimp.build_graph("pilot_tui", cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: set[frozenset[str]] = set()
    for root in sorted(edges):  # Tarjan's algorithm, iterative
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack.append(root)
        work = [(root, iter(sorted(edges[root])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == order[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.add(frozenset(group))
            elif child not in order:
                order[child] = low[child] = len(order)
                stack.append(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in stack:
                low[node] = min(low[node], order[child])
    return groups


def test_no_import_cycles_but_the_listed_ones():
    found = import_cycles()
    new = [sorted(group) for group in found - ALLOWED_CYCLES]
    gone = [sorted(group) for group in ALLOWED_CYCLES - found]
    assert not new, f"import cycles: {new}"
    assert not gone, f"no longer cycles (or smaller): remove from ALLOWED_CYCLES: {gone}"


def test_the_cycle_finder_sees_function_local_imports(tmp_path, monkeypatch):
    package = tmp_path / "pilot_tui_cycle_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pilot_tui_cycle_probe import b\n")
    (package / "b.py").write_text("def f():\n    from pilot_tui_cycle_probe import a\n")
    (package / "c.py").write_text("from pilot_tui_cycle_probe import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import grimp

    real = grimp.build_graph
    monkeypatch.setattr(
        grimp, "build_graph", lambda name, **kw: real("pilot_tui_cycle_probe", **kw)
    )
    assert import_cycles() == {frozenset({"pilot_tui_cycle_probe.a", "pilot_tui_cycle_probe.b"})}


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_mypy_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_screens_and_terraform_install_as_pilot_tui_subpackages():
    import pilot_tui.screens
    import pilot_tui.terraform

    assert Path(pilot_tui.screens.__file__).parent == ROOT / "screens"
    assert Path(pilot_tui.terraform.__file__).parent == ROOT / "terraform"
    assert (Path(pilot_tui.screens.__file__).parent / "pilot.tcss").is_file()
