"""The edge proxy as files: which Caddy image runs it and what Pilot writes into its
container (the routes table, the Caddy config made from it, a private CA's root).

No Docker SDK here: proxy_container.py passes the archive to ``container.put_archive``.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

from pilot_tui.deploy.targets.docker_host import caddy_config

CONFIG_DIR = "/etc/pilot"  # inside the proxy container
ROUTES_NAME = "routes.json"  # {"routes": {host: "CONTAINER:PORT"}}; the old proxy's too
CONFIG_NAME = "caddy.json"
CA_ROOT_NAME = "acme-ca-root.pem"
OWNER_NAME = "edge.json"  # which project's settings the edge runs with (a shared host)
CONFIG_PATH = f"{CONFIG_DIR}/{CONFIG_NAME}"
ROUTES_PATH = f"{CONFIG_DIR}/{ROUTES_NAME}"
CA_ROOT_PATH = f"{CONFIG_DIR}/{CA_ROOT_NAME}"
DATA_VOLUME = "pilot-proxy-data"  # certificates and the ACME account: kept across upgrades
RUN = ["caddy", "run", "--config", CONFIG_PATH]
RELOAD = ["caddy", "reload", "--config", CONFIG_PATH, "--address", caddy_config.ADMIN]


def routes_json(routes: dict[str, str]) -> bytes:
    """The routes file: ``{"routes": {host: "CONTAINER:PORT"}}``, hosts sorted."""
    document = {"routes": {host: routes[host] for host in sorted(routes)}}
    return (json.dumps(document, indent=2) + "\n").encode()


def parse_routes(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(data).get("routes", {}).items()}


def config_tar(
    routes: dict[str, str],
    settings: caddy_config.EdgeSettings,
    ca_root: bytes | None,
    project: str = "",
) -> bytes:
    """A tar of ``pilot/`` holding the routes, Caddy's config made from them, the CA root
    and whose settings these are, for ``container.put_archive("/etc", ...)`` (the folder
    need not exist)."""
    config = caddy_config.build(routes, settings)
    files = {
        ROUTES_NAME: routes_json(routes),
        CONFIG_NAME: (json.dumps(config, indent=1) + "\n").encode(),
        OWNER_NAME: owner_json(project, settings),
    }
    if ca_root is not None:
        files[CA_ROOT_NAME] = ca_root
    return folder_tar("pilot", files)


def owner_json(project: str, settings: caddy_config.EdgeSettings) -> bytes:
    return (json.dumps({"project": project, "settings": settings_words(settings)}) + "\n").encode()


def settings_words(settings: caddy_config.EdgeSettings) -> str:
    """The edge settings a person compares: 'tls auto, https_port 443, acme_ca production'."""
    if not settings.tls:
        return "tls off"
    words = f"tls auto, https_port {settings.https_port}, acme_ca {settings.acme_ca}"
    return words + (", hsts" if settings.hsts else "")


def owner(archive: bytes) -> tuple[str, str] | None:
    """(project, settings in words) the edge's files were last written with, if said."""
    data = _files(archive).get(f"pilot/{OWNER_NAME}")
    if data is None:
        return None
    try:
        said = json.loads(data)
        return str(said["project"]), str(said["settings"])
    except (ValueError, KeyError, TypeError):
        return None


def holds(archive: bytes, wanted: bytes) -> bool:
    """Whether the container's folder (``archive``, from get_archive) holds the files of
    ``wanted`` (a config_tar), byte for byte (a file no longer written, an old CA root, is
    not read by the config and does not count)."""
    present = _files(archive)
    return all(present.get(name) == data for name, data in _files(wanted).items())


def _files(archive: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member) if member.isfile() else None
            if data is not None:
                found[member.name] = data.read()
    return found


def folder_tar(folder: str, files: dict[str, bytes]) -> bytes:
    """A tar of ``folder/`` holding ``files`` (name -> bytes), for ``put_archive``: the
    folder need not exist in the container."""
    out = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(folder)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
