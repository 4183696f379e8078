"""The one stack detector: what an app's source folder is (a Dockerfile; a Node, Python or Go
service, its entry file, its Procfile's web command and a Lambda handler; a static site) and
the build Pilot suggests for it. The New-app form, `app new` and `build.kind = "auto"`
(dockerfiles.generated) all ask it; a static site never publishes a file it calls a program's
(shippable.program_source)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Detected:
    """What a source folder looks like, and the build Pilot suggests for it."""

    build: dict[str, Any]
    reason: str
    static: bool = False
    handler: str | None = None  # module.function of a Lambda handler, when there is one
    language: str | None = None  # "node" | "python" | "go": what build.kind = "auto" makes
    main: str | None = None  # a Python service's entry file (python MAIN)
    manifest: str | None = None  # the file that names the language (package.json, go.mod)
    web: str | None = None  # the Procfile's `web:` command: what a generated Dockerfile runs


HANDLER_MODULES = ("lambda_function", "handler", "app", "main")
PYTHON_MAINS = ("app.py", "main.py", "server.py", "wsgi.py")
PYTHON_FILES = (
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
)
GO_FILES = ("go.mod", "go.sum")
NODE_FILES = (
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
)


def program_language(name: str) -> str | None:
    """The language a file of that name is the source (or manifest) of, among those Pilot
    builds; None for anything else. A static site never publishes such files."""
    base = name.rsplit("/", 1)[-1]
    if (
        base.endswith((".py", ".pyc"))
        or base in PYTHON_FILES
        or (base.startswith("requirements") and base.endswith(".txt"))
    ):
        return "python"
    if base.endswith(".go") or base in GO_FILES:
        return "go"
    if base in NODE_FILES:
        return "node"
    return None


def lambda_handler(folder: Path) -> str | None:
    """`module.function` of a Python Lambda handler (`def handler(event, ...)` or
    `def lambda_handler(event, ...)`) at the top of the folder, if any."""
    for module in HANDLER_MODULES:
        try:
            text = (folder / f"{module}.py").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for function in ("lambda_handler", "handler"):
            if re.search(rf"^def {function}\(\s*event\b", text, re.MULTILINE):
                return f"{module}.{function}"
    return None


def _top_files(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:
        return []


def procfile_web(folder: Path) -> str | None:
    """The `web:` command of a Procfile (Heroku's convention), if there is one."""
    try:
        lines = (folder / "Procfile").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        name, sep, command = line.partition(":")
        if sep and name.strip() == "web" and command.strip():
            return command.strip()
    return None


def detect(folder: Path) -> Detected:
    """The one detector (the New-app form, `app new` and build.kind = "auto" all use it):
    Dockerfile > Node (a static site when it builds to files) > Python > Go > plain HTML.
    Any program file at the top (a *.py, *.go, a Pipfile, ...) makes it a program, never a
    static site: an index.html beside a server.py is the server's page, not the site."""
    if (folder / "Dockerfile").is_file():
        return Detected({"kind": "dockerfile"}, "a Dockerfile")
    if (folder / "package.json").is_file():
        return _node(folder)
    files = _top_files(folder)
    languages = {program_language(name) for name in files}
    if "python" in languages:
        return _python(folder, files)
    if "go" in languages:
        shown = ", ".join(f for f in files if program_language(f) == "go")
        return Detected(
            {"kind": "auto"},
            f"Go ({shown})",
            language="go",
            manifest="go.mod" if "go.mod" in files else None,
            web=procfile_web(folder),
        )
    if "index.html" in files:
        return Detected(
            {"kind": "static", "output": "."}, "index.html (a plain static site)", static=True
        )
    return Detected({"kind": "auto"}, "nothing recognisable yet: Pilot detects at build time")


def _node(folder: Path) -> Detected:
    """A Node service, or a static site when package.json builds to files and never starts."""
    try:
        data = json.loads((folder / "package.json").read_text())
    except (OSError, ValueError):
        data = {}
    scripts = data.get("scripts", {}) if isinstance(data, dict) else {}
    deps = (
        {**data.get("dependencies", {}), **data.get("devDependencies", {})}
        if isinstance(data, dict)
        else {}
    )
    if "build" in scripts and "start" not in scripts:
        output = "build" if "react-scripts" in deps else "dist"
        return Detected(
            {"kind": "static", "command": "npm run build", "output": output},
            "package.json with a build script and no start script (a static site)",
            static=True,
            language="node",
            manifest="package.json",
            web=procfile_web(folder),
        )
    return Detected(
        {"kind": "auto"},
        "package.json (a Node service)",
        language="node",
        manifest="package.json",
        web=procfile_web(folder),
    )


def _python(folder: Path, files: list[str]) -> Detected:
    """A Python service (its entry file), or a Lambda handler's folder."""
    main = next((f for f in PYTHON_MAINS if f in files), None) or next(
        (f for f in files if f.endswith(".py")), "app.py"
    )
    handler = lambda_handler(folder)
    reason = (
        f"a Python Lambda handler ({handler})"
        if handler is not None
        else "Python ({})".format(", ".join(f for f in files if program_language(f) == "python"))
    )
    return Detected(
        {"kind": "auto"},
        reason,
        handler=handler,
        language="python",
        main=main,
        web=procfile_web(folder),
    )
