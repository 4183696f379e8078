"""The hand-written corpora: round-trip edits keep every other byte; broken files are
reported at the right line, column and key, and are never modified."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.paths import TESTS

CORPUS = TESTS / "corpus"
ROUNDTRIP = sorted((CORPUS / "roundtrip").glob("*.toml"))
BAD = sorted((CORPUS / "bad").glob("*.toml"))
REPORT_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<key>.+?): (?P<msg>.*)$")


def _headers(path: Path, name: str) -> list[str]:
    prefix = f"# {name}: "
    return [
        line[len(prefix) :] for line in path.read_text().splitlines() if line.startswith(prefix)
    ]


def test_corpus_sizes():
    assert len(ROUNDTRIP) >= 10
    assert len(BAD) >= 25


@pytest.mark.parametrize("source", ROUNDTRIP, ids=lambda p: p.stem)
def test_roundtrip_set_changes_exactly_one_value(source, tmp_path, cli):
    (setting,) = _headers(source, "set")
    (expected_line,) = _headers(source, "expect")
    key, value = setting.split(" ", 1)
    target = tmp_path / "pilot.toml"
    shutil.copy(source, target)
    before = target.read_text().splitlines(keepends=True)
    assert cli("config", "validate").code == 0
    result = cli("config", "set", key, value)
    assert result.code == 0, result.err
    after = target.read_text().splitlines(keepends=True)
    assert len(after) == len(before)
    changed = [i for i, (old, new) in enumerate(zip(before, after, strict=True)) if old != new]
    assert len(changed) == 1, [(before[i], after[i]) for i in changed]
    assert after[changed[0]].rstrip("\n") == expected_line
    assert cli("config", "validate").code == 0


@pytest.mark.parametrize("source", BAD, ids=lambda p: p.stem)
def test_bad_file_is_reported_precisely_and_left_alone(source, tmp_path, cli):
    expectations = _headers(source, "expect")
    assert expectations, f"{source.name} has no '# expect:' line"
    original = source.read_bytes()
    result = cli("config", "validate", "--project", str(source))
    assert result.code == 2
    reported = [m for m in map(REPORT_LINE.match, result.err.splitlines()) if m]
    for expectation in expectations:
        where, rest = expectation.split(" ", 1)
        line, col = where.split(":")
        key, substring = rest.split(": ", 1)
        hits = [
            m
            for m in reported
            if (m["line"], m["col"], m["key"]) == (line, col, key) and substring in m["msg"]
        ]
        assert hits, f"{source.name}: expected {expectation!r}\ngot:\n{result.err}"
    assert source.read_bytes() == original

    # A change to an unrelated key is refused while the file stays broken.
    copy = tmp_path / "pilot.toml"
    copy.write_bytes(original)
    mentioned = " ".join(expectations)
    key, value = next(
        (k, v)
        for k, v in (
            ("server.engine", '"pilot"'),
            ("state.backend", '"local"'),
            ("gcp.region", '"us-east1"'),
        )
        if k not in mentioned and k.split(".")[0] not in mentioned
    )
    result = cli("config", "set", key, value)
    assert result.code == 2
    assert copy.read_bytes() == original
