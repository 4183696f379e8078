"""Build an app's image on the deploy engine's Docker.

The context is packed deterministically (sorted, zeroed times and owners, .dockerignore
honoured; Pilot's state, keys, VCS folders and links out of the folder never, see
shippable.py) into a spooled temp file and streamed to the engine. Its sha256, with the build
settings, names the image: `pilot/PROJECT-APP:HASH`. When the engine already has that tag the
source is unchanged and the build is skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from pilot_tui import redact
from pilot_tui.deploy.build import bases, dockerfiles
from pilot_tui.deploy.build.shippable import Collected, collect, private_paths, program_source
from pilot_tui.errors import PilotError
from pilot_tui.runner import Command

GENERATED = ".pilot.Dockerfile"  # where a generated Dockerfile goes inside the context
SPOOL = 32 * 1024 * 1024  # contexts up to 32 MB stay in memory


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


def recipe_for(app: Any, root: Path, private: frozenset[Path] | None = None) -> Recipe:
    """How ``app`` (an AppSettings) builds; names the problem when it cannot. ``private``:
    the project's paths that never ship (default: its state directory)."""
    recipe = _recipe(app, root)
    return replace(recipe, private=private_paths(root) if private is None else private)


def _recipe(app: Any, root: Path) -> Recipe:
    folder = (root / app.path).resolve()
    if not folder.is_dir():
        raise BuildError(
            f"app {app.name!r}: source folder {folder} does not exist (apps.{app.name}.path)"
        )
    kind = app.build.kind
    if kind == "dockerfile":
        if not (folder / app.build.dockerfile).is_file():
            raise BuildError(
                f"app {app.name!r}: no {app.build.dockerfile} in {folder} "
                f"(apps.{app.name}.build.dockerfile)"
            )
        return Recipe(
            folder,
            app.build.dockerfile,
            None,
            tuple(sorted(app.build.args.items())),
            f"{app.build.dockerfile}",
        )
    if kind == "static":
        if app.build.command:
            builder = Builder(app.build.image, app.build.command, app.build.output)
            return Recipe(
                folder,
                GENERATED,
                dockerfiles.static_dockerfile(),
                (),
                f"`{app.build.command}` in {app.build.image}, then serve {app.build.output}/",
                builder,
            )
        output = (folder / app.build.output).resolve()
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
    if kind == "buildpacks":
        import shutil

        if shutil.which("pack") is None:
            raise BuildError(
                f"app {app.name!r}: buildpacks need the `pack` binary "
                "(https://buildpacks.io/docs/tools/pack/); none is on PATH"
            )
        return Recipe(
            folder, "", None, (), f"buildpacks ({app.build.builder})", buildpacks=app.build.builder
        )
    # auto: a Dockerfile if there is one, else one Pilot writes.
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
            raw = recipe.generated.encode()
            info = tarfile.TarInfo(GENERATED)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    spool.seek(0)
    return spool, digest.hexdigest()[:12]


def image_tag(project: str, app: str, content_hash: str) -> str:
    return f"pilot/{project}-{app}:{content_hash}".lower()


def build(
    client: Any,
    recipe: Recipe,
    context: IO[bytes],
    tag: str,
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> str:
    """Build ``tag`` from a packed context, streaming the builder's lines; the image id."""
    with context:
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            dockerfile=recipe.dockerfile,
            buildargs=dict(recipe.args),
            labels={"pilot": "app"},
        )
        error = None
        for chunk in stream:
            if cancelled():
                from pilot_tui.deploy.context import Cancelled

                raise Cancelled("cancelled during the build")
            if "stream" in chunk:
                for text in str(chunk["stream"]).splitlines():
                    if text.strip():
                        line(redact.text(text))
            elif "error" in chunk:
                error = str(chunk.get("errorDetail", {}).get("message") or chunk["error"])
                line(redact.text(error))
    if error is not None:
        raise BuildError(redact.text(_explained(client, recipe, error)))
    return str(client.images.get(tag).id)


def _explained(client: Any, recipe: Recipe, error: str) -> str:
    """The builder's error, naming the base image when it is one that could not be pulled."""
    text = recipe.generated
    if text is None:
        try:
            text = (recipe.folder / recipe.dockerfile).read_text(encoding="utf-8")
        except OSError:
            text = ""
    return bases.unpulled(client, text, error) or error.strip()


