"""The CLI as a user meets it: help, version, init, config get/set/show/schema, discovery."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from pilot_tui import __version__
from pilot_tui.cli.parser import build_parser
from tests.conftest import run_pilot
from tests.support.paths import REPO


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


def _handlers(parser):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for sub in action.choices.values():
                if "handler" in sub._defaults:
                    yield sub._defaults["handler"]
                yield from _handlers(sub)


def test_every_command_names_a_handler_that_exists():
    # Each command group (cli/commands/) names its handlers by module and function, imported
    # only when the command runs: a misspelt one would fail only then.
    import importlib

    handlers = list(_handlers(build_parser()))
    assert len(handlers) >= 38  # every command of today has one
    for handler in handlers:
        assert callable(getattr(importlib.import_module(handler.module), handler.name)), handler


def test_building_the_parser_imports_no_handler():
    # `pilot-tui --help` (and a usage error) stays fast: no command's module, nor the engine
    # or the Terraform runner behind them, is imported to build the parser.
    import subprocess
    import sys

    modules = sorted({h.module for h in _handlers(build_parser())})
    script = (
        "import sys\n"
        "from pilot_tui.cli.parser import build_parser\n"
        "build_parser()\n"
        f"print(sorted(set({modules!r} + ['pilot_tui.runner', 'pilot_tui.deploy.engine']) "
        "& set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
    result = cli(
        "init",
        "--name",
        "acme",
        "--home",
        "aws",
        "--aws-region",
        "eu-west-1",
        "--allowed-cidr",
        "203.0.113.7/32",
        "--allowed-cidr",
        "198.51.100.0/24",
    )
    assert result.code == 0, result.err
    data = tomllib.loads((tmp_path / "pilot.toml").read_text())
    assert data["project"]["name"] == "acme"
    assert data["server"]["home"] == "aws"
    assert data["aws"]["region"] == "eu-west-1"
    assert data["server"]["allowed_cidrs"] == ["203.0.113.7/32", "198.51.100.0/24"]
    assert "# names and tags every cloud resource" in (tmp_path / "pilot.toml").read_text()


@pytest.mark.parametrize("home", ["sandbox", "aws", "gcp", "host"])
def test_init_sets_up_every_home_from_flags(cli, tmp_path, home):
    # Each answer used to be validated before the later ones were applied, so `--home gcp`
    # failed for want of the gcp.project that --gcp-project was about to give.
    key_file = tmp_path / "pilot-sa.json"
    key_file.write_text("{}")
    flags = {
        "sandbox": [],
        "aws": [
            "--aws-profile",
            "acme",
            "--aws-region",
            "eu-west-1",
            "--allowed-cidr",
            "203.0.113.7/32",
            "--state-backend",
            "s3",
        ],
        "gcp": [
            "--gcp-project",
            "acme-prod-123",
            "--gcp-region",
            "europe-west1",
            "--gcp-credentials",
            str(key_file),
            "--state-backend",
            "gcs",
        ],
        "host": ["--host", "unix:///var/run/docker.sock"],
    }[home]
    result = cli("init", "--name", "x", "--home", home, *flags)
    assert result.code == 0, result.err
    data = tomllib.loads((tmp_path / "pilot.toml").read_text())
    assert data["server"]["home"] == home
    expected = {
        "sandbox": {},
        "aws": {"aws": {"profile": "acme", "region": "eu-west-1"}, "state": {"backend": "s3"}},
        "gcp": {
            "gcp": {
                "project": "acme-prod-123",
                "region": "europe-west1",
                "credentials": str(key_file),
            },
            "state": {"backend": "gcs"},
        },
        "host": {"server": {"host": "unix:///var/run/docker.sock"}},
    }[home]
    for table, values in expected.items():
        for key, value in values.items():
            assert data[table][key] == value, f"{table}.{key}"
    assert cli("config", "validate").code == 0


def test_init_names_the_flag_a_home_still_needs(cli, tmp_path):
    result = cli("init", "--name", "x", "--home", "gcp")
    assert result.code == 2
    assert "gcp.project" in result.err and "--gcp-project" in result.err
    result = cli("init", "--name", "x", "--home", "host")
    assert result.code == 2 and "--host" in result.err
    assert not (tmp_path / "pilot.toml").exists()


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
    # worded as every other command's unknown app (found walking: two wordings)
    assert result.code == 2 and 'no app "web" in pilot.toml (apps: none yet)' in result.err


def test_get_a_key_that_is_not_set_says_so_not_that_there_is_no_such_key(cli, project):
    """Found walking: `config get server.size`, a documented key commented in the starter
    file, said "server.size: no such key" (exit 2). It is not set: said, with what applies
    then, exit 1 (as `git config` does); --json prints null."""
    unset = cli("config", "get", "server.size")
    assert unset.code == 1 and unset.out == ""
    assert "server.size: not set; Machine type. Unset: t3.small on AWS" in unset.err
    as_json = cli("config", "get", "server.size", "--json")
    assert as_json.code == 1 and as_json.out.strip() == "null"
    assert cli("config", "set", "server.size", '"t3.medium"').code == 0
    assert cli("config", "get", "server.size").out == "t3.medium\n"
    typo = cli("config", "get", "server.sise")  # the unset keys count for suggestions
    assert typo.code == 2 and 'did you mean "size"' in typo.err


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


def test_a_setting_that_needs_a_command_to_take_effect_says_which(cli, project):
    """Found walking: `config set server.ci_worker true` said nothing of `server up` and
    the deploy that starts the worker; a key with nothing to run says nothing more."""
    assert cli("config", "set", "server.home", '"aws"').code == 0
    assert cli("config", "set", "state.backend", '"s3"').code == 0
    turned = cli("config", "set", "server.ci_worker", "true")
    assert turned.code == 0, turned.err
    assert turned.err.startswith("next: `pilot-tui server up` grants the server's role")
    assert "`pilot-tui deploy` from here starts it" in turned.err
    assert "next:" not in cli("config", "set", "server.ci_worker", "true").err  # unchanged
    off = cli("config", "unset", "server.ci_worker").err
    assert off.startswith("next: the next `pilot-tui deploy` from here removes the worker"), off
    assert "server up" not in off
    assert "next:" not in cli("config", "set", "server.ci_worker", "false").err  # off already
    moved = cli("config", "set", "server.ci_worker", "true")
    refused = cli("config", "set", "server.home", '"sandbox"')  # the worker needs AWS
    assert moved.code == 0 and refused.code == 2
    assert "turn this off: pilot-tui config unset server.ci_worker" in refused.err
    # An invalid file before (the worker on a sandbox's server): turning it off needs no
    # deploy to remove a worker that never ran (review)
    project.write_text(project.read_text().replace('home = "aws"', 'home = "sandbox"'))
    fixed = cli("config", "unset", "server.ci_worker")
    assert fixed.code == 0, fixed.err
    assert "next:" not in fixed.err
    assert "next:" not in cli("config", "set", "aws.region", '"eu-west-1"').err
    assert "next:" not in cli("config", "set", "apps", '[{ name = "api", path = "." }]').err


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
    doc = REPO / "docs" / "pilot-toml.md"
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
    result = run_pilot("config", "validate", "--project", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "nope.toml does not exist" in result.stderr


def test_write_keeps_permissions(cli, project):
    os.chmod(project, 0o640)
    assert cli("config", "set", "aws.region", "eu-west-1").code == 0
    assert stat.S_IMODE(project.stat().st_mode) == 0o640


def test_set_in_a_crlf_file_keeps_crlf_and_comments(cli, project):
    # A pilot.toml saved on Windows (or by a CRLF editor) could never be edited: the
    # "changed on disk" guard compared the newline-normalised text with the raw bytes.
    crlf = project.read_bytes().replace(b"\n", b"\r\n")
    project.write_bytes(crlf)
    comments = [line for line in crlf.split(b"\r\n") if line.lstrip().startswith(b"#")]
    result = cli("config", "set", "aws.region", "eu-west-1")
    assert result.code == 0, result.err
    # A key tomlkit adds (a new table and key) gets the file's line ending too.
    result = cli("config", "set", "gcp.region", "europe-west1")
    assert result.code == 0, result.err
    raw = project.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n") > 0, "every line ends in CRLF"
    assert all(comment in raw.split(b"\r\n") for comment in comments)
    data = tomllib.loads(raw.decode())
    assert data["aws"]["region"] == "eu-west-1" and data["gcp"]["region"] == "europe-west1"
    assert cli("config", "unset", "gcp.region").code == 0
    assert b"\r\n" in project.read_bytes() and b"\n" not in project.read_bytes().replace(
        b"\r\n", b""
    )


def test_set_through_a_symlink_updates_its_target(cli, project, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "pilot.toml"
    project.rename(target)
    project.symlink_to(target)
    assert cli("config", "set", "aws.region", "eu-west-1").code == 0
    assert project.is_symlink() and project.resolve() == target
    assert tomllib.loads(target.read_text())["aws"]["region"] == "eu-west-1"
    # The temp file was made beside the target (same filesystem), and none is left.
    assert [p.name for p in shared.iterdir()] == ["pilot.toml"]


def test_set_a_new_key_in_a_padded_inline_table_keeps_its_padding(cli, project):
    # tomlkit put the new key after the table's closing padding: `{ kind = "server", x = 8}`.
    assert cli("config", "set", "apps", '[{ name = "api", path = "." }]').code == 0
    text = project.read_text().replace('path = "." }', 'path = ".", target = { kind = "server" } }')
    project.write_text(text)
    assert cli("config", "set", "apps.api.target.health_timeout", "8").code == 0
    assert 'target = { kind = "server", health_timeout = 8 }' in project.read_text()
    assert cli("config", "set", "apps.api.target.port", "9000").code == 0
    assert 'target = { kind = "server", health_timeout = 8, port = 9000 }' in project.read_text()


def test_set_a_new_key_keeps_the_blank_line_between_tables_and_the_last_newline(cli, tmp_path):
    """Found walking: a new key took the blank line between two [[apps]] tables, the last
    table's dropped the file's final newline, and the next set of the file was refused
    ("could not make this change without disturbing other lines")."""
    project = tmp_path / "pilot.toml"
    apps = "".join(
        f'\n[[apps]]\nname = "{name}"\npath = "."\ntarget = {{ kind = "server" }}\n'
        for name in ("a", "b")
    )
    project.write_text('[project]\nname = "acme"\n\n[server]\nhome = "sandbox"\n' + apps)
    for key, value in (
        ("apps.a.secrets", '["X"]'),
        ("apps.b.env", '{A="1"}'),
        ("apps.a.env", '{B="2"}'),  # refused before
        ("server.size", '"t3.small"'),
    ):
        done = cli("config", "set", key, value)
        assert done.code == 0, (key, done.err)
    assert project.read_text() == (
        '[project]\nname = "acme"\n\n[server]\nhome = "sandbox"\nsize = "t3.small"\n'
        '\n[[apps]]\nname = "a"\npath = "."\ntarget = { kind = "server" }\n'
        'secrets = ["X"]\nenv = {B="2"}\n'
        '\n[[apps]]\nname = "b"\npath = "."\ntarget = { kind = "server" }\nenv = {A="1"}\n'
    )


def test_a_wrong_flag_is_said_with_the_commands_own_usage(cli, project):
    """Found walking: `deploy --bogus web` printed the top level's usage (`usage: pilot-tui
    [-h] [--version] ... COMMAND ...`), not deploy's."""
    for args, usage in (
        (("deploy", "--bogus", "web"), "usage: pilot-tui deploy "),
        (("server", "destroy", "--bogus"), "usage: pilot-tui server destroy "),
        (("--bogus",), "usage: pilot-tui [-h]"),
    ):
        refused = cli(*args)
        assert refused.code == 2, args
        assert refused.err.startswith(usage), (args, refused.err)
        assert "error: unrecognized arguments: --bogus" in refused.err


def test_app_list_json_says_an_undeployed_app_with_nulls(cli):
    """Found walking: `app list` had no --json (status and releases have)."""
    from pilot_tui.apps import add_app
    from pilot_tui.config.document import ProjectFile

    assert cli("init").code == 0
    pf = ProjectFile.load(Path("pilot.toml"))
    Path("web").mkdir()
    app = {"name": "web", "path": "web", "build": {"kind": "auto"}, "target": {"kind": "server"}}
    pf.save(add_app(pf.text, app))
    listed = cli("app", "list", "--json")
    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == [
        {
            "name": "web",
            "build": "auto",
            "target": "server",
            "live": None,
            "url": None,
            "simulated_url": None,
        }
    ]


def test_a_rollback_of_an_app_never_released_says_so_before_anything(cli, project):
    """Found walking: `rollback` of an app with no release pulled the edge's image (or
    failed on it), then said "release failed: no earlier release to roll back to", exit 1.
    It is bad input, said first: deploy it."""
    site = 'build = { kind = "static" }, target = { kind = "s3-cloudfront" }'
    app = f'[{{ name = "docs", path = ".", {site} }}]'
    assert cli("config", "set", "apps", app).code == 0
    for asked in (["docs"], ["docs", "v3"], ["docs", ""]):
        back = cli("rollback", *asked)
        assert back.code == 2, back.err
        assert "docs has no releases yet: nothing to roll back (pilot-tui deploy docs)" in back.err
        assert "release failed" not in back.err


def test_a_negative_tail_is_refused_before_anything(cli, project):
    """Found walking: `logs web --tail -3` was taken."""
    refused = cli("logs", "web", "--tail", "-3")
    assert refused.code == 2
    assert "--tail -3: the lines to start with must be 0 or more" in refused.err


def test_a_value_begun_as_a_toml_string_and_not_ended_is_refused_not_set_as_text(cli, project):
    """Found walking: `config set aws.region '"eu-west-1'` set the bare text "eu-west-1
    (quote and all), then complained it was no AWS region."""
    before = project.read_bytes()
    result = cli("config", "set", "aws.region", '"eu-west-1')
    assert result.code == 2
    assert '"eu-west-1 starts as a TOML string and does not end as one' in result.err
    assert "quote it whole ('\"eu-west-1\"') or not at all (eu-west-1)" in result.err
    assert project.read_bytes() == before
    assert cli("config", "set", "aws.region", "eu-west-1").code == 0  # bare text still works
    # text that starts as other TOML does, and is not, is text (review: a log format, a
    # shell test or a name with an apostrophe were refused)
    assert cli("config", "set", "apps", '[{ name = "api", path = "." }]').code == 0
    for text in ("[%(levelname)s] %(message)s", "[ -f x ] && run", "'s-Hertogenbosch"):
        assert cli("config", "set", "apps.api.env.FORMAT", text).code == 0, text
        assert cli("config", "get", "apps.api.env.FORMAT").out == text + "\n"


def test_a_refused_config_set_is_said_as_every_other_cli_error(cli, project):
    """Found walking: a refused `config set` began "refused:", where every other error of
    the CLI begins "pilot-tui: error:" (scripts and people look for one prefix)."""
    before = project.read_bytes()
    result = cli("config", "set", "server.http_port", "abc")
    assert result.code == 2
    assert result.err.startswith(
        "pilot-tui: error: set server.http_port would leave pilot.toml invalid; the file is "
        "unchanged"
    ), result.err
    assert 'server.http_port: expected an integer, got string "abc"' in result.err
    assert project.read_bytes() == before
    # said as the command typed (found walking: "removed project.name would leave ...")
    unset = cli("config", "unset", "project.name")
    assert unset.code == 2
    assert unset.err.startswith("pilot-tui: error: unset project.name would leave"), unset.err
    assert project.read_bytes() == before


def test_app_new_refuses_a_secret_that_is_not_one_name_and_a_name_taken(cli, project):
    """Found walking: `app new --secret 'bad name'` wrote secrets = ["bad", "name"], exit 0;
    a --name already taken was refused as `apps[2].name: app "api" is defined twice (first
    as app number 2)`, a key the person never typed."""
    before = project.read_bytes()
    spaced = cli("app", "new", "--path", ".", "--name", "web", "--secret", "bad name", "--yes")
    assert spaced.code == 2
    assert "--secret 'bad name' is not a secret's name" in spaced.err
    assert project.read_bytes() == before
    assert (
        cli("app", "new", "--path", ".", "--name", "web", "--secret", "API_KEY", "--yes").code == 0
    )
    again = cli("app", "new", "--path", ".", "--name", "web", "--yes")
    assert again.code == 2
    assert 'there is an app named "web" in pilot.toml already: choose another --name' in again.err
    assert "defined twice" not in again.err


def test_a_rollback_with_nothing_before_the_live_release_is_bad_input(cli, project):
    """Found walking: `rollback web` with v1 alone said "error: web: release failed: no
    earlier release to roll back to", exit 1, where no release failed. It is the
    rollback's choice that finds nothing (under the lease: a deploy under way may make a
    release to go back from), said as such, exit 2."""
    from pilot_tui.deploy import history

    site = 'build = { kind = "static" }, target = { kind = "s3-cloudfront" }'
    assert cli("config", "set", "apps", f'[{{ name = "docs", path = ".", {site} }}]').code == 0
    v1 = history.Release("v1", "docs", "site", "sha256:1", "2026-12-06T10:00:00Z", "live")
    history.save(project.parent / ".pilot", "docs", [v1])
    back = cli("rollback", "docs")
    assert back.code == 2, back.err
    assert (
        "docs: rollback failed: nothing to roll back to: no earlier release went live "
        "(docs has only v1)" in back.err
    )
    assert "release failed" not in back.err


def test_secrets_list_has_json_with_names_and_sources_never_values(cli, project):
    """Found walking: `secrets list APP --json` was refused, where every other listing
    takes --json. Names and where each value comes from; never a value."""
    import json

    assert (
        cli("app", "new", "--path", ".", "--name", "api", "--secret", "API_KEY", "--yes").code == 0
    )
    from pilot_tui.deploy import secrets

    state_dir = project.parent / ".pilot"
    secrets.store(state_dir, "api", "API_KEY", "s3cr3t-value")
    secrets.store(state_dir, "api", "EXTRA", "another-value")
    listed = cli("secrets", "list", "api", "--json")
    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == [
        {"name": "API_KEY", "from": ".pilot/secrets", "passed": True},
        {"name": "EXTRA", "from": ".pilot/secrets", "passed": False},
    ]
    assert "s3cr3t-value" not in listed.out and "another-value" not in listed.out


def test_status_says_a_failed_first_deploy_under_not_deployed(cli, project):
    """Found walking: an app whose only deploy failed showed as `not deployed`, as one never
    tried. The last deploy's failure is said under it, and in --json."""
    import json

    from pilot_tui.deploy import history

    site = 'build = { kind = "static" }, target = { kind = "s3-cloudfront" }'
    assert cli("config", "set", "apps", f'[{{ name = "docs", path = ".", {site} }}]').code == 0
    failed = history.Release(
        "v1", "docs", "site", "", "2026-12-06T10:00:00Z", history.FAILED, note="build failed"
    )
    history.save(project.parent / ".pilot", "docs", [failed])
    shown = cli("status")
    assert shown.code == 0, shown.err
    row, note = [line for line in shown.out.splitlines() if "docs" in line][:2]
    assert "not deployed" in row
    assert "last deploy failed: v1 at 2026-12-06T10:00:00Z (build failed)" in note
    [as_json] = json.loads(cli("status", "--json").out)
    assert as_json["health"] == "not deployed"
    assert as_json["notes"] == [
        "last deploy failed: v1 at 2026-12-06T10:00:00Z (build failed); pilot-tui releases docs"
    ]


def test_server_destroy_lists_every_release_history_and_says_what_it_keeps(project, capsys):
    """Found walking: a history whose only release failed was neither listed nor removed
    by `server destroy` ("What remains: nothing."), and `releases` then named an image the
    destroy had deleted; what stays on purpose (the secrets' values, the SSH key) was
    unsaid."""
    from pilot_tui.cli.teardown_cmd import _show_kept_here
    from pilot_tui.deploy import history, secrets
    from pilot_tui.teardown.scan import local_records

    state_dir = project.parent / ".pilot"
    failed = history.Release(
        "v1", "web", "pilot/acme-web:1", "sha256:1", "2026-12-06T10:00:00Z", "failed"
    )
    history.save(state_dir, "web", [failed])
    # a conflict's copy is the only one: kept, and said (review: listed as an app, deleted)
    conflict = state_dir / "releases" / "web.conflict-20261206T100000Z.json"
    conflict.write_text("[]")
    [record] = [t for t in local_records(state_dir) if t.name.startswith(".pilot/releases/")]
    assert record.name == ".pilot/releases/web.json" and "nothing live" in record.found
    (state_dir / "secrets").mkdir(parents=True, exist_ok=True)
    _show_kept_here(state_dir)
    assert "secrets" not in capsys.readouterr().out  # an empty folder holds nothing to keep
    secrets.store(state_dir, "web", "API_KEY", "value")
    _show_kept_here(state_dir)
    assert capsys.readouterr().out == (
        "Kept on this machine, yours to delete: .pilot/secrets/ (your apps' secret values), "
        ".pilot/releases/*.conflict-*.json (release records that conflicted with the shared "
        "history).\n"
    )


def test_a_rollback_waiting_for_a_deploy_leaves_the_choice_to_after_the_wait(cli, project):
    """Review: the early "nothing to roll back to" refused `rollback APP --wait N` queued
    behind a teammate's deploy that would make a release to go back from. With --wait
    (or in a CI run, whose request queues behind others) and no release named, the choice
    is made after the wait, under the lease, as before."""
    from pilot_tui.deploy import history

    site = 'build = { kind = "static" }, target = { kind = "s3-cloudfront" }'
    assert cli("config", "set", "apps", f'[{{ name = "docs", path = ".", {site} }}]').code == 0
    v1 = history.Release("v1", "docs", "site", "sha256:1", "2026-12-06T10:00:00Z", "live")
    history.save(project.parent / ".pilot", "docs", [v1])
    waited = cli("rollback", "docs", "--wait", "1")
    # not refused before the wait: chosen after it (none made meanwhile: said then, exit 2)
    assert not waited.err.startswith("pilot-tui: error: docs: nothing to roll back to"), waited.err
    assert "rollback failed: nothing to roll back to" in waited.err and waited.code == 2
