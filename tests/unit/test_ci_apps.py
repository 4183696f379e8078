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
