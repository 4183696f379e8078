"""Validator behaviour beyond the corpus: all problems at once, warnings, JSON, answers."""

from __future__ import annotations

import json
import re

import pytest

from pilot_tui.config.starter import starter_text
from pilot_tui.config.validate import check_text
from pilot_tui.questions import QUESTIONS, check_answer


def test_all_problems_are_reported_at_once_in_file_order():
    text = (
        '[server]\nhome = "awss"\ndocker_access = "tcp"\n[state]\nbackend = "s4"\n'
        '[project]\nname = "acme"\n'
    )
    lines = check_text(text, "p.toml").report.lines()
    assert [line.split(": ")[0] for line in lines] == ["p.toml:2:8", "p.toml:3:17", "p.toml:5:11"]


def test_warnings_alone_keep_the_file_valid(cli, project):
    project.write_text(
        project.read_text().replace("allowed_cidrs = []", 'allowed_cidrs = ["0.0.0.0/0"]')
    )
    result = cli("config", "validate")
    assert result.code == 0
    assert 'warning: "0.0.0.0/0" lets the whole internet reach SSH and Docker' in result.err


def test_validate_json(cli, project):
    project.write_text(project.read_text().replace('home = "sandbox"', 'home = "aws "'))
    result = cli("config", "validate", "--json")
    assert result.code == 2
    report = json.loads(result.out)
    assert report["valid"] is False
    problem = report["problems"][0]
    assert problem["key"] == "server.home" and problem["line"] == 10
    assert 'did you mean "aws"' in problem["message"]


def test_a_file_with_only_the_project_name_is_valid_with_defaults():
    checked = check_text('[project]\nname = "acme"\n', "p.toml")
    assert checked.report.ok
    assert checked.config is not None and checked.config.server.home == "sandbox"


def test_question_answers_use_the_validator_messages():
    draft = starter_text("acme")
    region = next(q for q in QUESTIONS if q.key == "aws.region")
    assert check_answer(draft, region, "eu-west-1") is None
    assert "is a GCP region" in (check_answer(draft, region, "us-central1") or "")
    name = next(q for q in QUESTIONS if q.key == "project.name")
    assert "lowercase" in (check_answer(draft, name, "Acme Co") or "")
    assert check_answer(draft, name, "") == "an answer is needed"


def test_edit_guard_refuses_an_edit_that_disturbs_other_lines():
    import pytest

    from pilot_tui.config.document import _check_edit
    from pilot_tui.config.keys import KeyError_

    old = '[server]\nhome = "aws"\n# keep me\n'
    fine = '[server]\nhome = "gcp"\n# keep me\n'
    _check_edit(old, fine, "server.home", ("server", "home"), "gcp")
    glued = '[server]\nhome = "gcp"# keep me\n'  # same data, but the comment line is gone
    with pytest.raises(KeyError_, match="nothing was written"):
        _check_edit(old, glued, "server.home", ("server", "home"), "gcp")
    other_value = '[server]\nhome = "gcp"\nengine = "waypoint"\n# keep me\n'
    with pytest.raises(KeyError_):
        _check_edit(old, other_value, "server.home", ("server", "home"), "gcp")


# -- gaps found by the trust sweep (issue 11, item 22) -----------------------------------

MINIMAL = '[project]\nname = "acme"\n'


def _only(text: str, key: str):
    """The problems reported on ``key`` (every other key of ``text`` is fine)."""
    report = check_text(text, "pilot.toml").report
    return [p for p in report.problems if p.key == key]


def test_a_deeply_nested_array_is_a_clear_error_not_a_crash(cli, project):
    depth = 5000  # deep enough to overflow any recursive parser
    text = project.read_text().replace(
        'engine = "pilot"', 'engine = "pilot"\nx = ' + "[" * depth + "]" * depth
    )
    project.write_text(text)
    result = cli("config", "validate")
    assert result.code == 2
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("x = [[["))
    assert re.search(
        rf"^pilot\.toml:{line}:\d+: server\.x: .*nested more than \d+ levels", result.err, re.M
    ), result.err[-2000:]
    assert "Traceback" not in result.err and "RecursionError" not in result.err


