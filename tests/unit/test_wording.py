"""Counts in words: found walking, "1 problem(s)", "1 file(s) changed" and "1 tables"."""

from pilot_tui.wording import counted, plural


def test_one_is_singular_and_every_other_count_plural():
    assert [counted(n, "problem") for n in (0, 1, 2)] == ["0 problems", "1 problem", "2 problems"]
    assert counted(1, "image tag") == "1 image tag" and counted(3, "image tag") == "3 image tags"
    assert (
        plural(2, "child", "children") == "children" and plural(1, "child", "children") == "child"
    )
