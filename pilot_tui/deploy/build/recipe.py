"""How an app builds: its Recipe (the folder, which Dockerfile or the text Pilot generates,
build args, a static site's builder, a buildpacks builder), decided from `build.kind`.

The other steps take a Recipe: packing.py packs its context and names the image from the
content, images.py builds it on the deploy engine's Docker (skipped when the engine already
has that tag), site_builder.py runs a static site's build command first, buildpacks.py builds
with `pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from pilot_tui.config.schema import AppSettings, BuildpacksBuild, DockerfileBuild, StaticBuild
from pilot_tui.deploy.build import dockerfiles
from pilot_tui.deploy.build.shippable import private_paths
from pilot_tui.errors import PilotError

GENERATED = ".pilot.Dockerfile"  # where a generated Dockerfile goes inside the context


class BuildError(PilotError):
    """The build failed; the message has the builder's own error."""

    title = "Build failed"


@dataclass(frozen=True)
class Builder:
    """A static site's build: ``command`` runs in ``image`` on the source at /src, and
    ``output`` (relative to it) is what gets served."""

    image: str
    command: str
    output: str


@dataclass(frozen=True)
class Recipe:
    """What to build: the folder, which Dockerfile (or generated text), and build args."""

    folder: Path
    dockerfile: str  # path inside the context
    generated: str | None = None  # Dockerfile text Pilot wrote, or None
    args: tuple[tuple[str, str], ...] = ()
    why: str = ""
    builder: Builder | None = None  # run first; its output becomes the context
    buildpacks: str | None = None  # a Cloud Native Buildpacks builder image: `pack` builds
    private: frozenset[Path] = frozenset()  # never in the context (shippable.private_paths)
    serves_files: bool = False  # a static site served as is: no program sources in it


def recipe_for(app: AppSettings, root: Path, private: frozenset[Path] | None = None) -> Recipe:
    """How ``app`` (an AppSettings) builds; names the problem when it cannot. ``private``:
    the project's paths that never ship (default: its state directory)."""
    folder = (root / app.path).resolve()
    if not folder.is_dir():
        raise BuildError(
            f"app {app.name!r}: source folder {folder} does not exist (apps.{app.name}.path)"
        )
    recipe = _BY_KIND.get(app.build.kind, _auto)(app, folder)
    return replace(recipe, private=private_paths(root) if private is None else private)


def _dockerfile(app: AppSettings, folder: Path) -> Recipe:
    build = cast(DockerfileBuild, app.build)  # _BY_KIND chose this function by build.kind
    if not (folder / build.dockerfile).is_file():
        raise BuildError(
            f"app {app.name!r}: no {build.dockerfile} in {folder} "
            f"(apps.{app.name}.build.dockerfile)"
        )
    return Recipe(
        folder,
        build.dockerfile,
        None,
        tuple(sorted(build.args.items())),
        f"{build.dockerfile}",
    )


def _static(app: AppSettings, folder: Path) -> Recipe:
    build = cast(StaticBuild, app.build)  # _BY_KIND chose this function by build.kind
    if build.command:
        builder = Builder(build.image, build.command, build.output)
        return Recipe(
            folder,
            GENERATED,
            dockerfiles.static_dockerfile(),
            (),
            f"`{build.command}` in {build.image}, then serve {build.output}/",
            builder,
        )
    output = (folder / build.output).resolve()
    if not output.is_dir():
        raise BuildError(
            f"app {app.name!r}: {output} does not exist (apps.{app.name}.build.output)"
        )
    return Recipe(
        output,
        GENERATED,
        dockerfiles.static_dockerfile(),
        (),
        f"static files in {output}",
        serves_files=True,
    )


def _buildpacks(app: AppSettings, folder: Path) -> Recipe:
    build = cast(BuildpacksBuild, app.build)  # _BY_KIND chose this function by build.kind
    import shutil

    if shutil.which("pack") is None:
        raise BuildError(
            f"app {app.name!r}: buildpacks need the `pack` binary "
            "(https://buildpacks.io/docs/tools/pack/); none is on PATH"
        )
    return Recipe(folder, "", None, (), f"buildpacks ({build.builder})", buildpacks=build.builder)


def _auto(app: AppSettings, folder: Path) -> Recipe:
    """A Dockerfile if there is one, else one Pilot writes."""
    if (folder / "Dockerfile").is_file():
        return Recipe(folder, "Dockerfile", None, (), "Dockerfile (detected)")
    made = dockerfiles.generated(folder)
    if made is None:
        raise BuildError(
            f"app {app.name!r}: cannot tell how to build {folder}: add a "
            "Dockerfile, or set apps.build.kind"
        )
    text, why = made
    return Recipe(
        folder,
        GENERATED,
        text,
        (),
        f"generated Dockerfile ({why})",
        serves_files=text == dockerfiles.static_dockerfile(),
    )


_BY_KIND: dict[str, Callable[[AppSettings, Path], Recipe]] = {
    "dockerfile": _dockerfile,
    "static": _static,
    "buildpacks": _buildpacks,
    "auto": _auto,
}
