"""`pilot-tui releases APP` as a table that fits the terminal: found walking, its rows were
105 to 115 columns wide at 80 (the fixed columns took 60 before the image began)."""

from pilot_tui.cli.deploy_cmds import release_rows
from pilot_tui.deploy.history import Release

IMAGE = "s3://pilot-walk-web-site"
DIGEST = "zip:" + "ab12" * 16  # one token, 68 characters


def _release(n: int, image: str, note: str = "") -> Release:
    return Release(
        f"v{n}", "web", image, "sha256:x", f"2026-12-05T22:4{n}:01Z", "superseded", note=note
    )


def test_the_rows_fit_80_columns_newest_first_with_what_each_changed():
    records = [
        _release(1, IMAGE, "1 file changed"),
        _release(2, DIGEST),
        _release(3, IMAGE, "rollback to v1; the previous release failed its health check twice"),
    ]
    changed = [[], [f"image {IMAGE} -> {DIGEST}"], ["env added: GREETING, MODE, FEATURE_FLAGS"]]
    rows = release_rows(records, changed, 80)
    assert [r.split()[0] for r in rows if r.startswith("v")] == ["v3", "v2", "v1"]
    assert all(len(r) <= 80 for r in rows if DIGEST not in r), rows
    # an image reference is never cut: it wraps whole, on a line of its own if need be
    assert any(r.strip() == DIGEST for r in rows) and sum(DIGEST in r for r in rows) == 2
    assert any("rollback to v1;" in r for r in rows)
    assert "env added: GREETING, MODE, FEATURE_FLAGS" in " ".join(rows)
    assert rows[0].split() == ["RELEASE", "STATUS", "CREATED", "COMMIT"]
