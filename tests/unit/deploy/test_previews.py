"""Previews as data (issue 15, item 3): names made from branches, the app a preview runs as,
its secrets (the previews' file only), the max rule, and the kinds that refuse them."""

from __future__ import annotations

import pytest

from pilot_tui.config.schema import (
    AppSettings,
    CloudRunTarget,
    EcsTarget,
    LambdaTarget,
    PostgresDatabase,
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
    assert previews.slug(wanted) == expected


def test_a_long_branch_is_cut_and_keeps_a_hash_of_the_whole():
    long = "dependabot/npm_and_yarn/lodash-4.17.21"
    made = previews.slug(long)
    assert made.startswith("dependabot-npm-and-yarn-") and len(made) == previews.LONGEST
    assert made != previews.slug("dependabot/npm_and_yarn/lodash-4.17.22")


def test_every_name_a_preview_is_reached_by_stays_one_dns_label():
    """Regression (review): the room counted only APP--NAME; a linked database's container
    name (its host name on the private network) could pass 63 characters."""
    project = "platform-team"
    app = AppSettings(name="a" * 20)
    db = PostgresDatabase(name="d" * 25, apps=[app.name], preview="empty")
    room = previews.name_room(project, app, [db], {})  # the Docker host's: no names of its own
    made = previews.slug("feature/a-rather-long-branch-name-indeed", room)
    assert len(f"pilot-db-{project}-{db.name}--{made}") <= previews.DNS_LABEL
    assert len(f"pilot-{project}-{app.name}--{made}-v999") <= previews.DNS_LABEL
    unlinked = previews.name_room(project, app, [PostgresDatabase(name=db.name)], {})
    assert unlinked > room  # a database previews do not get takes no room
    with pytest.raises(PreviewError, match="no room for a preview name"):
        previews.name_room("p" * 30, app, [db], {})


def test_two_letter_apps_get_no_previews():
    assert previews.two_letter("ui") is not None and "reserved DNS label" in previews.two_letter(
        "ui"
    )
    assert previews.two_letter("api") is None


def test_slug_refuses_a_name_without_letters():
    with pytest.raises(PreviewError) as caught:
        previews.slug("///")
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
    made = target_for(app).preview_app("pr-3")
    assert made.name == "api--pr-3"
    assert made.env == {"MODE": "preview", "KEEP": "1"}
    assert isinstance(made.target, ServerTarget)
    assert made.target.domain == "api--pr-3.pv.example.com"  # never the app's own domain
    assert made.target.watch == 0
    assert app.target.domain == "api.example.com" and app.env["MODE"] == "prod"  # unchanged
    without = target_for(AppSettings(name="api")).preview_app("x")
    assert isinstance(without.target, ServerTarget) and without.target.domain is None


def test_preview_secrets_come_from_the_previews_file_or_preview_variables(tmp_path, monkeypatch):
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
    # A pull request's run in GitHub Actions: PREVIEW_NAME (the repository's secret of that
    # name); the file first, and an empty one (GitHub's unset secret) is no value.
    actions = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
        "PILOT_AWS_ROLE_ARN": "arn:aws:iam::1:role/pilot-acme-github-previews",
    }
    env = {"TOKEN": "production-value", "PREVIEW_OTHER": "from-ci", "PREVIEW_TOKEN": "x"}
    assert previews.secret_values(tmp_path, "api", ["TOKEN", "OTHER"], {**actions, **env}) == (
        {"TOKEN": "preview-value", "OTHER": "from-ci"},
        [],
    )
    unset = {**actions, "PREVIEW_OTHER": ""}
    assert previews.secret_values(tmp_path, "api", ["OTHER"], unset) == ({}, ["OTHER"])
    # On a laptop a PREVIEW_ variable in the shell is not taken: the file says.
    assert previews.secret_values(tmp_path, "api", ["OTHER"], env) == ({}, ["OTHER"])
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
    # the one to remove it suggests is the one that expires first (found walking the app:
    # it named the first by name)
    soonest = [Preview("api", "a", 9), Preview("api", "b", 5)]
    with pytest.raises(PreviewError, match="pilot-tui preview destroy api b"):
        previews.room_for(app, "new", soonest)
    off = AppSettings(name="api", previews=PreviewSettings(max=0))
    with pytest.raises(PreviewError, match=r"previews.max is 0"):
        previews.room_for(off, "new", [])


