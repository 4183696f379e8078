"""Pilot's reverse proxy, as the engine handles it: the image's build context and the routes
file it reads.

The proxy itself is ``proxy_main.py`` beside this module: a standalone stdlib-only program
that runs in a Python base image (``python:3.12-alpine`` by default; any image with a
``python3`` 3.9+ on PATH will do, e.g. one imported from a debootstrapped root filesystem).
The image's tag carries a digest of the base and of the program, so a changed program gets a
new image and the engine replaces the old proxy container.

No Docker SDK here: the caller passes the bytes to ``client.images.build`` and
``container.put_archive``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

from pilot_tui.deploy.build.bases import PROXY

PROXY_BASE_DEFAULT = PROXY.default  # PILOT_PROXY_BASE names a mirror's copy
PROXY_REPOSITORY = "pilot/proxy"
PROGRAM_PATH = "/pilot/proxy.py"  # inside the image
ROUTES_DIR = "/etc/pilot"  # put_archive target; the file is ROUTES_DIR/routes.json
ROUTES_NAME = "routes.json"


def program() -> bytes:
    """The proxy program's source (proxy_main.py)."""
    return Path(__file__).with_name("proxy_main.py").read_bytes()


def dockerfile(base_image: str) -> str:
    # The empty routes file also makes /etc/pilot, which put_archive needs to exist.
    # Exec-form CMD: python3 is PID 1 and gets SIGHUP/SIGTERM itself (no shell in between).
    # -u: unbuffered, so `docker logs` shows request lines as they happen.
    return (
        f"FROM {base_image}\n"
        f"COPY proxy_main.py {PROGRAM_PATH}\n"
        f"COPY {ROUTES_NAME} {ROUTES_DIR}/{ROUTES_NAME}\n"
        'CMD ["python3", "-u", "/pilot/proxy.py", "--listen", "0.0.0.0:80",'
        ' "--routes", "/etc/pilot/routes.json"]\n'
    )


def proxy_context(base_image: str) -> bytes:
    """An in-memory tar build context: a Dockerfile ``FROM base_image``, the program and an
    empty routes file."""
    return _tar(
        {
            "Dockerfile": dockerfile(base_image).encode(),
            "proxy_main.py": program(),
            ROUTES_NAME: routes_json({}),
        }
    )


def proxy_image_tag(base_image: str) -> str:
    """``pilot/proxy:<12 hex>``: a digest of the base image name, the program and the
    Dockerfile, so a changed program (or recipe) makes a new image."""
    digest = hashlib.sha256()
    for part in (base_image.encode(), program(), dockerfile(base_image).encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return f"{PROXY_REPOSITORY}:{digest.hexdigest()[:12]}"


def routes_json(routes: dict[str, str]) -> bytes:
    """The routes file: ``{"routes": {host: "CONTAINER:PORT"}}``, hosts sorted."""
    document = {"routes": {host: routes[host] for host in sorted(routes)}}
    return (json.dumps(document, indent=2) + "\n").encode()


def routes_tar(routes: dict[str, str]) -> bytes:
    """A tar holding ``routes.json``, for ``container.put_archive("/etc/pilot", ...)``."""
    return _tar({ROUTES_NAME: routes_json(routes)})


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
