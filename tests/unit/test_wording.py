"""Counts in words: found walking, "1 problem(s)", "1 file(s) changed" and "1 tables"."""

from pilot_tui.wording import counted, plural


def test_one_is_singular_and_every_other_count_plural():
    assert [counted(n, "problem") for n in (0, 1, 2)] == ["0 problems", "1 problem", "2 problems"]
    assert counted(1, "image tag") == "1 image tag" and counted(3, "image tag") == "3 image tags"
    assert (
        plural(2, "child", "children") == "children" and plural(1, "child", "children") == "child"
    )


def test_a_size_reads_as_people_say_it():
    """Found walking: a 12-byte file was said to be "0.0 kB"."""
    from pilot_tui.wording import size

    sizes = (0, 1, 12, 999, 1000, 4500, 99_999, 100_000, 999_949, 999_950, 2_345_678)
    assert [size(n) for n in sizes] == [
        "0 bytes",
        "1 byte",
        "12 bytes",
        "999 bytes",
        "1.0 kB",
        "4.5 kB",
        "100.0 kB",
        "100.0 kB",
        "999.9 kB",
        "1.0 MB",
        "2.3 MB",
    ]
