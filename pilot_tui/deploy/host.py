"""Which Docker engine a deploy talks to, and how: SSH, mutual TLS, or a local socket.

- `server.home = "aws" | "gcp"`: the provisioned server, from .pilot/outputs, over SSH (a
  forwarded socket through `ssh -L`, host key pinned in .pilot/keys/known_hosts) or over
  mutual TLS on 2376 with the certificates in .pilot/keys/tls.
- `server.home = "host"`: `server.host` names it: ssh://user@host[:port][/socket/path],
  unix:///path, or tcps://host:2376 when .pilot/keys/tls holds client certificates.
- Plain TCP without TLS is refused: anyone who can reach it is root on the host.
"""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import PilotError
from pilot_tui.provision.keys import KEY_NAME
from pilot_tui.provision.remote import ssh_options
from pilot_tui.runner import Command, RunnerError, spawn_daemon, stop_pid

if TYPE_CHECKING:
    from docker import DockerClient

SERVER_SOCKET = "/var/run/docker.sock"  # the engine's socket on a Pilot Server
TLS_API_VERSION = "1.41"  # Docker 20.10; every later engine still accepts it


class HostError(PilotError):
    """The Docker engine cannot be named or reached; the message says why and what to do."""

    title = "Docker host unreachable"


@dataclass(frozen=True)
class DockerTarget:
    """How to reach one Docker engine. ``address`` is what people see (no secrets)."""

    kind: str  # "unix" | "ssh" | "tls"
    address: str
    socket: Path | None = None  # unix
    user: str | None = None  # ssh
    host: str | None = None  # ssh, tls
    port: int | None = None  # ssh, tls
    key: Path | None = None  # ssh private key
    known_hosts: Path | None = None
    tls_dir: Path | None = None  # ca.pem, cert.pem, key.pem
    remote_socket: str = "/var/run/docker.sock"  # ssh: the engine's socket on the host
    # This process runs on the engine's host (the CI worker's container on the Pilot
    # Server): its socket, with ``host`` the address the server is reached at.
    on_server: bool = False

    @property
    def local(self) -> bool:
        """The engine runs on this machine, and no other reaches it: apps are served on
        127.0.0.1 only."""
        return self.kind == "unix" and self.host is None

    @property
    def socket_on_host(self) -> str:
        """The engine's socket on its own host, mounted into the containers Pilot runs
        beside the apps (the backup agent, the CI worker)."""
        if self.kind == "unix" and self.socket is not None:
            return str(self.socket)
        if self.kind == "ssh":
            return self.remote_socket
        return SERVER_SOCKET  # mutual TLS: the engine's usual socket beside its TCP port


def parse_host(url: str, state_dir: Path) -> DockerTarget:
    """A DockerTarget from a DOCKER_HOST-style URL; refuses plain TCP."""
    parts = urllib.parse.urlsplit(url)
    keys = state_dir / "keys"
    if parts.scheme == "unix":
        return DockerTarget("unix", url, socket=Path(parts.path))
    if parts.scheme == "ssh":
        if not parts.hostname:
            raise HostError(f"{url}: no host name (expected ssh://user@host[:port])")
        key = keys / KEY_NAME if (keys / KEY_NAME).exists() else None
        return DockerTarget(
            "ssh",
            url,
            user=parts.username or "root",
            host=parts.hostname,
            port=parts.port or 22,
            key=key,
            known_hosts=keys / "known_hosts",
            remote_socket=parts.path or "/var/run/docker.sock",
        )
    if parts.scheme in ("tcps", "tcp", "https"):  # tcps:// in server.host; tcp:// in outputs
        tls = keys / "tls"
        if not parts.hostname:
            raise HostError(f"{url}: no host name")
        if not (tls / "cert.pem").exists():
            raise HostError(
                f"{url} is plain TCP: anyone who can reach that port controls the host as "
                "root, so Pilot refuses it. Use ssh://user@host, or mutual TLS (server."
                'docker_access = "mtls" creates the certificates in .pilot/keys/tls).'
            )
        return DockerTarget("tls", url, host=parts.hostname, port=parts.port or 2376, tls_dir=tls)
    raise HostError(f"{url}: expected ssh://user@host, unix:///path or tcps://host:2376 (TLS)")