def test_room_for_names_the_previews_being_deployed():
    app = AppSettings(name="api", previews=PreviewSettings(max=2))
    found = [Preview("api", "b", 1), Preview("api", "a", float("inf"), state="deploying")]
    with pytest.raises(PreviewError) as caught:
        previews.room_for(app, "new", found)
    assert "(a (being deployed), b)" in str(caught.value)
    assert "pilot-tui preview destroy api b" in str(caught.value)  # not the one under way
    with pytest.raises(PreviewError) as caught:
        previews.room_for(app, "new", [found[1], Preview("api", "c", 9, state="deploying")])
    assert "wait for those deploys to end" in str(caught.value)
    assert "30 minutes old" in str(caught.value)
    # A preview that runs is redeployed, always: even past a max lowered since, or with
    # another's first deploy under way.
    lowered = AppSettings(name="api", previews=PreviewSettings(max=1))
    previews.room_for(lowered, "b", [found[0], found[1], Preview("api", "c", 9)])


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("2026-12-05T10:00:00.1Z", "2026-12-05T10:00:00.12Z"),  # as text, .1Z sorts last
        ("2026-12-05T10:00:00.999999999Z", "2026-12-05T10:00:01Z"),
        ("2026-12-05T09:59:59Z", "2026-12-05T10:00:00.000000001Z"),
        ("2026-12-05T10:30:00.5+01:00", "2026-12-05T09:30:00.6Z"),  # an offset, not a fraction
    ],
)
def test_lock_containers_are_ordered_by_the_engine_s_clock_to_the_nanosecond(earlier, later):
    from types import SimpleNamespace

    from pilot_tui.deploy.targets.docker_host.preview_containers import created

    first = SimpleNamespace(id="b", attrs={"Created": earlier})
    second = SimpleNamespace(id="a", attrs={"Created": later})
    assert created(first) < created(second)  # type: ignore[arg-type]


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
        (EcsTarget(), "an ECS preview would be a service, tasks and a load balancer rule"),
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
    assert target_for(AppSettings(name="fn", target=LambdaTarget())).previews_refused is None
    assert target_for(AppSettings(name="fn", target=CloudRunTarget())).previews_refused is None


def test_the_agent_drops_the_routes_of_every_expired_preview_and_no_other():
    """Regression (review): with two previews expiring in one look, the second's suffix
    bound only the last prefix and the first preview's route stayed."""
    from pilot_tui.data.agent.previews import routes_without

    routes = {
        "web--a.localhost": "pilot-acme-web--a-v3:8080",
        "web--b.localhost": "pilot-acme-web--b-v1:8080",
        "web.localhost": "pilot-acme-web-v7:8080",
        "web--ab.localhost": "pilot-acme-web--ab-v2:8080",
    }
    kept = routes_without(routes, ["pilot-acme-web--a-", "pilot-acme-web--b-"])
    assert kept == {
        "web.localhost": "pilot-acme-web-v7:8080",
        "web--ab.localhost": "pilot-acme-web--ab-v2:8080",
    }


