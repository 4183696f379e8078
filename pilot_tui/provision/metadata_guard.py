"""The Pilot Server's metadata guard: the apps' containers never reach the cloud's metadata
service, where the server's own credentials are (the backup agent's grants on the state
bucket, its Cloud Run listing). Without it any app on the server could take them and read
or delete every database's backups.

An iptables rule in Docker's DOCKER-USER chain rejects the containers' traffic to
169.254.169.254; the host's own network (where Pilot's agent runs, scheduling.py) is
spared. A systemd drop-in puts the rule back each time Docker starts (Docker keeps the
chain's rules while it runs). `server up` installs both over SSH after every apply, so a
server made by an earlier Pilot gets them too: nothing is put in cloud-init, whose change
would make Terraform replace the server (and the data on it).

Commands as data: ``install_script`` is run by provision/server_setup.py through
remote.ssh_run."""

from __future__ import annotations

import base64

METADATA = "169.254.169.254"  # AWS's IMDS and Google's metadata server alike
GUARD_PATH = "/usr/local/sbin/pilot-metadata-guard"
DROP_IN_PATH = "/etc/systemd/system/docker.service.d/pilot-metadata.conf"
GUARD = f"""#!/bin/sh
# Pilot: the apps' containers never reach the cloud's metadata service ({METADATA}).
# Docker takes DOCKER-USER as it finds it (and jumps to it from FORWARD).
iptables -N DOCKER-USER 2>/dev/null
iptables -C DOCKER-USER -d {METADATA}/32 -j REJECT 2>/dev/null ||
  iptables -I DOCKER-USER -d {METADATA}/32 -j REJECT
"""
DROP_IN = f"""# Pilot: the metadata guard put back each time Docker starts.
[Service]
ExecStartPost={GUARD_PATH}
"""
# What the script prints for each backup agent not on the host's network (an agent made
# by an earlier Pilot): the guard keeps it from the credentials its backups need.
AGENT_LINE = "pilot-agent-network"


def install_script(root: str = "", *, sudo: bool = True, apply: bool = True) -> str:
    """The shell run on the server: wait for cloud-init (Docker comes with it), write the
    guard and Docker's drop-in under ``root``, and with ``apply`` reload systemd and run
    the guard now; then name each backup agent whose network is not the host's."""
    s = "sudo " if sudo else ""
    steps = [
        "set -e",
        "if command -v cloud-init >/dev/null; then " + s + "cloud-init status --wait >/dev/null"
        " || true; fi",
    ]
    for path, text, mode in ((GUARD_PATH, GUARD, "0755"), (DROP_IN_PATH, DROP_IN, "0644")):
        where = f"{root}{path}"
        encoded = base64.b64encode(text.encode()).decode()
        steps += [
            f"{s}install -d -m 0755 {where.rpartition('/')[0]}",
            f"echo {encoded} | base64 -d | {s}tee {where} >/dev/null",
            f"{s}chmod {mode} {where}",
        ]
    if apply:
        steps += [f"{s}systemctl daemon-reload", f"{s}{GUARD_PATH}"]
    steps.append(
        "if command -v docker >/dev/null; then docker ps --filter name=pilot-backups- "
        "--format '{{.Names}} {{.Networks}}' 2>/dev/null | while read -r name network; do "
        f'[ "$network" = host ] || echo "{AGENT_LINE} $name $network"; done; fi'
    )
    return "; ".join(steps)


def agents_off_host(output: str) -> list[str]:
    """The backup agents the script found on a network other than the host's."""
    return [
        line.split()[1]
        for line in output.splitlines()
        if line.startswith(f"{AGENT_LINE} ") and len(line.split()) >= 2
    ]
