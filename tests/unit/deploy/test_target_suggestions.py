"""Which target kind a new app is offered, from the kinds' own facts (schema `cloud` and
`serves`): the New-app form keeps a kind already chosen when it suits the source."""

from __future__ import annotations

from pilot_tui.deploy.build.stack import Detected
from pilot_tui.deploy.targets import kinds_for, new_target, suggested_kind

SITE = Detected({"kind": "static"}, "an index.html", static=True)
HANDLER = Detected({"kind": "auto"}, "a Python Lambda handler", handler="app.handler")
WEB = Detected({"kind": "dockerfile"}, "a Dockerfile")


def test_a_kind_already_chosen_is_kept_when_it_suits_the_source():
    assert suggested_kind("aws", SITE, "gcs-cdn") == "gcs-cdn"  # a site's kind: kept
    assert suggested_kind("aws", SITE, "ecs") == "s3-cloudfront"
    assert suggested_kind("gcp", HANDLER, "cloud-run") == "lambda"
    assert suggested_kind("aws", WEB, "lambda") == "lambda"  # nothing particular: kept
    assert suggested_kind("host", SITE, "server") == "server"  # no site kind offered there


def test_an_unknown_home_offers_the_docker_host_and_an_unknown_kind_is_left_to_the_validator():
    assert kinds_for("nowhere") == ("server",)
    assert suggested_kind("nowhere", HANDLER) == "server"
    assert new_target("fly", HANDLER) == {"kind": "fly"}
    assert new_target("ecs", HANDLER) == {"kind": "ecs"}  # a web server: no handler key
