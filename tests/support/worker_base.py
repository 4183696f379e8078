"""A stand-in for the CI worker's base image (python:3.12-slim, which cannot be pulled
here), and for what the Pilot Server gives the worker's container.

- Its packages: PyPI is not reachable from the tests' engine, so the worker image's
  `pip install -r requirements.txt` (the real step, unchanged) must find each pin already
  satisfied. The stand-in is the tests' Debian Python root (the same Python 3.11 and CPU
  as this venv) with this venv's copies of the worker's distributions and pip laid in its
  dist-packages, and Debian's "externally managed" marker removed (python:3.12-slim has
  none).
- The server's instance role: moto takes any key, so a placeholder pair whose access key
  id (SERVER_ROLE_KEY) marks the worker's requests in moto's recording, and the local AWS
  API's address; and the registry standing in for ECR's (PILOT_REGISTRY).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import tarfile

from pilot_tui.deploy.worker_container import REQUIREMENTS

SERVER_ROLE_KEY = "ASIASERVERROLE0000000"
SITE = "usr/local/lib/python3.11/dist-packages"


def distributions() -> list[importlib.metadata.Distribution]:
    """The worker's requirements, what they require (extras and other platforms' left
    out) and pip, as installed in this venv."""
    todo, seen, found = [*REQUIREMENTS, "pip"], set(), []
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # another platform's (pywin32)
        found.append(dist)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))
    return found


def packages_context(base: str) -> tuple[bytes, str]:
    """The build context of the base with the packages, and its content's hash."""
    files: dict[str, bytes] = {}
    for dist in distributions():
        for path in dist.files or []:
            if str(path).startswith(".."):  # scripts in bin/: not needed
                continue
            located = dist.locate_file(path)
            if located.is_file() and "__pycache__" not in path.parts:
                files[f"site/{path.as_posix()}"] = located.read_bytes()
    digest = hashlib.sha256(base.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    files["Dockerfile"] = (
        f"FROM {base}\nCOPY site /{SITE}\nRUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED\n"
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), digest.hexdigest()[:12]


def worker_base(client, python_base: str, aws_endpoint: str, registry: str) -> str:
    """The stand-in base on ``client``'s engine, for the local AWS API at ``aws_endpoint``
    and the registry ``registry``; its tag."""
    import docker

    context, content = packages_context(python_base)
    packages = f"pilot/worker-packages:{content}"
    try:
        client.images.get(packages)
    except docker.errors.ImageNotFound:
        client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=packages, rm=True)
    role = (
        f"FROM {packages}\n"
        f"ENV AWS_ENDPOINT_URL={aws_endpoint} AWS_ACCESS_KEY_ID={SERVER_ROLE_KEY} "
        f"AWS_SECRET_ACCESS_KEY=placeholder PILOT_REGISTRY={registry}\n"
    )
    tag = f"pilot/worker-base:{hashlib.sha256(role.encode()).hexdigest()[:12]}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(role.encode())
        tar.addfile(info, io.BytesIO(role.encode()))
    client.images.build(
        fileobj=io.BytesIO(buffer.getvalue()), custom_context=True, tag=tag, rm=True
    )
    return tag
