"""Previews as data (issue 15, item 3): names made from branches, the app a preview runs as,
its secrets (the previews' file only), the max rule, and the kinds that refuse them."""

from __future__ import annotations

import pytest

from pilot_tui.config.schema import (
    AppSettings,
    LambdaTarget,
    PreviewSettings,
    S3CloudFrontTarget,
    ServerTarget,
)
from pilot_tui.deploy import previews, secrets
from pilot_tui.deploy.previews import Preview, PreviewError
from pilot_tui.deploy.targets import target_for
from pilot_tui.errors import EXIT_INVALID


@pytest.mark.parametrize(
    "wanted, expected",
    [("feature/Login_fix", "feature-login-fix"), ("PR-12", "pr-12"), ("--weird--", "weird")],
)
def test_slug_makes_one_dns_label(wanted, expected):
    assert previews.slug("api", wanted) == expected


def test_a_long_branch_is_cut_and_keeps_a_hash_of_the_whole():
    long = "dependabot/npm_and_yarn/lodash-4.17.21"
    made = previews.slug("api", long)
    assert made.startswith("dependabot-npm-and-yarn-") and len(made) == previews.LONGEST
    assert made != previews.slug("api", "dependabot/npm_and_yarn/lodash-4.17.22")


def test_slug_fits_a_long_app_name_into_63_characters():
    app = "a" * 40
    made = previews.slug(app, "feature/a-rather-long-branch-name")
    assert len(previews.full_name(app, made)) <= previews.DNS_LABEL


def test_slug_refuses_a_name_without_letters():
    with pytest.raises(PreviewError) as caught:
        previews.slug("api", "///")
    assert caught.value.exit_code == EXIT_INVALID
    assert "'///' holds no letter or digit" in str(caught.value)


def test_preview_app_overrides_env_drops_the_watch_and_takes_the_previews_domain():
    app = AppSettings(
        name="api",
        env={"MODE": "prod", "KEEP": "1"},
        secrets=["TOKEN"],
        target=ServerTarget(domain="api.example.com", watch=60),
        previews=PreviewSettings(env={"MODE": "preview"}, domain="pv.example.com"),
    )
    made = previews.preview_app(app, "pr-3")
    assert made.name == "api--pr-3"
    assert made.env == {"MODE": "preview", "KEEP": "1"}
    assert isinstance(made.target, ServerTarget)
    assert made.target.domain == "api--pr-3.pv.example.com"  # never the app's own domain
    assert made.target.watch == 0
    assert app.target.domain == "api.example.com" and app.env["MODE"] == "prod"  # unchanged
    without = previews.preview_app(AppSettings(name="api"), "x")
    assert isinstance(without.target, ServerTarget) and without.target.domain is None


def test_preview_secrets_come_from_the_previews_file_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN", "production-value")  # CI's environment: never a preview's
    secrets.store(tmp_path, "api", "TOKEN", "app-value")
    assert previews.secret_values(tmp_path, "api", ["TOKEN", "OTHER"]) == (
        {},
        ["TOKEN", "OTHER"],
    )
    secrets.store(tmp_path, "api", "TOKEN", "preview-value", preview=True)
    assert previews.secret_values(tmp_path, "api", ["TOKEN", "OTHER"]) == (
        {"TOKEN": "preview-value"},
        ["OTHER"],
    )
    assert "preview-value" in secrets.stored_values(tmp_path)  # masked like the others
    path = secrets.secrets_file(tmp_path, "api", preview=True)
    assert path == tmp_path / "secrets" / "previews" / "api.env"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_room_for_counts_the_other_previews_of_the_app():
    app = AppSettings(name="api", previews=PreviewSettings(max=2))
    found = [Preview("api", "a", 1), Preview("api", "b", 1), Preview("web", "c", 1)]
    previews.room_for(app, "a", found)  # a redeploy of one that exists: always
    with pytest.raises(PreviewError) as caught:
        previews.room_for(app, "new", found)
    assert "api has 2 previews already (a, b)" in str(caught.value)
    assert "pilot-tui preview destroy api a" in str(caught.value)
    previews.room_for(app, "new", found[:1])
    off = AppSettings(name="api", previews=PreviewSettings(max=0))
    with pytest.raises(PreviewError, match=r"previews.max is 0"):
        previews.room_for(off, "new", [])


def test_labels_round_trip_and_expiry():
    made = Preview("api", "pr-3", 1_700_000_000.0)
    assert previews.from_labels({**made.labels(), "pilot.app": "api--pr-3"}) == made
    assert previews.from_labels({"pilot.app": "api"}) is None
    assert previews.from_labels({**made.labels(), previews.EXPIRES: "soon"}) is None
    assert made.expired(1_700_000_000.0) and not made.expired(1_699_999_999.0)
    assert PreviewSettings(ttl="30m").ttl_seconds() == 1800
    assert PreviewSettings(ttl="7d").ttl_seconds() == 7 * 86400


@pytest.mark.parametrize(
    "target, reason",
    [
        (LambdaTarget(), "previews run on the Docker host only, for now"),
        (S3CloudFrontTarget(), "a bucket and a CloudFront distribution of its own"),
    ],
)
def test_kinds_without_previews_refuse_with_their_reason(target, reason):
    app = AppSettings(name="fn", target=target)
    kind = target_for(app)
    assert kind.previews_refused is not None and reason in kind.previews_refused
    with pytest.raises(PreviewError) as caught:
        kind.preview(Preview("fn", "x", 0))
    assert f"fn runs on {target.kind}: " in str(caught.value)
    assert caught.value.exit_code == EXIT_INVALID
    assert target_for(AppSettings(name="api")).previews_refused is None
