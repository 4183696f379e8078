"""The Pilot Server's metadata guard (provision/metadata_guard.py): the apps' containers
are refused the cloud's metadata service, the host's own network (the agent's) is not.

No cloud server exists here. The guard's rule runs for real with iptables in network
namespaces of the test's own, laid out as on a server; its installation runs for real over
SSH against a throwaway OpenSSH server on 127.0.0.1 (the conftest's sshd), into a folder of
the test's own instead of the server's root."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import time

import pytest

from pilot_tui.provision import metadata_guard
from pilot_tui.provision.remote import ssh_run
from pilot_tui.runner import capture


def test_the_guard_keeps_containers_from_the_metadata_service():
    """The guard `server up` installs, run for real with iptables in network namespaces of the
    test's own, laid out as on a Pilot Server: a container's namespace behind the host's
    (which forwards for it, its FORWARD chain jumping to DOCKER-USER as Docker's does), the
    cloud's metadata service one hop beyond. No cloud server exists here: the namespaces
    stand in for one, and the two HTTP servers in the metadata namespace are reachable from
    nowhere else. Before the guard the container reaches the metadata service; after it
    the container is refused at once while the host (the agent's network) still reaches it,
    and the container still reaches everything else, DNS at the metadata address included
    (Google's metadata server is each VM's resolver too: a UDP echo stands in for it). Run
    twice: the same three rules; run with one of them gone: all three again, in order."""
    if os.geteuid() != 0:
        reason = "network namespaces and iptables need root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    tag = f"pg{os.getpid() % 100000}"
    host, box, cloud = f"{tag}h", f"{tag}c", f"{tag}m"

    def sh(*argv: str, ns: str | None = None, check: bool = True):
        prefix = ["ip", "netns", "exec", ns] if ns else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=30)
        assert not check or done.returncode == 0, (argv, done.stderr)
        return done

    def fetch(ns: str, address: str) -> str:
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"    s = socket.create_connection(('{address}', 80), timeout=5)\n"
            "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(12).decode())\n"
            "except ConnectionRefusedError: print('refused')\n"
            "except OSError as e: print(type(e).__name__)\n"
        )
        return sh(sys.executable, "-c", probe, ns=ns).stdout.strip()

    def resolve(ns: str) -> str:
        """A datagram to port 53 of the metadata address: its echo, or why none came."""
        probe = (
            "import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)\n"
            "try:\n"
            "    s.sendto(b'query', ('169.254.169.254', 53)); print(s.recv(64).decode())\n"
            "except OSError as e: print(type(e).__name__)\n"
        )
        return sh(sys.executable, "-c", probe, ns=ns).stdout.strip()

    servers: list[subprocess.Popen[bytes]] = []
    try:
        for ns in (host, box, cloud):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        links = ((f"{tag}c0", box, f"{tag}h0"), (f"{tag}m0", cloud, f"{tag}h1"))
        for inside, there, outside in links:
            pair = ["type", "veth", "peer", outside, "netns", host]
            sh("ip", "link", "add", inside, "netns", there, *pair)
        for ns, link, address in (
            (box, f"{tag}c0", "10.253.0.2/24"),
            (host, f"{tag}h0", "10.253.0.1/24"),
            (host, f"{tag}h1", "169.254.0.1/16"),
            (cloud, f"{tag}m0", "169.254.169.254/16"),
        ):
            sh("ip", "addr", "add", address, "dev", link, ns=ns)
            sh("ip", "link", "set", link, "up", ns=ns)
        sh("ip", "addr", "add", "169.254.170.2/16", "dev", f"{tag}m0", ns=cloud)
        sh("ip", "route", "add", "default", "via", "10.253.0.1", ns=box)
        sh("ip", "route", "add", "10.253.0.0/24", "via", "169.254.0.1", ns=cloud)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=host)
        sh("iptables", "-N", "DOCKER-USER", ns=host)
        sh("iptables", "-A", "FORWARD", "-j", "DOCKER-USER", ns=host)
        for address in ("169.254.169.254", "169.254.170.2"):
            argv = [sys.executable, "-m", "http.server", "80", "--bind", address]
            servers.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", cloud, *argv],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        echo = (
            "import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('169.254.169.254', 53))\n"
            "while True:\n"
            "    data, peer = s.recvfrom(64); s.sendto(b'answer:' + data, peer)\n"
        )
        servers.append(
            subprocess.Popen(
                ["ip", "netns", "exec", cloud, sys.executable, "-c", echo],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 20
        while fetch(host, "169.254.170.2") != "HTTP/1.0 200" and time.monotonic() < deadline:
            time.sleep(0.2)
        while fetch(host, "169.254.169.254") != "HTTP/1.0 200" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fetch(box, "169.254.169.254") == "HTTP/1.0 200"  # unguarded: it gets there
        assert resolve(box) == "answer:query"

        def rules() -> list[str]:
            listed = sh("iptables", "-S", "DOCKER-USER", ns=host).stdout.split("\n")
            return [r for r in listed if r.startswith("-A")]

        guarded = [
            "-A DOCKER-USER -d 169.254.169.254/32 -p tcp -m tcp --dport 53 -j RETURN",
            "-A DOCKER-USER -d 169.254.169.254/32 -p udp -m udp --dport 53 -j RETURN",
            "-A DOCKER-USER -d 169.254.169.254/32 -j REJECT --reject-with icmp-port-unreachable",
        ]
        for _ in range(2):
            sh("sh", "-c", metadata_guard.GUARD, ns=host)
            assert rules() == guarded
        assert fetch(box, "169.254.169.254") == "refused"
        assert resolve(box) == "answer:query"  # DNS still answers
        assert fetch(host, "169.254.169.254") == "HTTP/1.0 200"  # the agent's network
        assert fetch(box, "169.254.170.2") == "HTTP/1.0 200"  # the rest still flows
        # a rule gone (by hand): the guard puts all three back, DNS above the refusal
        sh("iptables", "-D", "DOCKER-USER", *guarded[1].split()[2:], ns=host)
        sh("sh", "-c", metadata_guard.GUARD, ns=host)
        assert rules() == guarded
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        for ns in (host, box, cloud):
            sh("ip", "netns", "del", ns, check=False)


def test_the_guard_and_dockers_drop_in_land_over_ssh(sshd, tmp_path):
    root = tmp_path / "server"
    script = metadata_guard.install_script(str(root), sudo=False, apply=False)
    command = ssh_run(
        "127.0.0.1", sshd["user"], sshd["key"], sshd["known_hosts"], script, sshd["port"]
    )
    done = capture(command)
    assert done.returncode == 0, done.stderr
    guard = root / metadata_guard.GUARD_PATH.lstrip("/")
    drop_in = root / metadata_guard.DROP_IN_PATH.lstrip("/")
    assert guard.read_text() == metadata_guard.GUARD
    assert stat.S_IMODE(guard.stat().st_mode) == 0o755
    assert drop_in.read_text() == metadata_guard.DROP_IN
    assert stat.S_IMODE(drop_in.stat().st_mode) == 0o644
    # run again (every `server up` runs it): the same files, no error
    assert capture(command).returncode == 0 and guard.read_text() == metadata_guard.GUARD


def test_the_install_script_as_data():
    script = metadata_guard.install_script()
    assert script.startswith("set -e; ")
    assert "cloud-init status --wait" in script
    encoded = base64.b64encode(metadata_guard.GUARD.encode()).decode()
    assert f"echo {encoded} | base64 -d | sudo tee {metadata_guard.GUARD_PATH} >/dev/null" in script
    assert "sudo systemctl daemon-reload; sudo /usr/local/sbin/pilot-metadata-guard" in script
    # before Docker restores its containers; a guard that fails never keeps Docker down
    assert metadata_guard.DROP_IN.splitlines()[1:] == [
        "[Service]",
        "ExecStartPre=-/usr/local/sbin/pilot-metadata-guard",
    ]
    assert "sudo docker ps --filter name=pilot-backups-" in script
    said = "pilot-agent-network pilot-backups-acme bridge\nnoise\n"
    assert metadata_guard.agents_off_host(said) == ["pilot-backups-acme"]
    assert metadata_guard.agents_off_host("") == []


def test_a_server_ssh_cannot_reach_gets_a_warning_naming_what_to_run(tmp_path):
    """`server up` goes on when the guard cannot be installed (the server is made): it
    warns, naming the risk and the command to run again."""
    import asyncio
    from types import SimpleNamespace

    from pilot_tui.provision.keys import server_key
    from pilot_tui.provision.progress import Note
    from pilot_tui.provision.server_setup import guard_metadata

    keys = tmp_path / ".pilot" / "keys"
    server_key(keys, "acme")
    events: list[object] = []
    server = SimpleNamespace(
        home="aws", project=SimpleNamespace(state_dir=tmp_path / ".pilot"), on_event=events.append
    )
    # 192.0.2.1 (TEST-NET-1, never routed): no SSH answers there
    outputs = {"public_ip": "192.0.2.1", "ssh_user": "ubuntu"}
    asyncio.run(guard_metadata(server, outputs, attempts=1, delay=0))  # type: ignore[arg-type]
    [warning] = [e for e in events if isinstance(e, Note)]
    assert warning.level == "warning"
    assert warning.text.startswith("the apps' containers may still reach the cloud's metadata")
    assert warning.text.endswith("run `pilot-tui server up` again once the server accepts SSH")
    # the sandbox has no machine to guard: nothing is tried
    sandbox = SimpleNamespace(**{**vars(server), "home": "sandbox"})
    events.clear()
    asyncio.run(guard_metadata(sandbox, outputs, attempts=1, delay=0))  # type: ignore[arg-type]
    assert events == []


def test_the_guard_is_tried_again_only_while_ssh_itself_fails(tmp_path, monkeypatch):
    """A server still booting refuses SSH (exit 255): tried again. A guard that fails on the
    server (iptables refusing, say) would fail again: said at once, not after 30 tries.
    The SSH runs are counted by a stand-in for the runner (the real SSH is tested above)."""
    import asyncio
    from types import SimpleNamespace

    from pilot_tui import runner
    from pilot_tui.provision.progress import Note
    from pilot_tui.provision.server_setup import guard_metadata

    events: list[object] = []
    server = SimpleNamespace(
        home="gcp", project=SimpleNamespace(state_dir=tmp_path), on_event=events.append
    )
    outputs = {"public_ip": "192.0.2.1"}
    for status, tries in ((255, 4), (1, 1)):
        ran: list[int] = []

        def capture(command, stdin=None, status=status, ran=ran):
            ran.append(1)
            return runner.Completed(status, "", "iptables: No chain/target")

        monkeypatch.setattr(runner, "capture", capture)
        events.clear()
        asyncio.run(guard_metadata(server, outputs, attempts=4, delay=0))  # type: ignore[arg-type]
        assert len(ran) == tries
        [warning] = [e for e in events if isinstance(e, Note)]
        assert "iptables: No chain/target" in warning.text and warning.level == "warning"
