"""How a running edge gets new files, as data (proxy.plan_switch): a release stages only its
hosts' upstream files and reloads nothing; a new host or new settings reload Caddy; a host
gone is removed after the reload; the live upstream files are never in an archive (Docker
replaces a file by removing it first, which a request could see)."""

from __future__ import annotations

import io
import tarfile

from pilot_tui.deploy.targets.docker_host import proxy
from pilot_tui.deploy.targets.docker_host.caddy_config import EdgeSettings

V1 = {"api.localhost": "pilot-acme-api-v1:8080", "web.localhost": "pilot-acme-web-v3:3000"}


def _names(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _files(routes: dict[str, str], settings: EdgeSettings | None = None) -> dict[str, bytes]:
    return proxy.edge_files(routes, settings or EdgeSettings(), None, "acme")


def test_the_same_files_need_no_switch():
    assert proxy.plan_switch(_files(V1), _files(V1)) is None


def test_a_release_stages_its_hosts_upstream_and_reloads_nothing():
    v2 = {**V1, "api.localhost": "pilot-acme-api-v2:8080"}
    switch = proxy.plan_switch(_files(V1), _files(v2))
    assert switch is not None and not switch.reloads
    archived = _names(switch.archive)
    assert archived["pilot/upstreams.next/api.localhost"] == b"pilot-acme-api-v2:8080\n"
    assert not any(n.startswith("pilot/upstreams/") for n in archived)  # live files untouched
    assert "pilot/upstreams.next/web.localhost" not in archived  # unchanged: not staged
    assert archived["pilot/routes.json"] == proxy.routes_json(v2)
    assert switch.command[:4] == ["sh", "-c", proxy.SWITCH, "sh"]
    assert switch.command[4:] == ["keep"]


def test_a_new_host_reloads_and_a_host_gone_is_removed_after():
    moved = {"api.localhost": "pilot-acme-api-v1:8080", "shop.localhost": "pilot-acme-shop-v1:80"}
    switch = proxy.plan_switch(_files(V1), _files(moved))
    assert switch is not None and switch.reloads
    assert switch.command[4:] == ["reload", "web.localhost"]
    assert "pilot/upstreams.next/shop.localhost" in _names(switch.archive)


def test_new_tls_settings_reload_with_the_same_upstreams():
    shop = {**V1, "shop.example.com": "pilot-acme-shop-v1:80"}
    switch = proxy.plan_switch(_files(shop), _files(shop, EdgeSettings(tls=True)))
    assert switch is not None and switch.reloads and switch.command[4:] == ["reload"]
    assert not any("upstreams" in n for n in _names(switch.archive))


def test_a_refused_switch_restores_config_files_but_never_writes_live_upstreams():
    present = {**_files(V1), "upstreams.next/api.localhost": b"pilot-acme-api-v9:1\n"}
    restored = _names(proxy.restore_tar(present))
    assert restored["pilot/caddy.json"] == present["caddy.json"]
    assert not any("upstreams" in n for n in restored)


def test_edge_files_hold_one_upstream_file_per_host():
    files = _files(V1)
    assert files["upstreams/api.localhost"] == b"pilot-acme-api-v1:8080\n"
    assert files["upstreams/web.localhost"] == b"pilot-acme-web-v3:3000\n"
    nested = _names(proxy.config_tar(V1, EdgeSettings(), None, "acme"))
    assert nested["pilot/upstreams/web.localhost"] == b"pilot-acme-web-v3:3000\n"


def test_caddy_versions_are_read_from_caddy_version():
    assert proxy.caddy_version("v2.11.7 h1:yj0Y4fYZ=\n") == (2, 11)
    assert proxy.caddy_version("v2.7.6 h1:w0NymbG2m9PcvKWsrXO6EEkY9Ru4FJK8uQbYcev1p3A=") == (2, 7)
    assert proxy.caddy_version("sh: caddy: not found") is None
    assert proxy.caddy_version("") is None
