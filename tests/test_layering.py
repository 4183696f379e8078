"""The core never imports Textual or the screens; heavy libraries load only when used."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pilot_tui

ROOT = Path(__file__).parent.parent


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


def test_import_linter_contract_is_kept():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
    assert "The core never imports Textual (only pilot_tui.screens may) KEPT" in result.stdout
    assert "Deploy targets never import the engine or the CLI" in result.stdout


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
