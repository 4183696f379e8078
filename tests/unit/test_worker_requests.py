"""Which requests the worker takes from a pull request's run, as data: the previews'
role may write the keys starting with PREVIEW_ID alone, and the worker takes nothing
from those but a preview named pr-NUMBER (its making or its removal). The whole path is
tested end to end in tests/integration/deploy/test_ci_server_deploy.py."""

from __future__ import annotations

import pytest

from pilot_tui.deploy import server_queue
from pilot_tui.deploy.server_queue import Request
from pilot_tui.deploy.server_worker import _not_a_pull_requests


def _request(*, preview: str | None, remove: bool = False, pull_request: bool = True) -> Request:
    """A request as Queue.pending hands it over: ``pull_request`` from its key."""
    made = server_queue.new_id(preview=pull_request)
    return Request(
        made,
        "web",
        "h/r@sha256:x",
        "pilot/acme-web:abc",
        None,
        "ci",
        "",
        preview=preview,
        remove=remove,
        pull_request=pull_request,
    )


@pytest.mark.parametrize(("preview", "remove"), [("pr-7", False), ("pr-123", True)])
def test_a_pull_requests_preview_is_taken(preview, remove):
    assert _not_a_pull_requests(_request(preview=preview, remove=remove)) is None


@pytest.mark.parametrize(
    ("preview", "remove", "said"),
    [
        (None, False, "asks for web itself"),  # a production release, forged
        ("main", False, "asks for the preview 'main'"),
        ("pr-7x", False, "asks for the preview 'pr-7x'"),
        (None, True, "asks for web itself"),
    ],
)
def test_a_pull_requests_keys_ask_for_nothing_else(preview, remove, said):
    refused = _not_a_pull_requests(_request(preview=preview, remove=remove))
    assert refused is not None and not refused.ok
    assert said in refused.message


def test_a_branchs_request_may_not_name_another_preview_or_remove_the_app():
    assert _not_a_pull_requests(_request(preview=None, pull_request=False)) is None
    other = _not_a_pull_requests(_request(preview="feature-x", pull_request=False))
    assert other is not None and "is not a pull request's (pr-NUMBER)" in other.message
    gone = _not_a_pull_requests(_request(preview=None, remove=True, pull_request=False))
    assert gone is not None and "never the app itself" in gone.message
    assert server_queue.new_id(preview=True).startswith(server_queue.PREVIEW_ID)
    assert not server_queue.new_id().startswith(server_queue.PREVIEW_ID)
