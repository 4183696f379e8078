"""Apps: detect how a source folder builds, and add an [[apps]] table to pilot.toml."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.config.starter import project_name_from


@dataclass(frozen=True)
class Detected:
    """What a source folder looks like, and the build Pilot suggests for it."""

    build: dict[str, Any]
    reason: str
    static: bool = False
    handler: str | None = None  # module.function of a Lambda handler, when there is one
    language: str | None = None  # "node" | "python" | "go": what build.kind = "auto" makes
    main: str | None = None  # a Python service's entry file (python MAIN)


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


def detect(folder: Path) -> Detected:
    """The one detector (the New-app form, `app new` and build.kind = "auto" all use it):
    Dockerfile > Node (a static site when it builds to files) > Python > Go > plain HTML.
    Any program file at the top (a *.py, *.go, a Pipfile, ...) makes it a program, never a
    static site: an index.html beside a server.py is the server's page, not the site."""
    if (folder / "Dockerfile").is_file():
        return Detected({"kind": "dockerfile"}, "a Dockerfile")
    package = folder / "package.json"
    if package.is_file():
        try:
            data = json.loads(package.read_text())
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
            )
        return Detected({"kind": "auto"}, "package.json (a Node service)", language="node")
    files = _top_files(folder)
    languages = {program_language(name) for name in files}
    if "python" in languages:
        main = next((f for f in PYTHON_MAINS if f in files), None) or next(
            (f for f in files if f.endswith(".py")), "app.py"
        )
        handler = lambda_handler(folder)
        if handler is not None:
            return Detected(
                {"kind": "auto"},
                f"a Python Lambda handler ({handler})",
                handler=handler,
                language="python",
                main=main,
            )
        shown = ", ".join(f for f in files if program_language(f) == "python")
        return Detected({"kind": "auto"}, f"Python ({shown})", language="python", main=main)
    if "go" in languages:
        shown = ", ".join(f for f in files if program_language(f) == "go")
        return Detected({"kind": "auto"}, f"Go ({shown})", language="go")
    if "index.html" in files:
        return Detected(
            {"kind": "static", "output": "."}, "index.html (a plain static site)", static=True
        )
    return Detected({"kind": "auto"}, "nothing recognisable yet: Pilot detects at build time")


def suggested_name(folder: Path, taken: set[str]) -> str:
    base = project_name_from(folder.resolve().name)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def parse_env(text: str) -> dict[str, str]:
    """`KEY=value, OTHER=x` as typed in a form (values may not contain commas)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f'"{part}" is not KEY=value')
        out[key.strip()] = value.strip()
    return out


def parse_names(text: str) -> list[str]:
    return [n for n in re.split(r"[,\s]+", text) if n]


def add_app(text: str, app: dict[str, Any]) -> str:
    """``text`` with a new [[apps]] table at the end; everything already there is kept."""
    import tomlkit

    doc = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in app.items():
        if isinstance(value, dict) and value:
            # Written as people write them: { kind = "static", output = "dist" }
            pairs = ", ".join(
                f"{_key(k)} = {tomlkit.item(v).as_string()}" for k, v in value.items()
            )
            table[key] = tomlkit.parse(f"v = {{ {pairs} }}")["v"]
        elif value not in (None, [], {}):
            table[key] = value
    existed = "apps" in doc
    if existed:
        doc["apps"].append(table)
    else:
        aot = tomlkit.aot()
        aot.append(table)
        doc.append("apps", aot)
    out = doc.as_string()
    head, sep, tail = out.rpartition("[[apps]]")
    if existed and head and not head.endswith("\n\n"):
        out = head.rstrip("\n") + "\n\n" + sep + tail  # a blank line between apps
    return out


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
