"""Installing Docker's TLS material on a server over SSH, against a real OpenSSH server
started on 127.0.0.1 with a throwaway host key (stopped by pid afterwards)."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from pilot_tui.keys import server_key
from pilot_tui.remote import ssh_run
from pilot_tui.runner import capture, stop_pid
from pilot_tui.tls import ensure_tls, install_script, server_bundle

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    if not Path(SSHD).exists():
        pytest.skip("openssh-server is installed by .ci/setup")
    keys = tmp_path / "keys"
    private, public = server_key(keys, "pilot-test")
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(public + "\n")
    authorized.chmod(0o600)
    host_key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                   check=True)
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield {"port": port, "key": private, "known_hosts": keys / "known_hosts",
           "user": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()}
    stop_pid(proc.pid)


def test_tls_bundle_lands_on_the_server_with_private_modes(sshd, tmp_path):
    files = ensure_tls(tmp_path / "tls", "acme", ["127.0.0.1"])
    remote = tmp_path / "remote" / "pilot-tls"
    command = ssh_run("127.0.0.1", sshd["user"], sshd["key"], sshd["known_hosts"],
                      install_script(str(remote), sudo=False, restart=False), sshd["port"])
    done = capture(command, stdin=server_bundle(files))
    assert done.returncode == 0, done.stderr
    assert (remote / "server-key.pem").read_bytes() == files.server_key.read_bytes()
    assert (remote / "server-cert.pem").read_bytes() == files.server_cert.read_bytes()
    assert (remote / "ca.pem").read_bytes() == files.ca_cert.read_bytes()
    assert stat.S_IMODE((remote / "server-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(remote.stat().st_mode) == 0o700
    assert not (remote / "key.pem").exists() and not (remote / "ca-key.pem").exists()


def test_a_key_the_server_does_not_know_is_refused(sshd, tmp_path):
    stranger, _ = server_key(tmp_path / "stranger", "stranger")
    command = ssh_run("127.0.0.1", sshd["user"], stranger, sshd["known_hosts"], "true",
                      sshd["port"])
    done = capture(command)
    assert done.returncode == 255 and "Permission denied" in done.stderr


def test_install_script_as_data():
    script = install_script()
    assert "sudo install -d -m 0700 /etc/docker/pilot-tls" in script
    assert "base64 -d | sudo tar -x -f - -C /etc/docker/pilot-tls" in script
    assert script.endswith("sudo systemctl restart docker")
    assert "cloud-init status --wait" in script
