"""`deploy --preview` and `preview list` when the Docker host does not answer (DOCKER_HOST at
a socket nothing listens on; found walking the app): a preview name the app can never have
is refused from pilot.toml alone (exit 2), before any host is reached; a listing that could
list nothing fails (exit 1) instead of warning and then saying "no previews"."""

from __future__ import annotations

APP = """
[[apps]]
name = "web"
path = "."
build = { kind = "dockerfile" }
target = { kind = "server" }
"""


def _project(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + APP)


def test_a_preview_name_it_can_never_have_is_refused_before_any_host(cli, tmp_path, monkeypatch):
    _project(cli, tmp_path, monkeypatch)
    for wanted in ("", "!!"):
        refused = cli("deploy", "web", "--preview", wanted)
        assert refused.code == 2, refused.err
        assert "holds no letter or digit" in refused.err
        assert "no-engine.sock" not in refused.err  # never reached


def test_a_listing_that_lists_nothing_fails_and_says_why(cli, tmp_path, monkeypatch):
    _project(cli, tmp_path, monkeypatch)
    for args in (("preview", "list"), ("preview", "list", "--json")):
        listed = cli(*args)
        assert listed.code == 1, listed.err
        assert "the previews of web could not be listed" in listed.err
        assert "no previews" not in listed.out
        assert listed.out.strip() == ""  # not even an empty JSON list: nothing was listed
    # (a listing of some apps' previews, others' not reachable, exits 0: test_ci_deploy.py)
