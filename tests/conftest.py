"""Shared fixtures: run the real CLI in-process or as a subprocess, in a temp project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pilot_tui.cli.main import main

PILOT = shutil.which("pilot-tui", path=str(Path(sys.executable).parent)) or "pilot-tui"


@pytest.fixture(autouse=True, scope="session")
def private_user_config(tmp_path_factory):
    """The app remembers the theme in the user's config dir: keep the tests' choices (and the
    snapshots) away from the person running them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        yield


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run `pilot-tui ARGS` in-process (the real main()) from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILOT_PROJECT", raising=False)

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors and --help
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_pilot(*args: str, cwd: Path, env: dict[str, str] | None = None,
              input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `pilot-tui` entry point as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    full_env.update(env or {})
    return subprocess.run([PILOT, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, input=input, timeout=60)


@pytest.fixture
def project(tmp_path, cli) -> Path:
    """A fresh project made by `pilot-tui init`; returns the pilot.toml path."""
    result = cli("init")
    assert result.code == 0, result.err
    return tmp_path / "pilot.toml"
