"""Validator behaviour beyond the corpus: all problems at once, warnings, JSON, answers."""

from __future__ import annotations

import json

from pilot_tui.config.starter import starter_text
from pilot_tui.config.validate import check_text
from pilot_tui.questions import QUESTIONS, check_answer


def test_all_problems_are_reported_at_once_in_file_order():
    text = '[server]\nhome = "awss"\ndocker_access = "tcp"\n[state]\nbackend = "s4"\n'
    lines = check_text(text, "p.toml").report.lines()
    assert [line.split(": ")[0] for line in lines] == ["p.toml:2:8", "p.toml:3:17",
                                                       "p.toml:5:11"]


def test_warnings_alone_keep_the_file_valid(cli, project):
    project.write_text(project.read_text().replace("allowed_cidrs = []",
                                                   'allowed_cidrs = ["0.0.0.0/0"]'))
    result = cli("config", "validate")
    assert result.code == 0
    assert "warning: \"0.0.0.0/0\" lets the whole internet reach SSH and Docker" in result.err


def test_validate_json(cli, project):
    project.write_text(project.read_text().replace('home = "sandbox"', 'home = "aws "'))
    result = cli("config", "validate", "--json")
    assert result.code == 2
    report = json.loads(result.out)
    assert report["valid"] is False
    problem = report["problems"][0]
    assert problem["key"] == "server.home" and problem["line"] == 10
    assert 'did you mean "aws"' in problem["message"]


def test_empty_file_is_valid_with_defaults():
    checked = check_text("", "p.toml")
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