def test_the_edge_keeps_its_whole_settings_for_the_agent():
    """The agent re-renders the edge with the settings its own files say (a deploy may have
    changed them since the agent was made), not with its own older copy."""
    from pilot_tui.deploy.targets.docker_host import proxy
    from pilot_tui.deploy.targets.docker_host.caddy_config import EdgeSettings

    settings = EdgeSettings(tls=True, https_port=8443, acme_email="ops@example.com", hsts=True)
    files = proxy.edge_files({"web.example.com": "pilot-acme-web-v1:8080"}, settings, None, "acme")
    assert proxy.edge_settings(files) == ("acme", settings)
    assert proxy.owner(files) == ("acme", proxy.settings_words(settings))
    assert (
        proxy.edge_settings({proxy.OWNER_NAME: b'{"project": "x", "settings": "tls off"}'}) is None
    )


def test_two_deploys_racing_to_the_last_place_keep_exactly_one():
    """Two preview deploys of a cloud's previews (no lock holds them) each found room for
    one more and made theirs: the order is when the platform made each, so the one made
    later always sees the other and goes again; with room for both, none does."""
    app = AppSettings(name="fn", target=LambdaTarget(), previews=PreviewSettings(max=2))
    before = [Preview("fn", "old", 500.0, made=100.0)]
    first, second = Preview("fn", "a", 9e9, made=1000.0), Preview("fn", "b", 9e9, made=1001.0)
    now = [*before, first, second]
    assert previews.lost_race(app, first, before, now, now=1002.0) is None
    assert previews.lost_race(app, second, before, now, now=1002.0) == ["a"]
    # (review) b's deploy began later but checked before a's service was made: it keeps
    # b; a, made after, sees b and goes. Either way exactly one stays.
    assert previews.lost_race(app, second, before, [*before, second], now=1001.5) is None
    late = Preview("fn", "a", 9e9, made=1003.0)
    assert previews.lost_race(app, late, before, [*before, second, late], now=1004.0) == ["b"]
    # the same moment: the name decides, the same way for both
    tie = Preview("fn", "c", 9e9, made=1000.0)
    both = [*before, first, tie]
    assert [previews.lost_race(app, p, before, both, now=1001.0) for p in (first, tie)] == [
        None,
        ["a"],
    ]
    # a listing that lags its own newest still counts it, made now
    assert previews.lost_race(app, second, before, [*before, first], now=1001.0) == ["a"]
    # (review) one its deploy removed as expired, still listed by a lagging listing, is
    # no rival
    stale = Preview("fn", "stale", 1.0, made=50.0)
    listed = [*before, stale, second]
    gone = frozenset({"stale"})
    assert previews.lost_race(app, second, before, listed, gone=gone, now=1002.0) is None
    # room for both, a redeploy, no limit: nobody goes
    roomy = AppSettings(name="fn", target=LambdaTarget(), previews=PreviewSettings(max=3))
    assert previews.lost_race(roomy, second, before, now, now=1002.0) is None
    redeploy = Preview("fn", "old", 2000.0)
    assert previews.lost_race(app, redeploy, before, now, now=1002.0) is None


def test_a_preview_to_remove_is_named_by_its_name_or_its_full_name_and_no_other_apps(tmp_path):
    """`preview destroy APP NAME` takes NAME or APP--NAME (as `preview list` shows it), on a
    laptop and in a CI run alike (walk: a run refused web--pr-7); another app's preview
    (ui--pr-7 of shop) is said as such, never turned into a name of shop's ("ui-pr-7")."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.deploy.engine import Deployer
    from pilot_tui.deploy.previews import PreviewError

    text = """[project]
name = "acme"

[[apps]]
name = "shop"
path = "."

[[apps]]
name = "ui"
path = "."
"""
    config = check_text(text).config
    assert config is not None
    engine = Deployer(None, None, config, tmp_path / ".pilot", tmp_path, lambda event: None)
    shop = config.app("shop")
    assert engine.existing_preview_name(shop, "pr-7") == "pr-7"
    assert engine.existing_preview_name(shop, "shop--pr-7") == "pr-7"
    with pytest.raises(PreviewError, match=r"ui--pr-7 is a preview of ui, not of shop: "):
        engine.existing_preview_name(shop, "ui--pr-7")
