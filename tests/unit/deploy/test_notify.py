"""Who releases and what the webhook is told, as data; a webhook that cannot be reached
is a reason, not an error."""

from __future__ import annotations

import subprocess

from pilot_tui import redact
from pilot_tui.deploy import notify


def test_a_ci_run_is_named_by_its_repository_run_and_commit(tmp_path):
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_WORKFLOW": "pilot",
        "GITHUB_SHA": "0123456789abcdef0123",
        "GITHUB_ACTOR": "alice",
    }
    assert notify.who(tmp_path, env) == (
        "GitHub Actions acme/shop, workflow 'pilot' run 4242 at 0123456789ab for alice"
    )


def test_a_person_is_named_with_their_git_identity(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.name", "Alice Smith"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.email", "a@acme.test"], check=True)
    by = notify.who(tmp_path, {})
    assert by.endswith(" (Alice Smith <a@acme.test>)") and not by.startswith(" ")


def test_the_payload_is_slack_text_and_fields_with_secrets_masked():
    redact.register(["s3cret-value-for-the-test"])
    notice = notify.Notice(
        notify.REVERTED,
        "acme",
        "api",
        "v4",
        "https://api.acme.test/",
        "alice",
        "v4 was reverted: it logged s3cret-value-for-the-test",
    )
    payload = notice.payload()
    assert payload["text"].startswith("[acme] v4 of api reverted by alice: v4 was reverted")
    assert "s3cret-value-for-the-test" not in str(payload)
    assert {k: payload[k] for k in ("event", "project", "app", "release", "by")} == {
        "event": "reverted",
        "project": "acme",
        "app": "api",
        "release": "v4",
        "by": "alice",
    }
    deployed = notify.Notice(notify.DEPLOYED, "acme", "api", "v5", "https://x.test/", "bob")
    assert deployed.text() == "[acme] v5 of api deployed by bob: https://x.test/"


def test_an_unreachable_webhook_is_a_reason():
    notice = notify.Notice(notify.DEPLOYED, "acme", "api", "v1", None, "bob")
    said = notify.send("http://127.0.0.1:9/hook", notice)  # the discard port: refused
    assert said is not None and said.startswith("the webhook could not be reached")
    assert notify.webhook("PILOT_NOPE", {}) is None
    assert notify.webhook("HOOK", {"HOOK": "https://hooks.test/T1/B2/x"}) == (
        "https://hooks.test/T1/B2/x"
    )
    assert "hooks.test/T1/B2/x" not in redact.text("posting to https://hooks.test/T1/B2/x")
