"""What setup does once Terraform has made the server: pin its SSH host key, install
Docker's TLS certificate (docker_access = "mtls"), keep the apps' containers from the
cloud's metadata service (metadata_guard.py), and make the least-privilege identity
deploys use. Each step reports through the server's events like the Terraform run."""

from __future__ import annotations

from typing import Any, Protocol

from pilot_tui import redact
from pilot_tui.config.schema import PilotConfig
from pilot_tui.project import Project
from pilot_tui.provision.progress import Note, OnEvent, ServerError, Stage
from pilot_tui.provision.tls import ensure_tls
from pilot_tui.runner import Completed

SSH_FAILED = 255  # ssh's own exit status: no connection, refused key (the script's are others)


class Server(Protocol):
    """What setup's steps use of server.Server (which calls them after an apply)."""

    project: Project
    config: PilotConfig
    on_event: OnEvent

    @property
    def home(self) -> str: ...


async def after_apply(server: Server, outputs: dict[str, Any]) -> None:
    await pin_host_key(server, outputs)
    await deliver_tls(server, outputs)
    await guard_metadata(server, outputs)
    await ensure_deployer(server)


async def ensure_deployer(server: Server) -> None:
    """Make the least-privilege identities deploys use (an AWS IAM user, a GCP service
    account), with the admin's credentials setup runs with. A failure is a warning: the
    server is up, and `pilot-tui deployer create --cloud CLOUD` can be run again."""
    import asyncio

    from pilot_tui.cloud import identity_aws as identity
    from pilot_tui.cloud import identity_gcp

    config, state_dir = server.config, server.project.state_dir
    steps = []
    if identity.wants_aws_deployer(config):
        steps.append(
            (
                "aws",
                identity.KEY_FILE,
                lambda: identity.setup_aws_deployer(
                    config, state_dir, sandbox=server.home == "sandbox"
                ),
            )
        )
    if identity_gcp.wants_gcp_deployer(config) and server.home != "sandbox":
        steps.append(
            (
                "gcp",
                identity_gcp.KEY_FILE,
                lambda: identity_gcp.setup_gcp_deployer(config, server.project.root, state_dir),
            )
        )
    for cloud, key_file, make in steps:
        server.on_event(
            Stage("deployer", f"the {cloud.upper()} identity deploys use (least privilege)")
        )
        try:
            who, key = await asyncio.to_thread(make)
        except Exception as exc:  # the cloud said no: not allowed to create users, ...
            why = redact.clip(str(exc), 200)
            server.on_event(
                Note(
                    f"the {cloud.upper()} deployer was not made ({why}); deploys "
                    "use your own credentials until `pilot-tui deployer create "
                    f"--cloud {cloud}` succeeds",
                    "warning",
                )
            )
            continue
        stored = f"; its key is in .pilot/keys/{key_file} (0600)" if key else ""
        server.on_event(Note(f"deploys use {who}{stored}"))


async def pin_host_key(server: Server, outputs: dict[str, Any]) -> None:
    """Record the new server's SSH host key now, while it is known to be ours."""
    if server.home == "sandbox" or "public_ip" not in outputs:
        return
    import asyncio

    from pilot_tui.provision.keys import KEY_NAME
    from pilot_tui.provision.remote import pin_host_key

    keys = server.project.state_dir / "keys"
    server.on_event(Stage("host key", "recording the server's SSH host key"))
    pinned = await asyncio.to_thread(
        pin_host_key,
        outputs["public_ip"],
        outputs.get("ssh_user", "ubuntu"),
        keys / KEY_NAME,
        keys / "known_hosts",
    )
    if not pinned:
        server.on_event(
            Note(
                "the server did not answer SSH yet; its host key will be "
                "recorded on the first connection",
                "warning",
            )
        )