def existing_image(client: Any, tag: str) -> str | None:
    """The image id when the engine already has ``tag`` (an unchanged source)."""
    from docker.errors import ImageNotFound

    try:
        return str(client.images.get(tag).id)
    except ImageNotFound:
        return None


def run_builder(
    client: Any,
    recipe: Recipe,
    source: IO[bytes],
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    warn: Callable[[str], None] | None = None,
) -> IO[bytes]:
    """Run a static site's build command in its builder image; the context that serves the
    output (a generated Dockerfile plus the output's files, never a program's source:
    ``warn`` hears each one left out)."""
    from docker.errors import APIError, ImageNotFound, NotFound

    assert recipe.builder is not None and recipe.generated is not None
    spec = recipe.builder
    try:
        client.images.get(spec.image)
    except ImageNotFound:
        line(f"pulling the builder image {spec.image}")
        try:
            client.images.pull(spec.image)
        except APIError as exc:
            raise BuildError(
                f"cannot pull the builder image {spec.image}: {exc.explanation or exc}"
            ) from exc
    container = client.containers.create(
        spec.image,
        command=["sh", "-c", spec.command],
        working_dir="/src",
        network_mode="host",
        labels={"pilot": "builder"},
    )
    try:
        with source:
            container.put_archive("/", source.read())
        container.start()
        pending = b""
        for chunk in container.logs(stream=True, follow=True):
            if cancelled():
                from pilot_tui.deploy.context import Cancelled

                raise Cancelled("cancelled during the build")
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line(redact.text(raw.decode(errors="replace")))
        if pending:
            line(redact.text(pending.decode(errors="replace")))
        code = container.wait().get("StatusCode")
        if code != 0:
            raise BuildError(f"`{spec.command}` exited with code {code} in {spec.image}")
        try:
            chunks, _ = container.get_archive(f"/src/{spec.output.strip('/')}/.")
        except NotFound as exc:
            raise BuildError(
                f"`{spec.command}` did not produce {spec.output}/ (build.output)"
            ) from exc
        served, skipped = _serving_context(b"".join(chunks), recipe.generated)
        for left_out in skipped:
            (warn or line)(left_out)
        return served
    finally:
        container.remove(force=True)


def _serving_context(archive: bytes, dockerfile: str) -> tuple[IO[bytes], list[str]]:
    """The builder's output (a tar whose top folder is the output dir) re-rooted at the
    context's top, plus the generated Dockerfile; and a warning per program source left
    out (a static site serves files: shippable.program_source)."""
    skipped: list[str] = []
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - returned open
    with (
        tarfile.open(fileobj=io.BytesIO(archive)) as given,
        tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member in given.getmembers():
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not name or name == GENERATED:
                continue
            source = None if member.isdir() else program_source(name)
            if source is not None:
                skipped.append(source.message())
                continue
            member.name = name
            data = given.extractfile(member) if member.isfile() else None
            tar.addfile(member, data)
        raw = dockerfile.encode()
        info = tarfile.TarInfo(GENERATED)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    spool.seek(0)
    return spool, skipped


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
) -> Command:
    """`pack build` as data: the image lands on the deploy host's engine (DOCKER_HOST and
    friends from host.docker_env); ``daemon_socket`` is that engine's socket as seen on the
    host itself, which pack mounts into its lifecycle container ("inherit": DOCKER_HOST);
    ``source`` is pack_source's zip (default: the folder itself)."""
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
            "--label",
            "pilot=app",
        ),
        env={**os.environ, **docker},
    )


def run_pack(
    client: Any,
    recipe: Recipe,
    tag: str,
    docker: dict[str, str],
    daemon_socket: str,
    line: Callable[[str], None],
    shipped: Collected | None = None,
) -> str:
    """Build with `pack` through the one runner, streaming its lines; the image id."""
    import asyncio

    from pilot_tui.runner import RunnerError, stream

    with tempfile.TemporaryDirectory(prefix="pilot-pack-") as folder:
        source = pack_source(recipe, shipped or context_files(recipe), Path(folder))
        try:
            code = asyncio.run(
                stream(
                    pack_command(recipe, tag, docker, daemon_socket, source),
                    lambda out: line(redact.text(out.text)),
                )
            )
        except RunnerError as exc:
            raise BuildError(str(exc)) from exc
    if code != 0:
        raise BuildError(f"pack build exited with code {code}")
    return str(client.images.get(tag).id)