def target_for(config: PilotConfig, state_dir: Path, saved: dict[str, Any]) -> DockerTarget:
    """The engine this project deploys to (``saved`` is the server's record in .pilot)."""
    home = config.server.home
    if home == "host":
        if not config.server.host:
            raise HostError(
                'server.home = "host" needs server.host, e.g. '
                '"ssh://deploy@build.example.com" or "unix:///var/run/docker.sock"'
            )
        return parse_host(config.server.host, state_dir)
    if home == "sandbox":
        return sandbox_engine()
    outputs = saved.get("outputs", {})
    if not outputs.get("docker_host"):
        raise HostError(
            "no Pilot Server is recorded for this project (its Docker engine builds the "
            "apps' images, a Cloud Run, ECS or Lambda image app's too): create it with "
            "`pilot-tui server up` (or the app's Server screen)"
        )
    return parse_host(str(outputs["docker_host"]), state_dir)


def server_own_engine(saved: dict[str, Any]) -> DockerTarget:
    """The Pilot Server's engine, from a process on the server itself (the CI worker's
    container, the engine's socket mounted at the usual path): that socket, and the
    address the server's record reaches it at, so apps are served and named as a
    deploy from outside would (APP.<address>.sslip.io, on every interface). A record
    naming a local socket keeps them on 127.0.0.1, as a deploy from this machine does."""
    recorded = str(saved.get("outputs", {}).get("docker_host") or "")
    parts = urllib.parse.urlsplit(recorded)
    address = parts.hostname if parts.scheme in ("ssh", "tcp", "tcps", "https") else None
    return DockerTarget(
        "unix",
        f"unix://{SERVER_SOCKET}",
        socket=Path(SERVER_SOCKET),
        host=address,
        on_server=True,
    )


def sandbox_docker_url(env: dict[str, str] | None = None) -> str:
    """The engine the sandbox deploys apps to: $DOCKER_HOST, else the usual socket."""
    import os

    return (os.environ if env is None else env).get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def sandbox_engine(env: dict[str, str] | None = None) -> DockerTarget:
    """In the sandbox, apps run on this machine's Docker: $DOCKER_HOST when it is a local
    socket, else the usual /var/run/docker.sock, if an engine answers there."""
    url = sandbox_docker_url(env)
    return _local_engine(
        url,
        f"the sandbox deploys apps on this machine's Docker, and no engine answers "
        f"at {url}: start Docker (or point DOCKER_HOST at its socket), or deploy "
        "to another host: pilot-tui config set server.host ssh://user@host && "
        "pilot-tui config set server.home host",
    )


def runner_engine(env: dict[str, str] | None = None) -> DockerTarget:
    """In a CI run, the images of the apps it deploys are built on the runner's own Docker
    engine ($DOCKER_HOST when it is a local socket, else /var/run/docker.sock): a runner
    reaches no Pilot Server (no SSH key or certificate, and not in allowed_cidrs)."""
    url = sandbox_docker_url(env)
    answer = f"none answers at {url}" if url.startswith("unix://") else f"{url} is not one"
    return _local_engine(
        url,
        f"a CI run builds the apps' images on the runner's own Docker engine (a local "
        f"socket, unix://), and {answer}: run the job on a runner with Docker (GitHub's "
        "ubuntu-latest has it), or point DOCKER_HOST at its socket",
    )


def _local_engine(url: str, refusal: str) -> DockerTarget:
    from pilot_tui.dockerd import ping

    if url.startswith("unix://") and ping(Path(url.removeprefix("unix://"))):
        return DockerTarget("unix", url, socket=Path(url.removeprefix("unix://")))
    raise HostError(refusal)


