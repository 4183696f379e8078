"""Lambda from the app's own container image: the image Pilot built for any target, plus
AWS's Lambda Web Adapter as an extension, so the same web server on $PORT answers Lambda's
function-URL events (https://github.com/awslabs/aws-lambda-web-adapter). No code changes.

``PILOT_LAMBDA_ADAPTER`` names a local copy of the adapter image, for hosts that cannot pull
from public.ecr.aws (and these tests)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui.deploy.build import bases, images
from pilot_tui.deploy.build.recipe import Recipe

if TYPE_CHECKING:
    from docker import DockerClient

ADAPTER_DEFAULT = bases.LAMBDA_ADAPTER.default


def adapter_image() -> str:
    return bases.LAMBDA_ADAPTER.image()


def wrapper_dockerfile(app_image: str, adapter: str, port: int, health_path: str = "/") -> str:
    """The app's image with the adapter in /opt/extensions (Lambda starts extensions
    there); the adapter waits for the health path, then forwards each event to $PORT."""
    return (
        f"FROM {adapter} AS adapter\n"
        f"FROM {app_image}\n"
        "COPY --from=adapter /lambda-adapter /opt/extensions/lambda-adapter\n"
        f"ENV PORT={port} AWS_LWA_PORT={port} "
        f"AWS_LWA_READINESS_CHECK_PATH={_quoted(health_path)}\n"
    )


def _quoted(value: str) -> str:
    """``value`` as one Dockerfile ENV word, meaning what it says: a health path may hold
    quotes, a backslash or `$`, which Docker would otherwise parse or expand; then it is
    written in double quotes, those escaped."""
    if not any(ch in value for ch in "\"'\\$"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def wrapped_tag(app_tag: str, port: int, health_path: str) -> str:
    """The tag of ``app_tag`` wrapped for Lambda: it names the port and health path baked
    in (a hash of them), so changing either builds the wrapper again, never reusing one
    that asks the old path."""
    baked = hashlib.sha256(f"{port}\n{health_path}".encode()).hexdigest()[:8]
    return f"{app_tag}-{baked}-lambda"


def wrap(
    client: DockerClient,
    app_image: str,
    port: int,
    health_path: str,
    tag: str,
    line: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> str:
    """Build ``tag`` (wrapped_tag): ``app_image`` with the adapter, which waits for
    ``health_path`` on ``port``; its image id (reused when built)."""
    existing = images.existing_image(client, tag)
    if existing is not None:
        return existing
    text = wrapper_dockerfile(app_image, adapter_image(), port, health_path).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    context.seek(0)
    recipe = Recipe(Path(), "Dockerfile", text.decode(), why="the Lambda Web Adapter")
    return images.build(client, recipe, context, tag, line, cancelled)
