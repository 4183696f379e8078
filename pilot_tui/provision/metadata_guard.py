"""The Pilot Server's metadata guard: the apps' containers never reach the cloud's metadata
service, where the server's own credentials are (the backup agent's grants on the state
bucket, its Cloud Run listing). Without it any app on the server could take them and read
or delete every database's backups.

An iptables rule in Docker's DOCKER-USER chain rejects the containers' traffic to
169.254.169.254 (but DNS, which Google's metadata server answers too); the host's own
network (where Pilot's agent runs, scheduling.py) is spared. A systemd drop-in puts the
rules back before each start of Docker (Docker keeps the chain's rules while it runs).
`server up` installs both over SSH after every apply, so a server made by an earlier Pilot
gets them too: nothing is put in cloud-init, whose change would make Terraform replace the
server (and the data on it). A site's build command runs on Docker's bridge there too
(site_builder.builder_network).

Commands as data: ``install_script`` is run by provision/server_setup.py through
remote.ssh_run."""

from __future__ import annotations

import base64

METADATA = "169.254.169.254"  # AWS's IMDS and Google's metadata server alike
GUARD_PATH = "/usr/local/sbin/pilot-metadata-guard"
DROP_IN_PATH = "/etc/systemd/system/docker.service.d/pilot-metadata.conf"
GUARD = f"""#!/bin/sh
# Pilot: the apps' containers never reach the cloud's metadata service ({METADATA}), but
# for DNS (port 53), which Google's metadata server also answers as each VM's resolver.
# Docker takes DOCKER-USER as it finds it (it only adds its RETURN and the jump to it).
meta={METADATA}/32
iptables -w -N DOCKER-USER 2>/dev/null
if iptables -w -C DOCKER-USER -d $meta -p tcp --dport 53 -j RETURN 2>/dev/null &&
  iptables -w -C DOCKER-USER -d $meta -p udp --dport 53 -j RETURN 2>/dev/null &&
  iptables -w -C DOCKER-USER -d $meta -j REJECT 2>/dev/null; then
  exit 0
fi
# Some missing: all three again, in this order (DNS first), at the chain's top.
for rule in "-p tcp --dport 53 -j RETURN" "-p udp --dport 53 -j RETURN" "-j REJECT"; do
  while iptables -w -D DOCKER-USER -d $meta $rule 2>/dev/null; do :; done
done
iptables -w -I DOCKER-USER -d $meta -j REJECT
iptables -w -I DOCKER-USER -d $meta -p udp --dport 53 -j RETURN
iptables -w -I DOCKER-USER -d $meta -p tcp --dport 53 -j RETURN
"""
# Before Docker starts (it restores containers before it says it is ready); "-": a guard
# that fails never keeps Docker, and every app, down (`server up` says whether it holds).
DROP_IN = f"""# Pilot: the metadata guard, in place before Docker starts its containers.
[Service]
ExecStartPre=-{GUARD_PATH}
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
        f"if command -v docker >/dev/null; then {s}docker ps --filter name=pilot-backups- "
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
