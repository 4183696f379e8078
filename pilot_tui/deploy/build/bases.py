"""The base images of what Pilot builds, each with the variable that names a copy the Docker
host can reach (a registry mirror, or an image loaded on an air-gapped host), and the
message when one cannot be pulled: Docker's own (`Get "https://registry-1.docker.io/v2/":
... no such host`) never says which image it wanted."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docker import DockerClient


@dataclass(frozen=True)
class Base:
    variable: str  # PILOT_*_BASE: names the image to use instead
    default: str
    used_for: str

    def image(self) -> str:
        return os.environ.get(self.variable) or self.default


STATIC = Base("PILOT_STATIC_BASE", "busybox:1.36", "static sites (httpd)")
NODE = Base("PILOT_NODE_BASE", "node:20-slim", "Node services")
PYTHON = Base("PILOT_PYTHON_BASE", "python:3.12-slim", "Python services")
GO = Base("PILOT_GO_BASE", "golang:1.22", "Go builds")
GO_RUNTIME = Base(
    "PILOT_GO_RUNTIME_BASE", "gcr.io/distroless/static-debian12", "Go services' runtime"
)
WORKER = Base(
    "PILOT_WORKER_BASE",
    "python:3.12-slim",
    "the CI worker on the Pilot Server (pip installs its packages there)",
)
PROXY = Base("PILOT_PROXY_IMAGE", "caddy:2-alpine", "Pilot's edge proxy (Caddy 2.8 or newer)")
# Databases: "{version}" in the name (the default, or a mirror's) is the database's major version.
POSTGRES = Base("PILOT_POSTGRES_IMAGE", "postgres:{version}-alpine", "PostgreSQL databases")
REDIS = Base("PILOT_REDIS_IMAGE", "redis:{version}-alpine", "Redis databases")
LAMBDA_ADAPTER = Base(
    "PILOT_LAMBDA_ADAPTER",
    "public.ecr.aws/awsguru/aws-lambda-adapter:0.8.4",
    "the Lambda Web Adapter",
)
ALL = (STATIC, NODE, PYTHON, GO, GO_RUNTIME, WORKER, PROXY, POSTGRES, REDIS, LAMBDA_ADAPTER)


def from_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile's FROM lines name (earlier stages, scratch and images built
    from ARGs left out), in order."""
    stages: set[str] = set()
    found: list[str] = []
    for line in dockerfile.splitlines():
        words = [w for w in line.split() if not w.startswith("--")]
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        image = words[1]
        if image.lower() != "scratch" and image not in stages and "$" not in image:
            found.append(image)
        if len(words) >= 4 and words[2].upper() == "AS":
            stages.add(words[3])
    return found


def mirror_hint(image: str) -> str:
    """How to give the Docker host ``image`` without pulling it from its registry."""
    base = next((b for b in ALL if b.image() == image), None)
    if base is not None:
        return (
            f"set {base.variable} to a copy the Docker host can pull (a registry mirror) "
            f"or already has (`docker load`); it is the base of {base.used_for}"
        )
    return (
        "it is named in the app's Dockerfile: put a copy on the Docker host (`docker "
        "load`), or change that FROM line to one it can pull"
    )


def unpulled(client: DockerClient, dockerfile: str, error: str) -> str | None:
    """When a build failed because a base image is not on the host (it could not be pulled):
    a message naming that image and how to name a mirror's copy; None otherwise."""
    from docker.errors import APIError, ImageNotFound

    for image in from_images(dockerfile):
        try:
            client.images.get(image)
        except ImageNotFound:
            return f"cannot pull the base image {image} ({error.strip()}): {mirror_hint(image)}"
        except APIError:
            continue
    return None


def ensure_built(
    client: DockerClient,
    tag: str,
    context: Callable[[], bytes],
    dockerfile: str,
    announce: Callable[[], None],
) -> str | None:
    """An image of Pilot's own (the backup agent's, the CI worker's) on the engine: built
    from ``context()`` (a tar with ``dockerfile``) when ``tag`` is not there, ``announce``d
    first. None when it is there now, else why it could not be built (a base that could not
    be pulled named, with where a copy is set)."""
    import io

    from docker.errors import BuildError, ImageNotFound

    try:
        client.images.get(tag)
        return None
    except ImageNotFound:
        pass
    announce()
    try:
        client.images.build(
            fileobj=io.BytesIO(context()), custom_context=True, tag=tag, rm=True, forcerm=True
        )
    except BuildError as exc:
        return unpulled(client, dockerfile, str(exc)) or f"its build failed: {exc}"
    return None
