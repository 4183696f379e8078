"""The edge proxy as files: which Caddy image runs it and what Pilot writes into its
container (the routes table, the Caddy config made from it, each host's upstream file, a
private CA's root), and the one command that switches them in.

No Docker SDK here: proxy_container.py passes the archives to ``container.put_archive`` and
runs the commands with ``exec_run``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import secrets
import tarfile
import time
from dataclasses import dataclass

from pilot_tui.deploy.targets.docker_host import caddy_config

CONFIG_DIR = caddy_config.CONFIG_DIR  # inside the proxy container
UPSTREAMS = "upstreams"  # HOST -> the live CONTAINER:PORT, read by Caddy on every request
STAGED = "upstreams.next"  # + ".TOKEN": one switch's new upstream files, renamed in by SWITCH
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
VERSION = ["caddy", "version"]

# Run in the edge's container as `sh -c SWITCH sh STAGED reload|keep STALE_HOST...`, STAGED
# being this switch's own folder of new upstream files (never another switch's leftovers,
# which are removed): those of new hosts go in first (the new config names them), then Caddy
# loads the config when it changed (a refusal stops here, the live files untouched), then
# each staged file is renamed over its host's live one (rename(2): a request reads the old or
# the new upstream, never a missing or half-written file), then the files of hosts gone are
# removed. STAGED is removed however the script ends.
SWITCH = f"""set -e
cd {CONFIG_DIR}
staged="$1"
trap 'rm -rf "$staged"' EXIT
for other in {STAGED}.*; do
  if [ -d "$other" ] && [ "$other" != "$staged" ]; then rm -rf "$other"; fi
done
mkdir -p {UPSTREAMS} "$staged"
for file in "$staged"/*; do
  new="{UPSTREAMS}/${{file##*/}}"
  if [ -f "$file" ] && [ ! -e "$new" ]; then mv -f "$file" "$new"; fi
