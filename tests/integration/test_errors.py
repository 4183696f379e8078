"""One error type: every exception Pilot defines is a PilotError; the CLI reports it once
(message, hint, exit code) and the app pins it in one panel (title, message, hint)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, PilotError, framed
from tests.conftest import run_pilot
from tests.support.paths import REPO

ROOT = REPO


def _defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of pilot_tui (the screens included)."""
    import pilot_tui.screens  # installed as pilot_tui.screens, but not on pilot_tui's path

    found: dict[str, type[BaseException]] = {}
    names = [
        info.name
        for package in (pilot_tui, pilot_tui.screens)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]
    assert "pilot_tui.screens.server" in names and "pilot_tui.deploy.engine" in names
    for name in names:
        if name == "pilot_tui.__main__":  # running it runs the CLI
            continue
        module = importlib.import_module(name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_exception_class_pilot_defines_is_a_pilot_error():
    defined = _defined_exceptions()
    # The walk found them (35 today, since the old proxy program and its BadRequest went),
    # so it cannot pass empty.
    assert len(defined) >= 35
    assert "pilot_tui.deploy.context.DeployError" in defined
    strays = sorted(name for name, cls in defined.items() if not issubclass(cls, PilotError))
    assert strays == [], "subclass pilot_tui.errors.PilotError (or a family base of it)"


def test_each_error_has_an_exit_code_of_the_contract_and_its_own_title():
    for name, cls in _defined_exceptions().items():
        if cls is PilotError:
            continue
        assert issubclass(cls, PilotError)
        assert cls.exit_code in (EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED), name
        assert cls.title and cls.title != PilotError.title, f"{name} needs a title"


def test_errors_module_imports_nothing_from_pilot_tui():
    tree = ast.parse((ROOT / "pilot_tui" / "errors.py").read_text())
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not [m for m in imported if m.split(".")[0] == "pilot_tui"]


def test_message_hint_and_exit_code():
    error = PilotError("no server to share", hint="run `pilot-tui server up`")
    assert (error.message, error.hint, error.exit_code) == (
        "no server to share",
        "run `pilot-tui server up`",
        EXIT_FAILED,
    )
    assert str(error) == "no server to share; run `pilot-tui server up`"
    assert str(PilotError("bad key", exit_code=EXIT_INVALID)) == "bad key"
    assert PilotError("bad key", exit_code=EXIT_INVALID).exit_code == EXIT_INVALID


def test_framed_adds_what_the_caller_knows_and_passes_other_errors_through():
    from pilot_tui.deploy.targets.managed import TargetError
    from pilot_tui.provision.team import TeamError

    with pytest.raises(TargetError) as caught, framed("web: ", " (retry later)"):
        raise TargetError("AccessDenied")
    assert str(caught.value) == "web: AccessDenied (retry later)"
    assert caught.value.exit_code == EXIT_FAILED
    with pytest.raises(TeamError) as team, framed(exit_code=EXIT_FAILED):
        raise TeamError("no Pilot Server to share")  # bad input elsewhere, a failure here
    assert team.value.exit_code == EXIT_FAILED and TeamError.exit_code == EXIT_INVALID
    with pytest.raises(KeyError), framed("web: "):
        raise KeyError("not a PilotError: untouched")


# -- the CLI: one handler, in main ---------------------------------------------------------
PROJECT = """\
[project]
name = "acme"

[server]
home = "sandbox"

[[apps]]
name = "web"
path = "web"
build = { kind = "dockerfile" }
target = { kind = "server" }
"""


def _project(root: Path) -> Path:
    (root / "web").mkdir()
    (root / "web" / "Dockerfile").write_text("FROM scratch\n")
    (root / "pilot.toml").write_text(PROJECT)
    return root


def test_cli_exits_2_for_invalid_input_from_the_errors_own_code(tmp_path):
    """A real `pilot-tui`: an unknown key is a KeyError_ (exit 2), reported by main."""
    result = run_pilot("config", "get", "server.nosuch", cwd=_project(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("pilot-tui: error: "), result.stderr
    assert "server.nosuch" in result.stderr and "Traceback" not in result.stderr


def test_cli_exits_1_when_an_operation_fails(tmp_path):
    """A real `pilot-tui`: an unreadable release history is a HistoryError (exit 1)."""
    root = _project(tmp_path)
    history = root / ".pilot" / "releases" / "web.json"
    history.parent.mkdir(parents=True)
    history.write_text("{not json")
    result = run_pilot("releases", "web", cwd=root)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"pilot-tui: error: {history}: cannot read the release")
    assert "Traceback" not in result.stderr


def test_main_prints_message_and_hint_masked_and_returns_the_errors_code(
    tmp_path, monkeypatch, capsys
):
    """Any command's PilotError: one line with its hint, secrets masked, its exit code."""
    from pilot_tui import redact
    from pilot_tui.cli import main as cli_main
    from pilot_tui.cli.parser import build_parser

    secret = "hunter2-very-secret"
    redact.register([secret])

    def failing(ns: object) -> int:
        raise PilotError(f"the cloud said no to {secret}", hint="try again", exit_code=130)

    parser = build_parser()
    real = parser.parse_args

    def parse(args: list[str]) -> object:
        ns = real(args)
        ns.handler = failing  # a command that raises; everything around it is main's own
        return ns

    monkeypatch.setattr(parser, "parse_args", parse)
    monkeypatch.setattr("pilot_tui.cli.parser.build_parser", lambda: parser)
    code = cli_main.main(["config", "path"])
    err = capsys.readouterr().err
    assert code == 130
    assert err.startswith("pilot-tui: error: the cloud said no to ")
    assert err.rstrip().endswith("; try again") and secret not in err


# -- the app: one panel ---------------------------------------------------------------------
async def test_a_worker_error_is_pinned_with_its_title_message_and_hint(tmp_path):
    """The Server screen's plan worker raises WorkspaceBusy (another run holds the real
    flock on its working directory): the panel shows the title, the message and the hint on
    a line of its own, and the app keeps running."""
    from textual.widgets import Static

    from pilot_tui.provision.tf.workspace import WorkspaceLock
    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.failures import ErrorPanel
    from pilot_tui.screens.server import ServerScreen

    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    app = create_app(str(tmp_path / "pilot.toml"))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, ServerScreen)
        other = WorkspaceLock(screen.server.workdir, "pilot-tui server up")
        other.acquire()
        try:
            await pilot.press("p")
            panel = screen.query_one("#error", ErrorPanel)
            for _ in range(100):
                await pilot.pause(0.05)
                if not panel.has_class("hidden"):
                    break
            shown = str(screen.query_one("#error", Static).render())
        finally:
            other.release()
        lines = shown.splitlines()
        assert lines[0] == "Working directory busy", shown
        assert lines[1].startswith("terraform plan failed: another `pilot-tui server up` is")
        assert lines[2] == "wait for it to finish, then run this again", shown
        assert "(details: " in shown
        assert app.is_running and app.screen is screen