def tunnel_socket(target: DockerTarget, runtime_dir: Path) -> Path:
    return runtime_dir / f"docker-{target.host}.sock"


def docker_env(target: DockerTarget, runtime_dir: Path) -> dict[str, str]:
    """DOCKER_* variables that point a Docker CLI tool (`pack`) at the same engine, through
    the same tunnel or certificates, while a connection is open."""
    if target.kind == "unix":
        return {"DOCKER_HOST": target.address}
    if target.kind == "ssh":
        return {"DOCKER_HOST": f"unix://{tunnel_socket(target, runtime_dir)}"}
    assert target.tls_dir is not None
    return {
        "DOCKER_HOST": f"tcp://{target.host}:{target.port}",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(target.tls_dir),
    }


def tunnel_command(target: DockerTarget, local: Path) -> Command:
    """`ssh -N -L local.sock:/var/run/docker.sock`: the engine's socket, forwarded."""
    assert target.host and target.user and target.known_hosts
    options = (
        list(ssh_options(target.key, target.known_hosts, target.port or 22))
        if target.key
        else [
            "-p",
            str(target.port or 22),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={target.known_hosts}",
            "-o",
            "StrictHostKeyChecking=accept-new",
        ]
    )
    return Command(
        (
            "ssh",
            *options,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "StreamLocalBindUnlink=yes",
            "-o",
            "ServerAliveInterval=15",
            "-L",
            f"{local}:{target.remote_socket}",
            f"{target.user}@{target.host}",
        )
    )


def _wait_socket(path: Path, pid: int, log: Path, timeout: float = 20.0) -> None:
    from pilot_tui.runner import pid_alive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(path))
                return
        if not pid_alive(pid):
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise HostError(
                "ssh could not forward the Docker socket: " + (" / ".join(tail) or "it exited")
            )
        time.sleep(0.05)
    raise HostError(f"ssh did not forward the Docker socket within {timeout:.0f}s")


@contextlib.contextmanager
def connect(target: DockerTarget, runtime_dir: Path) -> Iterator[DockerClient]:
    """A docker SDK client for ``target``; an SSH tunnel lives exactly as long as it."""
    import docker
    from docker.errors import DockerException

    tunnel_pid = None
    try:
        if target.kind == "unix":
            url, tls = target.address, None
        elif target.kind == "tls":
            assert target.tls_dir is not None
            d = target.tls_dir
            tls = docker.tls.TLSConfig(
                client_cert=(str(d / "cert.pem"), str(d / "key.pem")),
                ca_cert=str(d / "ca.pem"),
                verify=True,
            )
            url = f"https://{target.host}:{target.port}"
        else:
            runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            local = tunnel_socket(target, runtime_dir)
            log = runtime_dir / "ssh-tunnel.log"
            try:
                tunnel_pid = spawn_daemon(tunnel_command(target, local), log)
            except RunnerError as exc:
                raise HostError(f"{exc}; install an OpenSSH client") from exc
            _wait_socket(local, tunnel_pid, log)
            url, tls = f"unix://{local}", None
        try:
            if tls is None:
                client = docker.DockerClient(base_url=url, timeout=120)  # asks /version
            else:
                # requests would verify against $REQUESTS_CA_BUNDLE instead of our CA when
                # that is set (common behind corporate proxies): turn the environment off
                # before the first request, so the API version is fixed, not negotiated.
                client = docker.DockerClient(
                    base_url=url, tls=tls, timeout=120, version=TLS_API_VERSION
                )
                client.api.trust_env = False
            client.ping()
        except (DockerException, OSError) as exc:
            raise HostError(
                f"cannot reach the Docker engine at {target.address}: {_reason(exc)}"
            ) from exc
        try:
            yield client
        finally:
            client.close()
    finally:
        if tunnel_pid is not None:
            stop_pid(tunnel_pid)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
        return "the TLS handshake failed (a certificate this server does not trust?)"
    if "Connection refused" in text or "No such file" in text:
        return "nothing answers there (is Docker running?)"
    return redact.clip(text, 200)