async def test_the_app_starts_on_a_deeply_nested_file(tmp_path):
    from pilot_tui.screens.app import create_app

    deep = tmp_path / "pilot.toml"
    deep.write_text(MINIMAL + "[server]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    app = create_app(str(deep))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("escape")  # the editor opens first on a broken file
        await pilot.pause()
        status = str(app.screen.query_one("#project-status").render())
        assert "nested more than" in status


@pytest.mark.parametrize("text", ["", "# only a comment\n", '[server]\nhome = "sandbox"\n'])
def test_a_file_without_project_is_an_error_naming_it(text):
    report = check_text(text, "pilot.toml").report
    assert not report.ok
    (problem,) = [p for p in report.errors if "[project]" in p.message]
    assert (problem.line, problem.col) == (1, 1)
    assert 'name = "' in problem.message  # says what to write


@pytest.mark.parametrize(
    "value", ["@127.0.0.2:9/", "health", "//evil.example/x", "/ok\r\nHost: evil", "/a b"]
)
@pytest.mark.parametrize("kind", ["server", "ecs"])
def test_health_path_must_be_a_path_on_the_app_itself(value, kind):
    text = MINIMAL + (
        f'[[apps]]\nname = "api"\ntarget = {{ kind = "{kind}", health_path = '
        f"{json.dumps(value)} }}\n"
    )
    if kind == "ecs":
        text = text.replace("[[apps]]", '[aws]\nregion = "us-east-1"\n\n[[apps]]')
    problems = _only(text, "apps.api.target.health_path")
    assert problems and problems[0].severity == "error", check_text(text).report.lines()
    assert "\r" not in problems[0].message and "\n" not in problems[0].message


def test_a_plain_health_path_with_a_query_is_fine():
    text = MINIMAL + '[[apps]]\nname = "api"\ntarget = { health_path = "/healthz?full=1" }\n'
    assert check_text(text).report.ok


@pytest.mark.parametrize(
    "table, key, value",
    [
        (
            '[[apps]]\nname = "api"\n',
            "target",
            '{ kind = "server", domain = "a.example\\r\\nX: y" }',
        ),
        ('[[apps]]\nname = "api"\n', "target", '{ kind = "server", domain = "example.com\\n" }'),
        ('[[apps]]\nname = "web"\n', "target", '{ kind = "s3-cloudfront", domain = "x y.com" }'),
        ("[aws]\n", "profile", '"dev\\u0000prod"'),
        ("[project]\n", "name", '"acme\\n"'),
    ],
)
def test_control_characters_and_malformed_domains_are_refused(table, key, value):
    text = (MINIMAL if "[project]" not in table else "") + f"{table}{key} = {value}\n"
    report = check_text(text, "pilot.toml").report
    assert not report.ok, text
    for line in report.lines():
        assert "\r" not in line and "\n" not in line and "\x00" not in line


def test_a_good_domain_is_fine():
    text = MINIMAL + '[[apps]]\nname = "api"\ntarget = { domain = "api.Example.co.uk" }\n'
    assert check_text(text).report.ok


@pytest.mark.parametrize(
    "host",
    [
        "ssh://-oProxyCommand=touch${IFS}x@example.com",
        "ssh://deploy@-oProxyCommand=x",
        "ssh://-x",
        "ssh://deploy@",
    ],
)
def test_an_ssh_host_that_ssh_would_read_as_an_option_is_refused(host):
    text = MINIMAL + f'[server]\nhome = "host"\nhost = "{host}"\n'
    problems = _only(text, "server.host")
    assert problems and problems[0].severity == "error", check_text(text).report.lines()


def test_a_normal_ssh_host_is_fine():
    text = MINIMAL + '[server]\nhome = "host"\nhost = "ssh://deploy@build.example.com:2222"\n'
    assert check_text(text).report.ok


def test_gcp_credentials_that_are_not_a_key_file_are_warned_about(tmp_path):
    key = tmp_path / "key.json"
    key.write_text('{"type": "service_account", "client_email": "x@y.iam.gserviceaccount.com"}')
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello\n")

    def problems(value: str) -> list[str]:
        text = MINIMAL + f'[gcp]\ncredentials = "{value}"\n'
        return [
            p.message
            for p in check_text(text, base_dir=tmp_path).report.problems
            if p.key == "gcp.credentials"
        ]

    assert problems(str(key)) == []
    assert problems("key.json") == []
    assert any("not a JSON key file" in m for m in problems(str(not_json)))
    shadow = problems("/etc/shadow")
    assert shadow and any("system" in m for m in shadow), shadow
    assert any("not a regular file" in m for m in problems("/dev/zero"))  # and no hang


async def test_with_only_managed_apps_the_home_screen_never_sends_one_to_make_a_server(
    tmp_path,
):
    """Found walking: two serverless apps, never deployed: the home screen said "Server:
    not provisioned" and "Next: press s to plan and create the Pilot Server", which none
    of them needs."""

    project = tmp_path / "pilot.toml"
    project.write_text(
        MINIMAL
        + '\n[[apps]]\nname = "web"\npath = "site"\n\n  [apps.target]\n  kind = "s3-cloudfront"\n'
        + '\n[[apps]]\nname = "fn"\npath = "fn"\n\n  [apps.target]\n  kind = "lambda"\n'
        + '  package = "zip"\n  handler = "app.handler"\n'
    )
    (tmp_path / "site").mkdir()
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    status, following = await _home_screen(project)
    assert "not provisioned (no app needs it" in status, status
    assert "create the Pilot Server" not in following and "to deploy it" in following, following

    # An image app on a managed target is built on the Pilot Server: that one needs it.
    project.write_text(
        project.read_text()
        + '\n[[apps]]\nname = "svc"\npath = "svc"\n\n  [apps.build]\n  kind = "dockerfile"\n'
        + '\n  [apps.target]\n  kind = "ecs"\n'
    )
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text("FROM scratch\n")
    status, following = await _home_screen(project)
    assert "no app needs it" not in status, status
    assert "create the Pilot Server" in following, following


async def _home_screen(project) -> tuple[str, str]:
    """The home screen's project status and next step, as first shown."""
    from pilot_tui.screens.app import create_app

    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        return (
            str(app.screen.query_one("#project-status").render()),
            str(app.screen.query_one("#next-step").render()),
        )


def test_a_string_left_open_is_said_as_such_not_as_an_illegal_newline():
    """Found walking: a quote missing at a line's end said "Illegal character '\\n'"; and
    (a later walk) at the line's end, not at the quote that opened the string."""
    report = check_text('[project]\nname = "acme\n').report
    assert report.lines() == [
        "pilot.toml:2:8: project.name: TOML syntax error: a string is not closed on this "
        "line (its closing quote is missing)"
    ]


async def test_a_sandbox_server_gone_with_its_emulators_is_said_gone_on_the_home_screen(
    tmp_path,
):
    """Found walking: once the sandbox's emulators stopped (the app's exit stops them),
    its server was gone, yet the app called it up, and then "not provisioned" where
    `server status` says gone."""
    project = tmp_path / "pilot.toml"
    project.write_text(MINIMAL + '\n[server]\nhome = "sandbox"\n')
    outputs = tmp_path / ".pilot" / "outputs"
    outputs.mkdir(parents=True)
    record = {"home": "sandbox", "outputs": {"public_ip": "54.214.243.10"}}
    (outputs / "server.json").write_text(json.dumps(record))  # no emulator runs
    status, _ = await _home_screen(project)
    assert "Server (sandbox): gone: the sandbox's local AWS API stopped" in status, status
