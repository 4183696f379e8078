"""The proxy's image tag is a digest of its program: a changed tag makes every Docker host
build and swap in a new proxy at its next deploy (a short routing cut for every app on it,
and a flip-flop between teammates on different versions). Moving or reformatting
proxy_main.py must not change it; only a change to the proxy itself may, with this pin."""

from __future__ import annotations

from pilot_tui.deploy.targets.docker_host.proxy import PROXY_BASE_DEFAULT, proxy_image_tag


def test_the_proxy_image_tag_is_the_released_one():
    # The tag of the proxy released at stop 18 (a3cf88c), before the targets moved: a move
    # rewrote one docstring line of proxy_main.py and changed it (found in review).
    assert proxy_image_tag(PROXY_BASE_DEFAULT) == "pilot/proxy:b3fb473e8762"
