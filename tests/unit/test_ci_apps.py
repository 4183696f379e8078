"""What `ci github` deploys and previews from CI (from_ci.ci_apps), as data."""

from __future__ import annotations

from pilot_tui.config.validate import check_text
from pilot_tui.deploy.from_ci import ci_apps

TOML = """[project]
name = "acme"

[server]
home = "aws"

[state]
backend = "s3"

[[apps]]
name = "web"
path = "web"
secrets = ["API_TOKEN"]

[[apps]]
name = "fn"
path = "fn"
secrets = ["FN_KEY"]
target = { kind = "lambda", handler = "app.handler" }
"""


def _apps(text: str):
    checked = check_text(text)
    assert checked.config is not None, checked.report.problems
    return ci_apps(checked.config)


def test_the_servers_apps_get_previews_through_its_worker_with_its_secrets():
    """A Docker host app's pull requests get previews (the server's worker makes them,
    with the previews' secrets it holds): none of its secrets come from GitHub."""
    apps = _apps(TOML)
    assert apps.deployed == ["web", "fn"] and apps.previewed == ["web", "fn"]
    assert apps.secrets == ["FN_KEY"] and apps.preview_secrets == ["FN_KEY"]


def test_an_app_with_no_previews_gets_none_from_pull_requests():
    """previews.max = 0: every preview of it would be refused, so its pull requests get
    no preview job (before, each pull request's run failed on it)."""
    text = TOML.replace('secrets = ["FN_KEY"]', 'secrets = ["FN_KEY"]\npreviews = { max = 0 }')
    apps = _apps(text)
    assert apps.deployed == ["web", "fn"] and apps.previewed == ["web"]
    assert apps.preview_secrets == []


def test_a_server_app_with_a_two_letter_name_gets_no_preview_job_and_is_told_why():
    """Found reviewing: a server app named "wb" got a preview job that every pull
    request's run failed (wb--pr-7 is a reserved DNS label); a Lambda app of that name
    has no host name of its own, and keeps its previews."""
    text = TOML.replace('name = "web"', 'name = "wb"').replace('name = "fn"', 'name = "fa"')
    apps = _apps(text)
    assert apps.deployed == ["wb", "fa"] and apps.previewed == ["fa"]
    [(name, why)] = apps.unpreviewable
    assert name == "wb" and "reserved DNS label" in why


def test_ci_github_warns_when_pull_requests_get_a_copy_of_production_data(capsys):
    """A pull request's preview of a Docker host app runs on the server, and may get a
    copy of a linked database's latest backup: `ci github` says whose data they read."""
    from pilot_tui.cli.ci_cmds import _say_where_previews_go

    text = TOML + (
        '\n[[databases]]\nname = "main"\nversion = 15\napps = ["web"]\n'
        'preview = "copy-of-latest-backup"\n'
    )
    checked = check_text(text)
    assert checked.config is not None, checked.report.problems
    _say_where_previews_go(checked.config, ["web", "fn"], "acme/shop", "main")
    said = capsys.readouterr().err
    assert "every hour a scheduled run removes the expired previews of fn " in said
    assert "the previews of web run on the Pilot Server" in said
    assert "a copy of the latest backup of main (web): anyone who may open one in acme/shop" in (
        said
    )
    _say_where_previews_go(check_text(TOML).config, ["web"], "acme/shop", "main")
    assert "copy of the latest backup" not in capsys.readouterr().err