done
if [ "$2" = reload ]; then {" ".join(RELOAD)}; fi
shift 2
for file in "$staged"/*; do
  if [ -f "$file" ]; then mv -f "$file" {UPSTREAMS}/; fi
done
for host in "$@"; do rm -f "{UPSTREAMS}/$host"; done
"""


def routes_json(routes: dict[str, str]) -> bytes:
    """The routes file: ``{"routes": {host: "CONTAINER:PORT"}}``, hosts sorted."""
    document = {"routes": {host: routes[host] for host in sorted(routes)}}
    return (json.dumps(document, indent=2) + "\n").encode()


def parse_routes(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(data).get("routes", {}).items()}


def routes_in(present: dict[str, bytes]) -> dict[str, str]:
    """The routes file among the edge's files (by name under CONFIG_DIR); none: no routes."""
    return parse_routes(present.get(ROUTES_NAME, b"{}"))


def edge_files(
    routes: dict[str, str],
    settings: caddy_config.EdgeSettings,
    ca_root: bytes | None,
    project: str = "",
) -> dict[str, bytes]:
    """Every file the edge runs on, by its name under ``CONFIG_DIR``: the routes, Caddy's
    config made from them, one upstream file per host, the CA root and whose settings
    these are."""
    routes = servable(routes)
    config = caddy_config.build(list(routes), settings)
    files = {
        ROUTES_NAME: routes_json(routes),
        CONFIG_NAME: (json.dumps(config, indent=1) + "\n").encode(),
        OWNER_NAME: owner_json(project, settings),
    }
    if ca_root is not None:
        files[CA_ROOT_NAME] = ca_root
    for host, upstream in routes.items():
        # No newline: Caddy before 2.9 keeps it in the dial address (a 502 for every request).
        files[f"{UPSTREAMS}/{host}"] = upstream.encode()
    return files


def servable(routes: dict[str, str]) -> dict[str, str]:
    """The routes the edge can serve: hosts lowercased, and a host that is no DNS name (a
    route an older Pilot wrote by hand, say) left out rather than blocking every deploy on
    the host. Pilot's own deploys check their hosts before a switch (checked_hosts)."""
    found = {host.lower(): upstream for host, upstream in routes.items()}
    return {h: u for h, u in found.items() if caddy_config.HOST_NAME.fullmatch(h)}


def config_tar(
    routes: dict[str, str],
    settings: caddy_config.EdgeSettings,
    ca_root: bytes | None,
    project: str = "",
) -> bytes:
    """A tar of ``pilot/`` holding every file the edge runs on, for a new edge container
    (``container.put_archive("/etc", ...)`` before it starts; the folder need not exist)."""
    return folder_tar("pilot", edge_files(routes, settings, ca_root, project))


@dataclass(frozen=True)
class Switch:
    """How a running edge gets new files: ``archive`` goes to ``/etc`` (config files and
    staged upstreams, never a live upstream file: put_archive replaces a file by removing
    it first), then ``command`` runs in the container."""

    archive: bytes
    command: list[str]
    reloads: bool  # whether Caddy loads a new config (only for new hosts or settings)


def plan_switch(present: dict[str, bytes], wanted: dict[str, bytes]) -> Switch | None:
    """The switch from the files the edge runs on (``present``, by name under CONFIG_DIR) to
    ``wanted`` (edge_files), or None when it already runs them."""
    live = f"{UPSTREAMS}/"
    if all(present.get(name) == data for name, data in wanted.items()):
        return None
    staged = f"{STAGED}.{secrets.token_hex(4)}"
    files = {
        (f"{staged}/{name.removeprefix(live)}" if name.startswith(live) else name): data
        for name, data in wanted.items()
        if not name.startswith(live) or present.get(name) != data
    }
    reloads = any(present.get(name) != wanted.get(name) for name in (CONFIG_NAME, CA_ROOT_NAME))
    stale = sorted(
        name.removeprefix(live) for name in present if name.startswith(live) and name not in wanted
    )
    command = ["sh", "-c", SWITCH, "sh", staged, "reload" if reloads else "keep", *stale]
    return Switch(folder_tar("pilot", files), command, reloads)


def served(present: dict[str, bytes]) -> dict[str, str]:
    """The routes the edge really serves: those of the routes file whose upstream file says
    the same (a lost or stale file is not served, whatever the routes file says)."""
    routes = routes_in(present)
    return {
        host: upstream
        for host, upstream in routes.items()
        if present.get(f"{UPSTREAMS}/{host}", b"").decode(errors="replace").strip() == upstream
    }


def restore_tar(present: dict[str, bytes]) -> bytes:
    """The edge's config files as they were (``present``), after a refused switch: the
    live upstream files were not touched and are left alone; staged ones are dropped."""
    kept = {n: d for n, d in present.items() if not n.startswith((f"{UPSTREAMS}/", STAGED))}
    return folder_tar("pilot", kept)


def caddy_version(output: str) -> tuple[int, int] | None:
    """(major, minor) from ``caddy version`` ("v2.11.7 h1:..."), None when unreadable."""
    words = output.strip().split()
    parts = words[0].lstrip("v").split(".") if words else []
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def owner_json(project: str, settings: caddy_config.EdgeSettings) -> bytes:
    """Whose settings the edge runs with: in words (for people), and whole (``edge``: what
    the agent on the host re-renders the config with when it drops an expired preview)."""
    document = {
        "project": project,
        "settings": settings_words(settings),
        "edge": dataclasses.asdict(settings),
    }
    return (json.dumps(document) + "\n").encode()


def edge_settings(files: dict[str, bytes]) -> tuple[str, caddy_config.EdgeSettings] | None:
    """(project, settings) the edge's files (by name) were last written with; None for an
    edge written before they were kept whole."""
    try:
        said = json.loads(files[OWNER_NAME])
        return str(said["project"]), caddy_config.EdgeSettings(**said["edge"])
    except (KeyError, ValueError, TypeError):
        return None


def settings_words(settings: caddy_config.EdgeSettings) -> str:
    """The edge settings a person compares: 'tls auto, https_port 443, acme_ca production'."""
    if not settings.tls:
        return "tls off"
    words = f"tls auto, https_port {settings.https_port}, acme_ca {settings.acme_ca}"
    return words + (", hsts" if settings.hsts else "")


def owner(files: dict[str, bytes]) -> tuple[str, str] | None:
    """(project, settings in words) the edge's files (by name) were last written with."""
    data = files.get(OWNER_NAME)
    if data is None:
        return None
    try:
        said = json.loads(data)
        return str(said["project"]), str(said["settings"])
    except (ValueError, KeyError, TypeError):
        return None


def folder_files(archive: bytes) -> dict[str, bytes]:
    """The files of a folder's archive (from get_archive), by name under that folder."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member) if member.isfile() else None
            if data is not None:
                found[member.name.partition("/")[2]] = data.read()
    return found


def folder_tar(folder: str, files: dict[str, bytes]) -> bytes:
    """A tar of ``folder/`` holding ``files`` (name -> bytes; a name may have one folder of
    its own, ``upstreams/HOST``), for ``put_archive``: no folder need exist in the
    container."""
    out = io.BytesIO()
    now = int(time.time())
    folders = [folder, *sorted({f"{folder}/{n.split('/')[0]}" for n in files if "/" in n})]
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in folders:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
