"""The private Docker engine: its command as data, and a real dockerd started, used and
stopped by pid; containers come from the locally imported busybox base image."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from pilot_tui.runner import pid_alive
from tests.support import dockerd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_is_data():
    command = dockerd.dockerd_command(Path("/tmp/pd-x"), "/usr/sbin/dockerd")
    assert command.argv == (
        "/usr/sbin/dockerd", "--config-file=/tmp/pd-x/daemon.json",
        "--iptables=false", "--ip6tables=false", "--bridge=none",
        "-H", "unix:///tmp/pd-x/docker.sock", "--data-root", "/tmp/pd-x/data",
        "--exec-root", "/tmp/pd-x/exec", "--pidfile", "/tmp/pd-x/dockerd.pid",
    )  # fmt: skip
    engine = dockerd.Engine(1, Path("/tmp/pd-x"))
    assert engine.url == "unix:///tmp/pd-x/docker.sock"


def test_a_bridged_command_and_its_bridge_are_data():
    bridge = dockerd.Bridge(7)
    command = dockerd.dockerd_command(Path("/tmp/pd-x"), "/usr/sbin/dockerd", bridge=bridge)
    assert command.argv[2:6] == (
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=pilotbr7",
        "--default-address-pool",
    )
    assert command.argv[6] == "base=172.30.7.0/24,size=27"
    assert [c.argv for c in bridge.create()] == [
        ("ip", "link", "add", "pilotbr7", "type", "bridge"),
        ("ip", "addr", "add", "172.31.7.1/24", "dev", "pilotbr7"),
        ("ip", "link", "set", "pilotbr7", "up"),
    ]
    assert bridge.delete().argv == ("ip", "link", "delete", "pilotbr7", "type", "bridge")


def interfaces() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_bridged_engines_get_their_own_bridge_networks_dns_and_ports(own_root, tmp_path):
    """Two engines at once (several test sessions may run here) on bridges of their own:
    a user-defined network, a container reached by name from another, a port published on
    127.0.0.1 (with iptables off: dockerd's userland proxy), and nothing left after stop."""
    import docker

    other_root = Path(str(own_root) + "b")
    first = dockerd.start(own_root)
    second = dockerd.start(other_root)
    try:
        assert first.bridge and second.bridge and first.bridge.slot != second.bridge.slot
        assert {first.bridge.name, second.bridge.name} <= interfaces()
        dockerd.import_base_image(first)
        client = docker.DockerClient(base_url=first.url)
        try:
            network = client.networks.create("pilot", driver="bridge")
            (pool,) = network.attrs["IPAM"]["Config"]
            assert pool["Subnet"].startswith(f"172.30.{first.bridge.slot}.")
            client.containers.run(
                dockerd.BASE_IMAGE,
                ["sh", "-c", "echo by-name > /i; httpd -f -p 8080 -h /"],
                name="app",
                network="pilot",
                detach=True,
            )
            port = free_port()
            client.containers.run(
                dockerd.BASE_IMAGE,
                ["sh", "-c", "echo published > /i; httpd -f -p 80 -h /"],
                name="front",
                network="pilot",
                ports={"80/tcp": ("127.0.0.1", port)},
                detach=True,
            )
            deadline = time.monotonic() + 10
            while True:
                answer = client.containers.get("front").exec_run(
                    ["wget", "-qO-", "http://app:8080/i"]
                )
                if answer.exit_code == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert answer.output == b"by-name\n"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/i", timeout=5) as reply:
                assert reply.read() == b"published\n"
        finally:
            client.close()
    finally:
        dockerd.stop(first)
        dockerd.stop(second)
        import shutil

        shutil.rmtree(other_root, ignore_errors=True)
    assert first.bridge.name not in interfaces() and second.bridge.name not in interfaces()
    assert not [
        n
        for n, net in dockerd._addresses()
        if net.subnet_of(first.bridge.pool) or net.subnet_of(second.bridge.pool)
    ]


def test_a_root_too_long_for_unix_sockets_is_refused():
    with pytest.raises(dockerd.DockerdError, match=r"too long.*short root"):
        dockerd.dockerd_command(Path("/tmp") / ("x" * 80))


def test_a_missing_dockerd_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(dockerd.DockerdError, match=r"apt-get install docker\.io"):
        dockerd.start(tmp_path / "engine")


def test_the_base_image_is_a_static_busybox_with_its_applets():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(dockerd.busybox_rootfs_tar())) as tar:
        members = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile(members["etc/passwd"]).read()
    assert members["bin/busybox"].isfile() and members["bin/sh"].linkname == "busybox"
    assert members["bin/httpd"].issym() and members["tmp"].mode == 0o1777
    assert b"root:x:0:0:" in passwd and b"nobody:x:65534:" in passwd


def test_the_engine_answers(docker_engine, docker_client):
    assert docker_engine.alive() and dockerd.ping(docker_engine.socket)
    assert docker_client.version()["ApiVersion"]
    assert docker_client.images.get(dockerd.BASE_IMAGE).id == dockerd.import_base_image(
        docker_engine
    )  # a second import is a no-op


def test_a_built_image_serves_a_file_over_http(docker_client, tmp_path):
    (tmp_path / "index.html").write_text("hello from pilot\n")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {dockerd.BASE_IMAGE}\nCOPY index.html /www/index.html\n"
    )
    image, _ = docker_client.images.build(path=str(tmp_path), tag="pilot-test/www:1", rm=True)
    port = free_port()
    container = docker_client.containers.run(
        image.id,
        ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
        network_mode="host",
        detach=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/index.html", timeout=2
                ) as reply:
                    assert reply.read() == b"hello from pilot\n"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        container.remove(force=True)


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed container process waits for PID 1 to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def leftovers(root: Path) -> list[str]:
    """Processes and mounts that still name ``root``."""
    argvs = [argv for _, argv in dockerd._processes().values() if str(root) in argv]
    mounts = [
        line for line in Path("/proc/self/mounts").read_text().splitlines() if str(root) in line
    ]
    return argvs + mounts


def test_stop_leaves_nothing_running_or_mounted(own_root):
    engine = dockerd.start(own_root)
    assert dockerd.ping(engine.socket)
    dockerd.stop(engine)
    assert not pid_alive(engine.pid) and not dockerd.ping(engine.socket)
    assert leftovers(own_root) == []


def test_stop_after_dockerd_died_still_removes_containerd_and_containers(own_root):
    import docker

    engine = dockerd.start(own_root)
    dockerd.import_base_image(engine)
    client = docker.DockerClient(base_url=engine.url)
    shim_sockets = set(dockerd.SHIM_SOCKETS.glob("*"))  # a shim's socket is not under the root
    container = client.containers.run(
        dockerd.BASE_IMAGE, ["sleep", "600"], network_mode="host", detach=True
    )
    container.reload()
    sleeper = container.attrs["State"]["Pid"]
    client.close()
    os.kill(engine.pid, signal.SIGKILL)  # a crash: containerd, shim and container live on
    assert running(sleeper) and any("containerd" in argv for argv in leftovers(own_root))
    dockerd.stop(engine)
    deadline = time.monotonic() + 5
    while running(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(sleeper)
    assert leftovers(own_root) == []
    assert set(dockerd.SHIM_SOCKETS.glob("*")) <= shim_sockets
