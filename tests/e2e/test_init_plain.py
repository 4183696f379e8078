"""`pilot-tui init --plain` in a real pseudo-terminal, answered as a person would."""

from __future__ import annotations

import tomllib

import pexpect
import pytest

from tests.conftest import PILOT, run_pilot

DOWN = "\x1b[B"


@pytest.mark.slow
def test_plain_init_asks_the_core_questions_and_validates_answers(tmp_path):
    child = pexpect.spawn(
        PILOT,
        ["init", "--plain"],
        cwd=str(tmp_path),
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=20,
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin"},
    )
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
    assert_starter_layout(
        text,
        {
            "project.name": "acme",
            "server.home": "aws",
            "aws.profile": "acme-prod",
            "state.backend": "s3",
        },
    )
    lines = text.splitlines()
    assert lines[lines.index("[aws]") + 1].startswith('profile = "acme-prod"')


def assert_starter_layout(text: str, answered: dict[str, str]) -> None:
    """The answers fill the starter's own lines: a commented example (`# profile = ...`) is
    replaced where it stands rather than a new line appended, and inline comments stay in
    the starter's column (they moved with each value's length)."""
    lines = text.splitlines()
    for dotted, value in answered.items():
        table, key = dotted.split(".")
        first = lines.index(f"[{table}]") + 1
        last = next((n for n in range(first, len(lines)) if lines[n].startswith("[")), len(lines))
        section = lines[first:last]
        (line,) = [n for n in section if n.startswith(f"{key} = ")]
        assert line.startswith(f'{key} = "{value}"'), line
        if "#" in line:
            assert line.index("#") == max(COMMENT_COLUMN, len(line.split("#")[0].rstrip()) + 1)
        assert not any(n.startswith(f"# {key} =") for n in section), f"# {key} = left behind"


COMMENT_COLUMN = 28


def test_init_by_flags_fills_the_starter_lines(tmp_path):
    key_file = tmp_path / "sa.json"
    key_file.write_text("{}")
    result = run_pilot(
        "init",
        "--name",
        "acme-shop",
        "--home",
        "gcp",
        "--gcp-project",
        "acme-prod-123",
        "--gcp-credentials",
        str(key_file),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "pilot.toml").read_text()
    assert_starter_layout(
        text,
        {
            "project.name": "acme-shop",
            "server.home": "gcp",
            "gcp.project": "acme-prod-123",
            "gcp.credentials": str(key_file),
        },
    )
    lines = text.splitlines()
    gcp = lines.index("[gcp]")
    assert lines[gcp + 1].startswith('project = "acme-prod-123"')
    assert lines[gcp + 2].startswith("credentials = ") and "service-account key" in lines[gcp + 2]


@pytest.mark.parametrize(
    ("key", "code", "said"),
    [
        ("\x03", 130, "interrupted"),  # Ctrl+C: the exit code of an interrupt, as README says
        ("\x04", 2, "cancelled"),  # Ctrl+D: the input ended unanswered (it was a traceback)
    ],
)
def test_plain_init_cancelled_writes_nothing(tmp_path, key, code, said):
    child = pexpect.spawn(
        PILOT,
        ["init", "--plain"],
        cwd=str(tmp_path),
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=20,
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin"},
    )
    child.expect("Project name")
    child.send("\x15")  # an empty line: Ctrl+D ends the input only there
    child.send(key)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert f"init {said}; nothing was written" in child.before
    assert "Traceback" not in child.before
    assert not (tmp_path / "pilot.toml").exists()
