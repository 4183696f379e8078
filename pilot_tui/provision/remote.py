"""Commands that reach the Pilot Server over SSH, as data (run by the one runner)."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.runner import Command


def ssh_options(key: Path, known_hosts: Path, port: int = 22) -> tuple[str, ...]:
    return (
        "-i",
        str(key),
        "-p",
        str(port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "ConnectTimeout=10",
    )


def ssh_run(
    host: str, user: str, key: Path, known_hosts: Path, script: str, port: int = 22
) -> Command:
    """Run ``script`` on the server with `sh -c`; its stdin is the command's input."""
    return Command(
        ("ssh", *ssh_options(key, known_hosts, port), f"{user}@{host}", "sh", "-c", _quote(script)),
        timeout=300,
    )


def _quote(script: str) -> str:
    # ssh joins its arguments into one remote command line; quote the script for the shell.
    return "'" + script.replace("'", "'\"'\"'") + "'"


def pin_host_key(
    host: str,
    user: str,
    key: Path,
    known_hosts: Path,
    port: int = 22,
    attempts: int = 30,
    delay: float = 10.0,
) -> bool:
    """Connect once right after provisioning so the server's host key is recorded in
    ``known_hosts`` while we know the machine is the one just made (later connections are
    then checked against it). Retries while the machine boots; False if it never answers."""
    import time

    from pilot_tui.runner import capture

    command = ssh_run(host, user, key, known_hosts, "true", port)
    for attempt in range(1, attempts + 1):
        if capture(command).returncode == 0:
            return True
        if attempt < attempts:
            time.sleep(delay)
    return False
