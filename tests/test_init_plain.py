"""`pilot-tui init --plain` in a real pseudo-terminal, answered as a person would."""

from __future__ import annotations

import tomllib

import pexpect
import pytest

from tests.conftest import PILOT

DOWN = "\x1b[B"


def test_plain_init_asks_the_core_questions_and_validates_answers(tmp_path):
    child = pexpect.spawn(PILOT, ["init", "--plain"], cwd=str(tmp_path), encoding="utf-8",
                          dimensions=(40, 120), timeout=20,
                          env={"TERM": "xterm", "PATH": "/usr/bin:/bin"})
    try:
        child.expect("Project name")
        child.send("\x15")  # clear the suggested default (ctrl+u)
        child.send("acme\r")
        child.expect("Where should the Pilot Server run")
        child.send(DOWN + "\r")  # sandbox -> aws
        child.expect("AWS profile name")
        child.send("acme-prod\r")
        child.expect("AWS region")
        child.send("eu-west-1\r")
        child.expect("Who may reach the server")
        child.send("10.0.0.1/8")  # host bits set: refused in place with the validator's words
        child.send("\r")
        child.expect('did you mean "10.0.0.0/8"')
        child.send("\x15203.0.113.7/32\r")
        child.expect("Where should Terraform state live")
        child.send(DOWN + "\r")  # local -> s3
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    text = (tmp_path / "pilot.toml").read_text()
    data = tomllib.loads(text)
    assert data["project"]["name"] == "acme"
    assert data["server"]["home"] == "aws"
    assert data["aws"] == {"profile": "acme-prod", "region": "eu-west-1"}
    assert data["server"]["allowed_cidrs"] == ["203.0.113.7/32"]
    assert data["state"]["backend"] == "s3"
    assert "# names and tags every cloud resource" in text  # the starter's comments survive
    assert (tmp_path / ".pilot").is_dir()


@pytest.mark.parametrize(("key", "code", "said"), [
    ("\x03", 130, "interrupted"),  # Ctrl+C: the exit code of an interrupt, as README says
    ("\x04", 2, "cancelled"),  # Ctrl+D: the input ended unanswered (it was a traceback)
])
def test_plain_init_cancelled_writes_nothing(tmp_path, key, code, said):
    child = pexpect.spawn(PILOT, ["init", "--plain"], cwd=str(tmp_path), encoding="utf-8",
                          dimensions=(40, 120), timeout=20,
                          env={"TERM": "xterm", "PATH": "/usr/bin:/bin"})
    child.expect("Project name")
    child.send("\x15")  # an empty line: Ctrl+D ends the input only there
    child.send(key)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert f"init {said}; nothing was written" in child.before
    assert "Traceback" not in child.before
    assert not (tmp_path / "pilot.toml").exists()
