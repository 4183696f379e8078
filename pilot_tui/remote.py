"""Commands that reach the Pilot Server over SSH, as data (run by the one runner)."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.runner import Command


def ssh_options(key: Path, known_hosts: Path, port: int = 22) -> tuple[str, ...]:
    return (
        "-i", str(key), "-p", str(port), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new",
        "-o", "ConnectTimeout=10",
    )


def ssh_run(host: str, user: str, key: Path, known_hosts: Path, script: str,
            port: int = 22) -> Command:
    """Run ``script`` on the server with `sh -c`; its stdin is the command's input."""
    return Command(("ssh", *ssh_options(key, known_hosts, port), f"{user}@{host}",
                    "sh", "-c", _quote(script)), timeout=300)


def _quote(script: str) -> str:
    # ssh joins its arguments into one remote command line; quote the script for the shell.
    return "'" + script.replace("'", "'\"'\"'") + "'"
