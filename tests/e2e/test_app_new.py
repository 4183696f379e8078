"""`pilot-tui app new`: the New-app questions in a real pseudo-terminal (answered as a person
would, bad answers refused in place), and by flags for scripts."""

from __future__ import annotations

import tomllib

import pexpect
import pytest

from tests.conftest import PILOT, run_pilot


@pytest.mark.slow
def test_app_new_asks_detects_and_validates(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    child = pexpect.spawn(
        PILOT,
        ["app", "new"],
        cwd=str(tmp_path),
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=20,
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin"},
    )
    try:
        child.expect("Source folder")
        child.send("\x15api\r")
        child.expect("Name")
        child.send("\x15Bad_Name\r")  # refused in place, in the validator's words
        child.expect("lowercase")
        child.send("\x15api\r")
        child.expect("detected a Dockerfile")
        child.expect("Target")
        child.send("\r")
        child.expect("Environment variables")
        child.send("LOG_LEVEL=info\r")
        child.expect("Secret names")
        child.send("DATABASE_URL\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    app = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"][0]
    assert app["name"] == "api" and app["path"] == "api"
    assert app["build"] == {"kind": "dockerfile"} and app["target"] == {"kind": "server"}
    assert app["env"] == {"LOG_LEVEL": "info"} and app["secrets"] == ["DATABASE_URL"]


@pytest.mark.parametrize(("key", "code"), [("\x03", 130), ("\x04", 2)])
def test_app_new_cancelled_exits_like_init_and_writes_nothing(tmp_path, key, code):
    # Ctrl+C is an interrupt (130); Ctrl+D ends the input unanswered (2; it was a traceback).
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    before = (tmp_path / "pilot.toml").read_bytes()
    child = pexpect.spawn(
        PILOT,
        ["app", "new"],
        cwd=str(tmp_path),
        encoding="utf-8",
        dimensions=(40, 120),
        timeout=20,
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin"},
    )
    child.expect("Source folder")
    child.send("\x15")  # an empty line: Ctrl+D ends the input only there
    child.send(key)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert "Traceback" not in child.before and "pilot.toml is unchanged" in child.before
    assert (tmp_path / "pilot.toml").read_bytes() == before


def test_app_new_by_flags_and_its_refusals(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hi")
    added = run_pilot("app", "new", "--path", "site", "--name", "docs", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "added app docs: build static (index.html" in added.stderr
    app = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"][0]
    assert app["target"] == {"kind": "s3-cloudfront"}  # a static site, in the sandbox
    before = (tmp_path / "pilot.toml").read_text()
    again = run_pilot("app", "new", "--path", "site", "--name", "docs", cwd=tmp_path)
    # said in the flags' words (found walking: "apps[1].name: ... defined twice")
    assert again.returncode == 2
    assert 'there is an app named "docs" in pilot.toml already' in again.stderr
    bad_env = run_pilot("app", "new", "--name", "web", "--env", "NOEQUALS", cwd=tmp_path)
    assert bad_env.returncode == 2 and "NOEQUALS" in bad_env.stderr
    assert (tmp_path / "pilot.toml").read_text() == before  # nothing written on refusal


def test_a_lambda_handler_becomes_a_zip_function(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "lambda_function.py").write_text(
        "def lambda_handler(event, context):\n    return {'statusCode': 200}\n"
    )
    added = run_pilot("app", "new", "--path", "fn", "--name", "fn", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "a Python Lambda handler (lambda_function.lambda_handler)" in added.stderr
    assert "no Python Lambda handler" not in added.stderr
    app = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"][0]
    assert app["target"] == {
        "kind": "lambda",
        "package": "zip",
        "handler": "lambda_function.lambda_handler",
    }
    # A web server on the same target stays an image (the Lambda Web Adapter runs it).
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    added = run_pilot(
        "app", "new", "--path", "web", "--name", "web", "--target", "lambda", cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    web = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"][1]
    assert web["target"] == {"kind": "lambda"}
    # said, not quietly (found walking): an image function, and how a zip one is asked for
    assert "note: no Python Lambda handler in" in added.stderr
    assert "it is an image function" in added.stderr
    assert 'target.package = "zip"' in added.stderr


def test_app_dockerfile_ends_its_output_with_a_newline(cli, tmp_path):
    # An app's own Dockerfile without a final newline was printed as is, so whatever came
    # next (the shell prompt, the next command's `# app: ...` note) was glued to its last line.
    assert cli("init").code == 0
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "Dockerfile").write_text('FROM busybox\nCMD ["true"]')
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>")
    for name in ("own", "site"):
        assert (
            cli("app", "new", "--path", name, "--name", name, "--target", "server", "--yes").code
            == 0
        )
    own = cli("app", "dockerfile", "own")
    assert own.code == 0 and own.out == 'FROM busybox\nCMD ["true"]\n'
    site = cli("app", "dockerfile", "site")
    assert site.code == 0 and site.out.startswith("# Generated by Pilot")
    assert site.out.endswith("\n") and site.err.startswith("# site: ")


def test_a_server_py_beside_an_index_html_is_a_program_not_a_site(tmp_path):
    # Issue 11 item 29: this folder was a static site, and busybox served /server.py.
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "server.py").write_text("import http.server\n")
    (tmp_path / "web" / "index.html").write_text("<h1>hi</h1>")
    added = run_pilot("app", "new", "--path", "web", "--name", "web", "--yes", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "build auto (Python (server.py))" in added.stderr
    app = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"][0]
    assert app["build"] == {"kind": "auto"} and app["target"] == {"kind": "server"}
    shown = run_pilot("app", "dockerfile", "web", cwd=tmp_path)
    assert shown.returncode == 0 and 'CMD ["python", "server.py"]' in shown.stdout
