"""A static site whose files come from a build command (`npm run build`, ...) deployed to a
bucket: the command runs in its builder image on the project's Docker host, as it does for
the Pilot Server, and the output is unpacked here into a temporary folder to be uploaded."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy.build.packing import context_files, pack
from pilot_tui.deploy.build.recipe import GENERATED, recipe_for
from pilot_tui.deploy.build.site_builder import run_builder

if TYPE_CHECKING:
    from docker import DockerClient


def needs_builder(app: AppSettings) -> bool:
    return bool(app.build.kind == "static" and getattr(app.build, "command", None))


def build_output(
    client: DockerClient,
    app: AppSettings,
    root: Path,
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    private: frozenset[Path] | None = None,
    warn: Callable[[str], None] | None = None,
    network: str = "host",
) -> Path:
    """Run the build; a new temporary folder holding its output (the caller removes it).
    ``private`` never goes to the builder (shippable.py); ``warn`` hears the links skipped."""
    recipe = recipe_for(app, root, private)
    shipped = context_files(recipe)
    for skipped in shipped.skipped:
        (warn or line)(skipped.message())
    context, _ = pack(recipe, shipped)
    served = run_builder(client, recipe, context, line, cancelled, warn, network)
    folder = Path(tempfile.mkdtemp(prefix=f"pilot-site-{app.name}-"))
    try:
        with served, tarfile.open(fileobj=served) as archive:
            members = [m for m in archive.getmembers() if m.name != GENERATED]
            # The data filter refuses absolute paths, links out of the folder and devices:
            # the archive comes from a container that runs the project's own build command.
            archive.extractall(folder, members=members, filter="data")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
