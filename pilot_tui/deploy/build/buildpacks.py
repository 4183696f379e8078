"""Build with Cloud Native Buildpacks: `pack build` (as data) from a zip of the files that
may ship, the image landing on the deploy host's engine."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.deploy.build.packing import context_files
from pilot_tui.deploy.build.recipe import BuildError, Recipe
from pilot_tui.deploy.build.shippable import Collected
from pilot_tui.naming import APP_IMAGE
from pilot_tui.runner import Command

if TYPE_CHECKING:
    from docker import DockerClient


def pack_source(recipe: Recipe, shipped: Collected, into: Path) -> Path:
    """What `pack` builds from: a zip of the files that may ship (``--path FOLDER`` would
    send the whole folder, Pilot's state included), written in ``into``; its path."""
    import zipfile

    source = into / "source.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in shipped.paths:
            path = recipe.folder / name
            if path.is_file():  # folders come with their files; links inside, as files
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return source


def pack_command(
    recipe: Recipe,
    tag: str,
    docker: dict[str, str],
    daemon_socket: str = "inherit",
    source: Path | None = None,
    labels: dict[str, str] | None = None,
) -> Command:
    """`pack build` as data: the image lands on the deploy host's engine (DOCKER_HOST and
    friends from host.docker_env); ``daemon_socket`` is that engine's socket as seen on the
    host itself, which pack mounts into its lifecycle container ("inherit": DOCKER_HOST);
    ``source`` is pack_source's zip (default: the folder itself); ``labels``
    (naming.image_labels) say whose the image is."""
    import os

    assert recipe.buildpacks is not None
    return Command(
        (
            "pack",
            "build",
            tag,
            "--builder",
            recipe.buildpacks,
            "--path",
            str(source or recipe.folder),
            "--pull-policy",
            "if-not-present",
            "--docker-host",
            daemon_socket,
            *(
                word
                for key, value in {**APP_IMAGE, **(labels or {})}.items()
                for word in ("--label", f"{key}={value}")
            ),
        ),
        env={**os.environ, **docker},
    )


def run_pack(
    client: DockerClient,
    recipe: Recipe,
    tag: str,
    docker: dict[str, str],
    daemon_socket: str,
    line: Callable[[str], None],
    shipped: Collected | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Build with `pack` through the one runner, streaming its lines; the image id."""
    import asyncio

    from pilot_tui.runner import RunnerError, stream

    with tempfile.TemporaryDirectory(prefix="pilot-pack-") as folder:
        source = pack_source(recipe, shipped or context_files(recipe), Path(folder))
        try:
            code = asyncio.run(
                stream(
                    pack_command(recipe, tag, docker, daemon_socket, source, labels),
                    lambda out: line(redact.text(out.text)),
                )
            )
        except RunnerError as exc:
            raise BuildError(str(exc)) from exc
    if code != 0:
        raise BuildError(f"pack build exited with code {code}")
    return str(client.images.get(tag).id)
