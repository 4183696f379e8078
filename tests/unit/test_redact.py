"""Secrets are masked before text reaches a log file or the log pane."""

from __future__ import annotations

from pilot_tui import redact
from pilot_tui.redact import MASK, text


def test_secrets_are_masked_and_ordinary_text_is_not():
    line = (
        'access AKIAIOSFODNN7EXAMPLE secret "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" '
        "db postgres://app:hunter2@db.internal/app password=s3cret token: abc123"
    )
    masked = text(line)
    for secret in (
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "hunter2",
        "s3cret",
        "abc123",
    ):
        assert secret not in masked
    assert masked.count(MASK) == 5
    assert "postgres://" in masked and "db.internal/app" in masked
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    assert "b3BlbnNzaC1rZXk" not in text(pem)
    sha = "a" * 20 + "0123456789abcdef0123"  # a 40-character hex digest stays readable
    ordinary = f"aws_vpc.pilot: Creation complete after 10s [id=vpc-1234] commit {sha}"
    assert text(ordinary) == ordinary


def test_a_project_s_secret_values_are_masked_in_a_fresh_process(tmp_path, monkeypatch):
    """Issue 11 item 4: by value, from what the project holds, with no deploy in the process:
    every app's stored values (even from a file whose mode a deploy would refuse), the
    environment's value of a declared name, and Pilot's own keys; also JSON-escaped."""
    import json
    import subprocess
    import sys

    from pilot_tui import redact
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.deploy import secrets

    monkeypatch.setattr(redact, "REDACTOR", redact.Redactor())
    (tmp_path / "pilot.toml").write_text(
        '[project]\nname = "acme"\n\n[[apps]]\nname = "api"\npath = "."\n'
        'secrets = ["DB_URL", "UNSET_ONE"]\n'
    )
    state = tmp_path / ".pilot"
    secrets.store(state, "api", "API_KEY", "stored-api-value-1")
    secrets.store(state, "old", "GONE", 'gone "app" välue')  # an app no longer listed
    (state / "secrets" / "old.env").chmod(0o644)
    keys = state / "keys"
    keys.mkdir(mode=0o700)
    (keys / "aws-deployer.json").write_text(
        json.dumps({"access_key_id": "AKIDEXAMPLE", "secret_access_key": "dep10yer-secret-key"})
    )
    (keys / "server_ed25519").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n"
        "QyNTUxOQAAACBmZXhhbXBsZWtleQ\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    config = ProjectFile.load(tmp_path / "pilot.toml").check().config
    assert config is not None

    secrets.register_project(
        state, config, env={"DB_URL": "pg-from-env-77", "OTHER": "not-a-secret"}
    )
    line = (
        'stored-api-value-1 gone "app" välue pg-from-env-77 dep10yer-secret-key '
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU not-a-secret API_KEY DB_URL"
    )
    assert redact.values(line) == " ".join([redact.MASK] * 5 + ["not-a-secret API_KEY DB_URL"])
    as_json = json.dumps({"text": line})  # a run log's JSON line escapes quotes and ü
    assert "gone" not in redact.values(as_json) and "pg-from" not in redact.values(as_json)

    # The CLI prints through the redactor: a value never reaches the terminal.
    script = (
        "from pilot_tui import redact\nredact.register(['s3cret-printed'])\n"
        "with redact.masked_output():\n    print('x s3cret-printed y')\n"
        "    import sys; sys.stderr.write('s3cret-printed\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.stdout, done.stderr) == (f"x {redact.MASK} y\n", f"{redact.MASK}\n")


def test_a_clipped_message_never_ends_mid_word():
    """Found walking: "… credentials were not found. To set up … see https://… for mor; the
    release history stays local this time"."""
    said = "Your default credentials were not found. To set up Application Default " * 3
    clipped = redact.clip(said, 60)
    assert len(clipped) <= 60 and clipped.endswith("…")
    assert said.startswith(clipped[:-1]) and said[len(clipped) - 1] == " "
    assert redact.clip("short", 60) == "short"


def test_no_error_is_cut_mid_word_or_unmasked_by_a_slice():
    """Found walking: an error said by `ci github` was cut at 300 characters mid-word (a
    slice of its text). Every error's text is cut by redact.clip, which masks it and cuts
    at a word; a slice of one (``str(exc)[:N]``, ``redact.text(...)[:N]``) is not left."""
    import re
    from pathlib import Path

    sliced = re.compile(
        r"(str\(exc\)|redact\.text\(.*\)|\b(said|text|message)(\.strip\(\))?)\[:\d+\]"
    )
    found = [
        f"{path}:{number}"
        for path in sorted(Path(redact.__file__).parent.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if sliced.search(line)
    ]
    assert found == []
