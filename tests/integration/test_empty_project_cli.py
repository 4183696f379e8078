"""Commands in a project with nothing in it yet, as a new user runs them (found walking the
app in tmux): each says what there is, and bad input is bad input (exit 2)."""

from __future__ import annotations


def test_status_of_a_project_with_nothing_yet_says_so(cli, tmp_path):
    """Regression (walk): `status` printed nothing at all."""
    assert cli("init", "--name", "acme").code == 0
    shown = cli("status")
    assert shown.code == 0, shown.err
    assert "nothing to show: no app or database in" in shown.out
    assert "`pilot-tui app new` adds an app" in shown.out
    listed = cli("status", "--json")
    assert listed.code == 0 and listed.out.strip() == "[]"  # JSON stays JSON


def test_rolling_back_an_unknown_app_is_bad_input(cli, tmp_path):
    """Regression (walk): `rollback nope` exited 1 and named the deploy stage ("deploy: no
    app 'nope' ..."); `deploy nope` and `releases nope` exit 2."""
    assert cli("init", "--name", "acme").code == 0
    for args in (("rollback", "nope"), ("deploy", "nope"), ("releases", "nope")):
        refused = cli(*args)
        assert refused.code == 2, (args, refused.err)
        assert 'no app "nope"' in refused.err and "deploy:" not in refused.err


def test_a_mistyped_app_name_gets_the_closest_one_everywhere(cli, tmp_path):
    """Found walking: `deploy wbe` gave no "did you mean" (config validate does), and the
    commands quoted the name three ways ('wbe', "wbe", bare). One message for all."""
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("hello\n")
    made = cli("app", "new", "--path", "web", "--name", "web", "--target", "s3-cloudfront", "--yes")
    assert made.code == 0, made.err
    said = 'no app "wbe" in pilot.toml (did you mean "web"?) (apps: web)'
    for args in (
        ("deploy", "wbe"),
        ("rollback", "wbe"),
        ("releases", "wbe"),
        ("logs", "wbe"),
        ("preview", "destroy", "wbe", "x"),
        ("preview", "prune", "wbe"),
    ):
        refused = cli(*args)
        assert refused.code == 2, (args, refused.err)
        assert said in refused.err, (args, refused.err)


def test_secrets_list_says_where_each_value_comes_from_or_that_there_are_none(cli, tmp_path):
    """Found walking: `secrets list web` with no secrets printed nothing, and a secret
    named MISSING with no value read "MISSING   MISSING"."""
    assert cli("init", "--name", "acme").code == 0
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("hello\n")
    made = cli("app", "new", "--path", "web", "--name", "web", "--target", "s3-cloudfront", "--yes")
    assert made.code == 0, made.err
    none = cli("secrets", "list", "web")
    assert none.code == 0 and none.out == ""
    assert "web has no secrets: list their names in apps.web.secrets" in none.err
    assert cli("config", "set", "apps.web.secrets", '["MISSING", "TOKEN"]').code == 0
    from pilot_tui.deploy import secrets

    secrets.store(tmp_path / ".pilot", "web", "TOKEN", "s3cret-value")  # as `secrets set`
    listed = cli("secrets", "list", "web").out.splitlines()
    assert listed == [
        "MISSING  nowhere yet: pilot-tui secrets set web MISSING",
        "TOKEN    .pilot/secrets",
    ]


def test_app_new_warns_of_a_folder_that_is_not_there(cli, tmp_path):
    """Found walking: `app new --path missing --yes` added the app without a word; the
    first deploy then failed. It is added (the files may come later), with a warning."""
    assert cli("init", "--name", "acme").code == 0
    made = cli("app", "new", "--path", "missing", "--name", "m", "--yes")
    assert made.code == 0, made.err
    assert f"warning: there is no folder {tmp_path / 'missing'} yet" in made.err
    (tmp_path / "here").mkdir()
    quiet = cli("app", "new", "--path", "here", "--name", "h", "--yes")
    assert quiet.code == 0 and "warning" not in quiet.err


def test_app_dockerfile_of_an_app_that_ships_no_image_says_none_is_used(cli, tmp_path):
    """Found walking: `app dockerfile` of an S3 site printed a busybox httpd Dockerfile, and
    of a zip Lambda a Python one ending in `CMD ["python", "handler.py"]`: neither is ever
    built. Said so, exit 2; an app on the Docker host still gets its Dockerfile."""
    assert cli("init", "--name", "acme").code == 0
    for name, target, page in (
        ("web", "s3-cloudfront", "index.html"),
        ("fn", "lambda", "handler.py"),
        ("api", "server", "index.html"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / page).write_text("hello\n")
        made = cli("app", "new", "--path", name, "--name", name, "--target", target, "--yes")
        assert made.code == 0, made.err
    zipped = cli("config", "set", "apps.fn.target", '{ kind = "lambda", package = "zip" }')
    assert zipped.code == 0, zipped.err
    for name, kind in (("web", "s3-cloudfront"), ("fn", "lambda")):
        refused = cli("app", "dockerfile", name)
        assert refused.code == 2 and refused.out == "", (name, refused.err)
        assert f"{name} ships no image on {kind}: its files go up as they are" in refused.err
    shown = cli("app", "dockerfile", "api")
    assert shown.code == 0 and shown.out.startswith("# Generated by Pilot")
