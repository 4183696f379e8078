"""Reaching a Docker engine that is not local, as on a real Pilot Server: over SSH (a
throwaway sshd on 127.0.0.1 forwarding the engine's socket) and over mutual TLS (a second
private dockerd listening with --tlsverify on 127.0.0.1). Wrong keys and certificates fail."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pilot_tui.cloud.sandbox import free_port
from pilot_tui.deploy.host import HostError, connect, parse_host
from pilot_tui.provision.keys import KEY_NAME, server_key
from pilot_tui.provision.tls import ensure_tls
from tests.support import dockerd


def ssh_url(sshd, engine) -> str:
    return f"ssh://{sshd['user']}@127.0.0.1:{sshd['port']}{engine.socket}"


def pilot_keys(state, sshd) -> None:
    """What provisioning leaves in .pilot/keys: Pilot's key and the pinned host key."""
    keys = state / "keys"
    keys.mkdir(parents=True)
    shutil.copy(sshd["key"], keys / KEY_NAME)
    (keys / KEY_NAME).chmod(0o600)


def test_docker_over_ssh_forwards_the_engine_socket(sshd, docker_engine, tmp_path):
    state = tmp_path / ".pilot"
    pilot_keys(state, sshd)
    target = parse_host(ssh_url(sshd, docker_engine), state)
    assert target.kind == "ssh" and target.remote_socket == str(docker_engine.socket)
    with connect(target, state / "run") as client:
        assert client.version()["ApiVersion"]
        assert any("pilot/busybox:latest" in image.tags for image in client.images.list())
        tunnels = list((state / "run").glob("docker-*.sock"))
        assert tunnels  # the forwarded socket, private to this project
    # The ssh tunnel lives exactly as long as the connection.
    assert subprocess.run(["pgrep", "-f", str(tunnels[0])], capture_output=True).returncode == 1
    assert " ssh-ed25519 " in (state / "keys" / "known_hosts").read_text()  # host key pinned


def test_docker_over_ssh_with_a_key_the_host_does_not_know_is_refused(
    sshd, docker_engine, tmp_path
):
    state = tmp_path / ".pilot"
    server_key(state / "keys", "stranger")  # a key the sshd has never seen
    target = parse_host(ssh_url(sshd, docker_engine), state)
    with pytest.raises(HostError, match="ssh could not forward"), connect(target, state / "run"):
        pass


@pytest.fixture
def tls_engine(own_root, tmp_path):
    """A private dockerd that also listens with mutual TLS on 127.0.0.1."""
    files = ensure_tls(tmp_path / "server-tls", "acme", ["127.0.0.1"])
    port = free_port()
    engine = dockerd.start(
        own_root,
        extra=dockerd.tls_listen(
            f"127.0.0.1:{port}", files.ca_cert, files.server_cert, files.server_key
        ),
    )
    try:
        yield port, files
    finally:
        dockerd.stop(engine)


def test_docker_over_mutual_tls(tls_engine, tmp_path):
    port, files = tls_engine
    state = tmp_path / ".pilot"
    (state / "keys").mkdir(parents=True)
    shutil.copytree(files.directory, state / "keys" / "tls")  # what provisioning leaves
    for url in (
        f"tcps://127.0.0.1:{port}",  # how server.host names it
        f"tcp://127.0.0.1:{port}",
    ):  # how the server's Terraform outputs name it
        target = parse_host(url, state)
        assert target.kind == "tls"
        with connect(target, state / "run") as client:
            assert client.version()["ApiVersion"]


def test_mutual_tls_refuses_a_client_certificate_from_another_ca(tls_engine, tmp_path):
    port, _ = tls_engine
    state = tmp_path / ".pilot"
    ensure_tls(state / "keys" / "tls", "intruder", ["127.0.0.1"])  # its own CA: not trusted
    target = parse_host(f"tcp://127.0.0.1:{port}", state)
    with pytest.raises(HostError, match="TLS handshake failed"), connect(target, state / "run"):
        pass


def test_plain_tcp_even_on_2376_is_refused_without_certificates(tmp_path):
    with pytest.raises(HostError, match="controls the host as root"):
        parse_host("tcp://127.0.0.1:2376", tmp_path / ".pilot")
