"""Teammates against a real OpenSSH server on 127.0.0.1 (the throwaway sshd): a teammate's
own key is authorised by `invite`, `join` pins the host key and connects, and removing one
teammate leaves everyone else's access alone. The invite holds no secret."""

from __future__ import annotations

import json
import shutil

import pytest

from pilot_tui.provision.keys import KEY_NAME
from pilot_tui.provision.remote import ssh_run
from pilot_tui.runner import capture
from tests.conftest import run_pilot


def checkout(base, who, sshd):
    root = base / who
    root.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=root).returncode == 0
    return root


def can_ssh(root, sshd) -> bool:
    keys = root / ".pilot" / "keys"
    done = capture(
        ssh_run(
            "127.0.0.1", sshd["user"], keys / KEY_NAME, keys / "known_hosts", "true", sshd["port"]
        )
    )
    return done.returncode == 0


@pytest.mark.slow
def test_invite_join_and_remove_one_teammate(tmp_path, sshd):
    owner = checkout(tmp_path, "owner", sshd)
    keys = owner / ".pilot" / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    shutil.copy(sshd["key"], keys / KEY_NAME)  # what provisioning left: the owner's key
    (keys / KEY_NAME).chmod(0o600)
    authorized = sshd["key"].parent.parent / "authorized_keys"
    record = {
        "home": "aws",
        "outputs": {
            "public_ip": "127.0.0.1",
            "ssh_user": sshd["user"],
            "ssh_port": sshd["port"],
            "authorized_keys": str(authorized),
            "docker_host": "ssh://x@127.0.0.1",
        },
    }
    (owner / ".pilot" / "outputs" / "server.json").write_text(json.dumps(record))
    assert can_ssh(owner, sshd)  # and its host key is pinned in the owner's known_hosts

    bob = checkout(tmp_path, "bob", sshd)
    carol = checkout(tmp_path, "carol", sshd)
    keys_of = {}
    for who, root in (("bob", bob), ("carol", carol)):
        asked = run_pilot("team", "request", cwd=root)
        assert asked.returncode == 0 and asked.stdout.startswith("ssh-ed25519 ")
        assert "PRIVATE" not in asked.stdout
        keys_of[who] = asked.stdout.strip()
        assert not can_ssh(root, sshd)  # not authorised yet

    for who in ("bob", "carol"):
        invited = run_pilot("invite", who, "--key", keys_of[who], cwd=owner)
        assert invited.returncode == 0, invited.stderr
    invite = owner / "pilot-invite-bob.toml"
    text = invite.read_text()
    assert "PRIVATE KEY" not in text and "ssh-ed25519" in text  # host keys only
    assert oct(invite.stat().st_mode & 0o777) == "0o600"

    for who, root in (("bob", bob), ("carol", carol)):
        shutil.copy(owner / f"pilot-invite-{who}.toml", root)
        joined = run_pilot("join", f"pilot-invite-{who}.toml", cwd=root)
        assert joined.returncode == 0, joined.stderr
        assert json.loads((root / ".pilot" / "outputs" / "server.json").read_text()) == record
        assert can_ssh(root, sshd)

    listed = run_pilot("team", "list", cwd=owner)
    assert listed.stdout.split() == ["bob", "carol"]
    again = run_pilot("invite", "bob", "--key", keys_of["bob"], cwd=owner)  # idempotent
    assert again.returncode == 0
    assert authorized.read_text().count("pilot-teammate:bob") == 1
    assert oct(authorized.stat().st_mode & 0o777) == "0o600"

    removed = run_pilot("team", "remove", "bob", cwd=owner)
    assert removed.returncode == 0, removed.stderr
    assert not can_ssh(bob, sshd)  # only bob lost access
    assert can_ssh(carol, sshd) and can_ssh(owner, sshd)
    gone = run_pilot("team", "remove", "bob", cwd=owner)
    assert gone.returncode == 1 and "no teammate bob" in gone.stderr


def test_bad_keys_names_and_invites_are_refused(tmp_path, sshd):
    owner = checkout(tmp_path, "owner", sshd)
    private = sshd["key"].read_text()
    leaked = run_pilot("invite", "bob", "--key", private, cwd=owner)
    assert leaked.returncode == 2 and "PRIVATE key: never send it" in leaked.stderr
    bad = run_pilot("invite", "Bob!", "--key", "ssh-ed25519 AAAA", cwd=owner)
    assert bad.returncode == 2 and "lowercase" in bad.stderr
    other = checkout(tmp_path, "other", sshd)
    (other / "pilot.toml").write_text(
        (other / "pilot.toml").read_text().replace('name = "acme"', 'name = "zeta"')
    )
    (other / "invite.toml").write_text(
        '[invite]\nproject = "acme"\nteammate = "x"\n[server]\nhost = "h"\nuser = "u"\n'
        'record = "{}"\n[host_keys]\nlines = ["h ssh-ed25519 AAAA"]\n'
    )
    wrong = run_pilot("join", "invite.toml", cwd=other)
    assert wrong.returncode == 2 and "for project 'acme'" in wrong.stderr
    sandbox = run_pilot("invite", "bob", "--key", "ssh-ed25519 " + "A" * 68, cwd=owner)
    assert sandbox.returncode == 1 and "no Pilot Server to share" in sandbox.stderr


def test_a_host_project_shares_its_docker_host_over_ssh(tmp_path):
    """Issue 11 item 33: `invite` in a `home = "host"` project talked about the sandbox. A
    host named ssh://user@host[:port] is shared like a provisioned server; a local socket
    is refused in those words."""
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.provision.team import Server, server_from, team_record

    root = tmp_path / "owner"
    root.mkdir()
    assert run_pilot("init", "--name", "acme", cwd=root).returncode == 0
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.with_value("server.home", "host")
    pf.save(ProjectFile(pf.path, text).with_value("server.host", "unix:///var/run/docker.sock"))
    key = "ssh-ed25519 " + "A" * 68
    refused = run_pilot("invite", "bob", "--key", key, cwd=root)
    assert refused.returncode == 1
    assert "sandbox" not in refused.stderr and "ssh://user@host" in refused.stderr
    assert not (root / "pilot-invite-bob.toml").exists()

    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("server.host", "ssh://deploy@build.example.com:2222"))
    config = ProjectFile.load(root / "pilot.toml").check().config
    assert server_from(team_record(config, {})) == Server("build.example.com", "deploy", 2222)