async def deliver_tls(
    server: Server, outputs: dict[str, Any], attempts: int = 30, delay: float = 10.0
) -> None:
    """With docker_access = "mtls": make the certificates for the server's address and
    copy the server's half over SSH (on stdin), then restart Docker with --tlsverify."""
    if server.config.server.docker_access != "mtls" or "public_ip" not in outputs:
        return
    from pilot_tui.provision.tls import install_script, server_bundle

    keys = server.project.state_dir / "keys"
    files = ensure_tls(keys / "tls", server.config.project.name, [outputs["public_ip"]])
    if server.home == "sandbox":
        server.on_event(
            Note(
                f"Docker TLS certificates are in {files.directory}; the sandbox "
                "has no machine to install them on"
            )
        )
        return
    server.on_event(Stage("tls", "installing Docker's TLS certificate on the server"))
    done = await _over_ssh(server, outputs, install_script(), server_bundle(files), attempts, delay)
    if done.returncode == 0:
        server.on_event(
            Note(
                "Docker now accepts only this project's client "
                f"certificate on {outputs['public_ip']}:2376"
            )
        )
        return
    raise ServerError(
        f"could not install the TLS certificate over SSH: "
        f"{redact.text(done.stderr.strip())[-300:]}; run `pilot-tui server "
        "up` again once the server accepts SSH"
    )


async def guard_metadata(
    server: Server, outputs: dict[str, Any], attempts: int = 30, delay: float = 10.0
) -> None:
    """Install the metadata guard over SSH (after every apply: a server an earlier Pilot
    made gets it too). A failure is a warning naming what to run: the server is made."""
    if server.home == "sandbox" or "public_ip" not in outputs:
        return
    from pilot_tui.provision import metadata_guard

    server.on_event(
        Stage("metadata guard", "keeping the apps' containers from the cloud's metadata service")
    )
    script = metadata_guard.install_script()
    done = await _over_ssh(server, outputs, script, None, attempts, delay, unreachable_only=True)
    if done.returncode != 0:
        why = redact.text(done.stderr.strip())[-200:] or f"exit {done.returncode}"
        server.on_event(
            Note(
                "the apps' containers may still reach the cloud's metadata service (and the "
                f"server's credentials): the guard was not installed over SSH ({why}); run "
                "`pilot-tui server up` again once the server accepts SSH",
                "warning",
            )
        )
        return
    server.on_event(Note("the apps' containers cannot reach the cloud's metadata service"))
    for agent in metadata_guard.agents_off_host(done.stdout):
        server.on_event(
            Note(
                f"the backup agent {agent} still runs on a container network, where the "
                "server's credentials no longer reach it: `pilot-tui db schedule` moves it "
                "to the host's network (until then its backups to the bucket fail)",
                "warning",
            )
        )


async def _over_ssh(
    server: Server,
    outputs: dict[str, Any],
    script: str,
    stdin: str | None,
    attempts: int,
    delay: float,
    *,
    unreachable_only: bool = False,
) -> Completed:
    """``script`` run on the server over SSH until it succeeds or ``attempts`` ran out (the
    machine may still be booting); the last run. ``unreachable_only``: tried again only
    while SSH itself fails (exit 255), not when the script does (it would fail again)."""
    import asyncio

    from pilot_tui.provision.keys import KEY_NAME
    from pilot_tui.provision.remote import ssh_run
    from pilot_tui.runner import capture

    keys = server.project.state_dir / "keys"
    command = ssh_run(
        outputs["public_ip"],
        outputs.get("ssh_user", "ubuntu"),
        keys / KEY_NAME,
        keys / "known_hosts",
        script,
    )
    for attempt in range(1, attempts + 1):
        done = await asyncio.to_thread(capture, command, stdin)
        failed_itself = unreachable_only and done.returncode != SSH_FAILED
        if done.returncode == 0 or failed_itself or attempt == attempts:
            return done
        await asyncio.sleep(delay)
    raise ValueError(f"attempts must be 1 or more, not {attempts}")
