"""A Recipe's build context, packed deterministically (sorted, zeroed times and owners,
.dockerignore honoured; Pilot's state, keys, VCS folders and links out of the folder never,
see shippable.py) into a spooled temp file. Its sha256, with the build settings, names the
image: `pilot/PROJECT-APP:HASH`, so an unchanged source is not built again."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import IO

from pilot_tui.deploy.build.recipe import GENERATED, Recipe
from pilot_tui.deploy.build.shippable import Collected, collect
from pilot_tui.naming import image_repository

SPOOL = 32 * 1024 * 1024  # contexts up to 32 MB stay in memory


def _ignore_patterns(folder: Path) -> list[str]:
    try:
        lines = (folder / ".dockerignore").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def context_files(recipe: Recipe) -> Collected:
    """What is sent to the builder (relative, sorted) and the links skipped; .dockerignore
    applies (the Dockerfile always goes, as with docker), within shippable's rules."""
    dockerfile = "Dockerfile" if recipe.generated else recipe.dockerfile
    found = collect(
        recipe.folder,
        recipe.private,
        ignore=[*_ignore_patterns(recipe.folder), f"!{dockerfile}"],
        programs=not recipe.serves_files,
    )
    return replace(found, paths=tuple(p for p in found.paths if p != GENERATED))


def pack(recipe: Recipe, shipped: Collected | None = None) -> tuple[IO[bytes], str]:
    """The build context as a tar file object, and the content hash naming the image.
    ``shipped``: context_files(recipe), when the caller already has it."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "dockerfile": recipe.dockerfile,
                "generated": recipe.generated,
                "args": recipe.args,
                "buildpacks": recipe.buildpacks,
                "builder": recipe.builder
                and [recipe.builder.image, recipe.builder.command, recipe.builder.output],
            }
        ).encode()
    )
    # A builder gets the source under src/ (put_archive needs an existing directory: /).
    prefix = "src/" if recipe.builder else ""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - returned open
    with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in (shipped or context_files(recipe)).paths:
            path = recipe.folder / name
            info = tar.gettarinfo(str(path), arcname=prefix + name)
            if info is None:
                continue  # sockets and the like
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            digest.update(f"\0{name}\0{info.mode:o}\0{info.type!r}\0{info.linkname}".encode())
            if info.isfile():
                with path.open("rb") as handle:
                    data = handle.read()
                digest.update(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
        if recipe.generated is not None and recipe.builder is None:
            add_dockerfile(tar, recipe.generated)
    spool.seek(0)
    return spool, digest.hexdigest()[:12]


def add_dockerfile(tar: tarfile.TarFile, text: str) -> None:
    """Put a generated Dockerfile into a context, where the recipe says it is."""
    raw = text.encode()
    info = tarfile.TarInfo(GENERATED)
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


def image_tag(project: str, app: str, content_hash: str) -> str:
    return f"{image_repository(project, app)}:{content_hash.lower()}"
