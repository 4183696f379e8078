"""Installing Docker's TLS material on a server over SSH, against a real OpenSSH server
started on 127.0.0.1 with a throwaway host key (stopped by pid afterwards)."""

from __future__ import annotations

import stat

from pilot_tui.provision.keys import server_key
from pilot_tui.provision.remote import ssh_run
from pilot_tui.provision.tls import ensure_tls, install_script, server_bundle
from pilot_tui.runner import capture


def test_tls_bundle_lands_on_the_server_with_private_modes(sshd, tmp_path):
    files = ensure_tls(tmp_path / "tls", "acme", ["127.0.0.1"])
    remote = tmp_path / "remote" / "pilot-tls"
    command = ssh_run(
        "127.0.0.1",
        sshd["user"],
        sshd["key"],
        sshd["known_hosts"],
        install_script(str(remote), sudo=False, restart=False),
        sshd["port"],
    )
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
    command = ssh_run(
        "127.0.0.1", sshd["user"], stranger, sshd["known_hosts"], "true", sshd["port"]
    )
    done = capture(command)
    assert done.returncode == 255 and "Permission denied" in done.stderr


def test_install_script_as_data():
    script = install_script()
    assert "sudo install -d -m 0700 /etc/docker/pilot-tls" in script
    assert "base64 -d | sudo tar -x -f - -C /etc/docker/pilot-tls" in script
    assert script.endswith("sudo systemctl restart docker")
    assert "cloud-init status --wait" in script


def test_the_host_key_is_pinned_right_after_provisioning(sshd, tmp_path):
    from pilot_tui.provision.remote import pin_host_key

    known = tmp_path / "pinned_known_hosts"
    assert pin_host_key(
        "127.0.0.1", sshd["user"], sshd["key"], known, sshd["port"], attempts=3, delay=0.2
    )
    assert " ssh-ed25519 " in known.read_text()
    # A machine that never answers: False after the attempts, nothing recorded.
    from pilot_tui.cloud.sandbox import free_port

    silent = tmp_path / "silent_known_hosts"
    assert not pin_host_key(
        "127.0.0.1", sshd["user"], sshd["key"], silent, free_port(), attempts=2, delay=0.1
    )
    assert not silent.exists() or silent.read_text() == ""
