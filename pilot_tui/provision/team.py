"""Teammates: one Pilot Server, several people, each with their own SSH key on it.

1. The teammate runs `pilot-tui team request` in their checkout: Pilot makes (once) their own
   key for this project under .pilot/keys and prints its *public* half to send.
2. The owner runs `pilot-tui invite NAME --key 'ssh-ed25519 …'`: the key is authorised on
   the server, tagged `pilot-teammate:NAME`, and an invite file is written with what the
   teammate needs: the server's address and pinned host keys, and where state and release
   history live. It holds no secret: a stolen invite grants nothing without the private key.
3. The teammate runs `pilot-tui join INVITE`.
`pilot-tui team remove NAME` deletes that one line: nobody else's access changes.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.provision.keys import KEY_NAME
from pilot_tui.provision.remote import ssh_run
from pilot_tui.runner import Command

TAG = "pilot-teammate:"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]{40,}( .*)?$")
AUTHORIZED = "$HOME/.ssh/authorized_keys"


class TeamError(PilotError):
    """A bad name, key or invite; the message says which and what to do."""

    exit_code = EXIT_INVALID
    title = "Team change refused"


@dataclass(frozen=True)
class Server:
    """Where the Pilot Server is, from .pilot/outputs/server.json."""

    host: str
    user: str
    port: int = 22
    authorized_keys: str = AUTHORIZED  # where its sshd reads keys (outputs may say otherwise)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise TeamError(
            f"{name!r}: a teammate's name is lowercase letters, digits and hyphens "
            "(e.g. alice or bob-k)"
        )
    return name


def check_key(key: str) -> str:
    key = key.strip()
    if "PRIVATE KEY" in key:
        raise TeamError(
            "that is a PRIVATE key: never send it. Send the line "
            "`pilot-tui team request` prints (it starts with ssh-ed25519)"
        )
    if not PUBLIC_KEY.match(key) or "\n" in key:
        raise TeamError("not an OpenSSH public key (expected one line: ssh-ed25519 AAAA…)")
    return " ".join(key.split()[:2])  # the comment is replaced by our tag


def authorize_script(key: str, name: str, path: str = AUTHORIZED) -> str:
    """Idempotent: replaces NAME's line (a new key) or adds it; 0600 kept."""
    line = f"{key} {TAG}{name}"
    return (
        f'set -e; f="{path}"; mkdir -p "$(dirname "$f")"; chmod 700 "$(dirname "$f")"; '
        f'touch "$f"; chmod 600 "$f"; grep -v " {TAG}{name}$" "$f" > "$f.pilot" || true; '
        f'echo \'{line}\' >> "$f.pilot"; chmod 600 "$f.pilot"; mv "$f.pilot" "$f"'
    )


def revoke_script(name: str, path: str = AUTHORIZED) -> str:
    return (
        f'set -e; f="{path}"; grep -q " {TAG}{name}$" "$f" || '
        f'{{ echo "no teammate {name} on this server" >&2; exit 3; }}; '
        f'grep -v " {TAG}{name}$" "$f" > "$f.pilot" || true; chmod 600 "$f.pilot"; '
        f'mv "$f.pilot" "$f"'
    )


def list_script(path: str = AUTHORIZED) -> str:
    return f'grep -o " {TAG}.*$" "{path}" | sed "s/ {TAG}//" || true'


def on_server(server: Server, state_dir: Path, script: str) -> Command:
    keys = state_dir / "keys"
    return ssh_run(
        server.host, server.user, keys / KEY_NAME, keys / "known_hosts", script, server.port
    )


def server_from(record: dict[str, Any]) -> Server:
    outputs = record.get("outputs", {})
    if record.get("home") == "host":
        return Server(
            str(outputs["public_ip"]),
            str(outputs.get("ssh_user", "root")),
            int(outputs.get("ssh_port", 22)),
        )
    if record.get("home") == "sandbox" or "public_ip" not in outputs:
        raise TeamError(
            "no Pilot Server to share: teammates join a server provisioned on AWS "
            "or GCP (`pilot-tui server up`); the sandbox runs only on this machine"
        )
    return Server(
        str(outputs["public_ip"]),
        str(outputs.get("ssh_user", "ubuntu")),
        int(outputs.get("ssh_port", 22)),
        str(outputs.get("authorized_keys", AUTHORIZED)),
    )


def host_record(config: PilotConfig) -> dict[str, Any]:
    """A `home = "host"` project's Docker host as a server record: teammates reach it over
    SSH like a provisioned server (their key in its user's authorized_keys)."""
    url = config.server.host or ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise TeamError(
            f"server.host is {url!r}: teammates share a Docker host over SSH, "
            "so it must be ssh://user@host (a unix:// socket is this machine "
            "only; a tcps:// host shares its client certificate, not keys)"
        )
    return {
        "home": "host",
        "outputs": {
            "public_ip": parts.hostname,
            "ssh_user": parts.username or "root",
            "ssh_port": parts.port or 22,
        },
    }


def team_record(config: PilotConfig, saved: dict[str, Any]) -> dict[str, Any]:
    """The server teammates share: the provisioned one (``saved``, .pilot/outputs), or the
    Docker host pilot.toml names."""
    return host_record(config) if config.server.home == "host" else saved


def invite_text(config: PilotConfig, record: dict[str, Any], known_hosts: str, name: str) -> str:
    """The invite: TOML with the project, the server record and its host keys. No secrets."""
    server = server_from(record)
    host_keys = [line for line in known_hosts.splitlines() if line.strip()]
    state = {"backend": config.state.backend, "bucket": config.state.bucket or ""}
    body: dict[str, dict[str, Any]] = {
        "invite": {
            "project": config.project.name,
            "teammate": name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "state": state,
        "server": {
            "host": server.host,
            "user": server.user,
            "port": server.port,
            "record": json.dumps(record),
        },
        "host_keys": {"lines": host_keys},
    }
    return _toml(body)


def _toml(body: dict[str, dict[str, Any]]) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(
        tomlkit.comment(
            "A Pilot invite: `pilot-tui join THIS-FILE` in your checkout. It holds no secret."
        )
    )
    for table, values in body.items():
        doc[table] = values
    return tomlkit.dumps(doc)


def join(text: str, project_name: str, state_dir: Path) -> Server:
    """Record the server and pin its host keys in this checkout's .pilot/."""
    try:
        data = tomllib.loads(text)
        invite, server = data["invite"], data["server"]
        record = json.loads(server["record"])
        lines = list(data.get("host_keys", {}).get("lines", []))
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
        raise TeamError(f"not a Pilot invite ({exc})") from exc
    if invite.get("project") != project_name:
        raise TeamError(
            f"this invite is for project {invite.get('project')!r}, but this "
            f"pilot.toml is project {project_name!r}"
        )
    if not lines:
        raise TeamError("the invite has no host key, so the server could not be verified")
    ensure_private_dir(state_dir / "keys")
    if record.get("home") != "host":  # a host is named in pilot.toml, not provisioned
        ensure_private_dir(state_dir / "outputs")
        atomic_write(
            state_dir / "outputs" / "server.json", json.dumps(record, indent=2) + "\n", mode=0o600
        )
    known = state_dir / "keys" / "known_hosts"
    existing = known.read_text().splitlines() if known.exists() else []
    atomic_write(known, "\n".join(dict.fromkeys(existing + lines)) + "\n", mode=0o600)
    return server_from(record)
