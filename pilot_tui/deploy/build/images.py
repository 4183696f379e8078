"""Build an image from a packed context on the deploy engine's Docker, streaming the
builder's lines (masked), and say which base image it could not pull when that is why."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.deploy.build import bases
from pilot_tui.deploy.build.recipe import BuildError, Recipe
from pilot_tui.naming import APP_IMAGE

if TYPE_CHECKING:
    from docker import DockerClient


def build(
    client: DockerClient,
    recipe: Recipe,
    context: IO[bytes],
    tag: str,
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    labels: dict[str, str] | None = None,
) -> str:
    """Build ``tag`` from a packed context, streaming the builder's lines; the image id.
    ``labels`` (naming.image_labels) say whose it is."""
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
            labels={**APP_IMAGE, **(labels or {})},
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


def _explained(client: DockerClient, recipe: Recipe, error: str) -> str:
    """The builder's error, naming the base image when it is one that could not be pulled."""
    text = recipe.generated
    if text is None:
        try:
            text = (recipe.folder / recipe.dockerfile).read_text(encoding="utf-8")
        except OSError:
            text = ""
    return bases.unpulled(client, text, error) or error.strip()


def existing_image(client: DockerClient, tag: str) -> str | None:
    """The image id when the engine already has ``tag`` (an unchanged source)."""
    from docker.errors import ImageNotFound

    try:
        return str(client.images.get(tag).id)
    except ImageNotFound:
        return None
