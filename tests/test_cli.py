"""The CLI as a user meets it: help, version, init, config get/set/show/schema, discovery."""

from __future__ import annotations

import json
import os
import stat
import tomllib

import pytest

from pilot_tui import __version__
from pilot_tui.cli.parser import build_parser
from tests.conftest import run_pilot


def _all_commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_commands(sub, (*prefix, name))


def test_version_from_installed_entry_point(tmp_path):
    result = run_pilot("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"pilot-tui {__version__}"


def test_help_on_every_command(cli):
    commands = list(_all_commands(build_parser()))
    assert ("config", "set") in commands and ("init",) in commands
    for command in [(), *commands]:
        result = cli(*command, "--help")
        assert result.code == 0, command
        assert "usage: pilot-tui" in result.out
        assert "--project" in result.out


def test_unknown_command_is_a_usage_error(cli):
    result = cli("deplyo")
    assert result.code == 2
    assert "invalid choice" in result.err


def test_app_refuses_without_a_terminal(tmp_path):
    result = run_pilot(cwd=tmp_path)  # stdin/stdout are pipes here
    assert result.returncode == 2
    assert "interactive terminal" in result.stderr


def test_init_writes_commented_valid_file_private_state_and_gitignore(cli, tmp_path):
    (tmp_path / ".gitignore").write_text("node_modules/")  # no trailing newline
    result = cli("init")
    assert result.code == 0, result.err
    text = (tmp_path / "pilot.toml").read_text()
    assert text.startswith("# Pilot project file.")
    data = tomllib.loads(text)
    assert data["project"]["name"] == tmp_path.name.lower().replace("_", "-")[:40].rstrip("-")
    assert cli("config", "validate").code == 0
    state = tmp_path / ".pilot"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for sub in ("terraform", "outputs", "releases", "keys", "logs"):
        assert stat.S_IMODE((state / sub).stat().st_mode) == 0o700
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "node_modules/"
    assert ".pilot/" in (tmp_path / ".gitignore").read_text().splitlines()
    # A second init adds nothing to .gitignore and refuses to overwrite.
    before = (tmp_path / "pilot.toml").read_bytes()
    again = cli("init")
    assert again.code == 2 and "--force" in again.err
    assert (tmp_path / "pilot.toml").read_bytes() == before
    assert cli("init", "--force").code == 0
    assert (tmp_path / ".gitignore").read_text().count(".pilot/") == 1


def test_init_writes_a_dockerignore_keeping_yours(cli, tmp_path):
    # Issue 11 item 1: Pilot's state and VCS folders stay out of images built by hand too
    # (Pilot's own packer leaves them out whatever the file says).
    result = cli("init")
    assert result.code == 0, result.err
    assert "added it to .gitignore and .dockerignore" in result.out
    lines = (tmp_path / ".dockerignore").read_text().splitlines()
    assert {".pilot", ".git", ".hg", ".svn"} <= set(lines)
    (tmp_path / ".dockerignore").write_text("node_modules\n/.pilot/\n.git")  # yours
    assert cli("init", "--force").code == 0
    lines = (tmp_path / ".dockerignore").read_text().splitlines()
    assert lines[:3] == ["node_modules", "/.pilot/", ".git"]  # kept, nothing doubled
    assert ".hg" in lines and ".svn" in lines and ".pilot" not in lines[3:]


def test_init_answers_from_flags(cli, tmp_path):
    result = cli("init", "--name", "acme", "--home", "aws", "--aws-region", "eu-west-1",
                 "--allowed-cidr", "203.0.113.7/32", "--allowed-cidr", "198.51.100.0/24")
    assert result.code == 0, result.err
    data = tomllib.loads((tmp_path / "pilot.toml").read_text())
    assert data["project"]["name"] == "acme"
    assert data["server"]["home"] == "aws"
    assert data["aws"]["region"] == "eu-west-1"
    assert data["server"]["allowed_cidrs"] == ["203.0.113.7/32", "198.51.100.0/24"]
    assert "# names and tags every cloud resource" in (tmp_path / "pilot.toml").read_text()


def test_init_rejects_bad_flag_answers_and_writes_nothing(cli, tmp_path):
    result = cli("init", "--aws-region", "us-central1")
    assert result.code == 2
    assert "--aws-region" in result.err and "GCP region" in result.err
    assert not (tmp_path / "pilot.toml").exists()
    result = cli("init", "--allowed-cidr", "10.0.0.1/8")
    assert result.code == 2 and 'did you mean "10.0.0.0/8"' in result.err


def test_init_plain_without_a_tty_names_the_flags(tmp_path):
    result = run_pilot("init", "--plain", cwd=tmp_path, input="")
    assert result.returncode == 2
    assert "interactive terminal" in result.stderr
    assert "--name" in result.stderr and "--home" in result.stderr
    assert not (tmp_path / "pilot.toml").exists()


def test_get_prints_effective_values(cli, project):
    assert cli("config", "get", "aws.region").out == "us-east-1\n"
    assert cli("config", "get", "server.docker_access").out == "ssh\n"
    assert cli("config", "get", "server.allowed_cidrs").out == "[]\n"
    assert json.loads(cli("config", "get", "server", "--json").out)["home"] == "sandbox"


def test_get_unknown_key_and_app(cli, project):
    result = cli("config", "get", "aws.regoin")
    assert result.code == 2 and 'did you mean "region"' in result.err
    result = cli("config", "get", "apps.web.path")
    assert result.code == 2 and 'no app named "web"' in result.err


def test_set_then_get_including_apps_by_name(cli, project):
    assert cli("config", "set", "aws.region", '"eu-west-1"').code == 0
    assert cli("config", "set", "server.allowed_cidrs", '["203.0.113.7/32"]').code == 0
    assert cli("config", "set", "apps", '[{ name = "api", path = "." }]').code == 0
    assert cli("config", "set", "apps.api.target", '{ kind = "server", port = 9000 }').code == 0
    assert cli("config", "set", "apps.api.env.LOG_LEVEL", "debug").code == 0
    assert cli("config", "get", "apps.api.target.port").out == "9000\n"
    assert cli("config", "get", "apps[0].env.LOG_LEVEL").out == "debug\n"
    data = tomllib.loads(project.read_text())
    assert data["aws"]["region"] == "eu-west-1"
    assert data["apps"][0]["target"] == {"kind": "server", "port": 9000}


def test_set_bare_word_is_a_string_and_keeps_literal_quotes(cli, project):
    project.write_text(project.read_text().replace('region = "us-east-1"', "region = 'us-east-1'"))
    assert cli("config", "set", "aws.region", "eu-west-2").code == 0
    assert "region = 'eu-west-2'" in project.read_text()


def test_set_refuses_invalid_result_and_leaves_file_untouched(cli, project):
    before = project.read_bytes()
    for key, value, message in [
        ("server.home", '"awss"', 'did you mean "aws"'),
        ("server.allowed_cidrs", '["1.2.3.4/33"]', "not a CIDR"),
        ("aws.profile", "AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("server.hme", '"aws"', 'did you mean "home"'),
        ("aws.region", '"europe-west1"', "is a GCP region"),
    ]:
        result = cli("config", "set", key, value)
        assert result.code == 2, key
        assert "the file is unchanged" in result.err
        assert message in result.err, result.err
        assert project.read_bytes() == before


def test_unset_restores_default(cli, project):
    assert cli("config", "set", "server.engine", '"waypoint"').code == 0
    assert cli("config", "get", "server.engine").out == "waypoint\n"
    assert cli("config", "unset", "server.engine").code == 0
    assert cli("config", "get", "server.engine").out == "pilot\n"
    assert cli("config", "unset", "server.engine").code == 2


def test_show_toml_and_json_include_defaults(cli, project):
    shown = tomllib.loads(cli("config", "show").out)
    assert shown["server"]["engine"] == "pilot"
    assert "apps" not in shown
    # What `show` prints is itself a valid project file.
    (project.parent / "shown.toml").write_text(cli("config", "show").out)
    assert cli("config", "validate", "--project", "shown.toml").code == 0
    as_json = json.loads(cli("config", "show", "--json").out)
    assert as_json["state"]["backend"] == "local"
    assert as_json["apps"] == []


def test_schema_is_json_schema_that_accepts_the_starter(cli, project):
    import jsonschema

    schema = json.loads(cli("config", "schema").out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(tomllib.loads(project.read_text()))
    bad = {"server": {"home": "awss"}, "project": {"name": "x"}}
    assert list(validator.iter_errors(bad))


def test_reference_doc_is_generated_from_the_schema(cli):
    from pathlib import Path

    doc = Path(__file__).parent.parent / "docs" / "pilot-toml.md"
    generated = cli("config", "reference").out
    assert doc.read_text() == generated, "run: pilot-tui config reference > docs/pilot-toml.md"
    keys = ("server.allowed_cidrs", "apps.target.memory", "state.backend", "gcp.credentials")
    for key in keys:
        assert f"`{key}`" in generated


@pytest.mark.parametrize("how", ["flag", "flag-after", "env", "parent"])
def test_project_discovery(tmp_path, how):
    proj = tmp_path / "proj"
    proj.mkdir()
    assert run_pilot("init", "--name", "found", cwd=proj).returncode == 0
    sub = proj / "api" / "src"
    sub.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args, env, cwd = ["config", "get", "project.name"], {}, elsewhere
    if how == "flag":
        args = ["--project", str(proj), *args]
    elif how == "flag-after":
        args = [*args, "--project", str(proj / "pilot.toml")]
    elif how == "env":
        env = {"PILOT_PROJECT": str(proj)}
    else:
        cwd = sub
    result = run_pilot(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "found\n"


def test_missing_project_says_what_to_do(tmp_path):
    result = run_pilot("config", "validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "pilot-tui init" in result.stderr and "--project" in result.stderr
    result = run_pilot("config", "validate", "--project", str(tmp_path / "nope.toml"),
                       cwd=tmp_path)
    assert result.returncode == 2 and "nope.toml does not exist" in result.stderr


def test_write_keeps_permissions(cli, project):
    os.chmod(project, 0o640)
    assert cli("config", "set", "aws.region", "eu-west-1").code == 0
    assert stat.S_IMODE(project.stat().st_mode) == 0o640
