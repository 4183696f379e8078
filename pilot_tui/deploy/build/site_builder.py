"""A static site's build command (`npm run build`, ...) run in its builder image on the
deploy engine's Docker, with the source at /src; what it leaves in the output folder becomes
the context that serves it (a generated Dockerfile plus the files, never a program's source).
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.deploy.build.packing import SPOOL, add_dockerfile
from pilot_tui.deploy.build.recipe import GENERATED, Builder, BuildError, Recipe
from pilot_tui.deploy.build.shippable import program_source

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container


def builder_network(home: str) -> str:
    """Where a build command runs: on a Pilot Server in a cloud, Docker's bridge, which the
    metadata guard covers (provision/metadata_guard.py: the host's own network reaches the
    server's credentials); elsewhere the host's network, as the engine's own builds."""
    return "bridge" if home in ("aws", "gcp") else "host"


def run_builder(
    client: DockerClient,
    recipe: Recipe,
    source: IO[bytes],
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    warn: Callable[[str], None] | None = None,
    network: str = "host",
) -> IO[bytes]:
    """Run a static site's build command in its builder image; the context that serves the
    output (a generated Dockerfile plus the output's files, never a program's source:
    ``warn`` hears each one left out). ``network``: builder_network's."""
    assert recipe.builder is not None and recipe.generated is not None
    spec = recipe.builder
    _ensure_image(client, spec.image, line)
    container = client.containers.create(
        spec.image,
        command=["sh", "-c", spec.command],
        working_dir="/src",
        network_mode=network,
        labels={"pilot": "builder"},
    )
    try:
        with source:
            container.put_archive("/", source.read())
        container.start()
        _follow(container, line, cancelled)
        code = container.wait().get("StatusCode")
        if code != 0:
            raise BuildError(f"`{spec.command}` exited with code {code} in {spec.image}")
        served, skipped = _serving_context(_output(container, spec), recipe.generated)
        for left_out in skipped:
            (warn or line)(left_out)
        return served
    finally:
        container.remove(force=True)


def _ensure_image(client: DockerClient, image: str, line: Callable[[str], None]) -> None:
    """Pull the builder image unless the engine has it."""
    from docker.errors import APIError, ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        line(f"pulling the builder image {image}")
        try:
            client.images.pull(image)
        except APIError as exc:
            raise BuildError(
                f"cannot pull the builder image {image}: {exc.explanation or exc}"
            ) from exc


def _follow(
    container: Container, line: Callable[[str], None], cancelled: Callable[[], bool]
) -> None:
    """Stream the build command's output line by line (masked) until it exits."""
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


def _output(container: Container, spec: Builder) -> bytes:
    """The output folder as a tar (its top folder is the output dir)."""
    from docker.errors import NotFound

    try:
        chunks, _ = container.get_archive(f"/src/{spec.output.strip('/')}/.")
    except NotFound as exc:
        raise BuildError(f"`{spec.command}` did not produce {spec.output}/ (build.output)") from exc
    return b"".join(chunks)


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
        add_dockerfile(tar, dockerfile)
    spool.seek(0)
    return spool, skipped
