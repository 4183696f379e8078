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
    staged = switch.command[4]  # this switch's own folder
    assert staged.startswith("upstreams.next.") and len(staged) > len("upstreams.next.")
    assert archived[f"pilot/{staged}/api.localhost"] == b"pilot-acme-api-v2:8080"
    assert not any(n.startswith("pilot/upstreams/") for n in archived)  # live files untouched
    assert f"pilot/{staged}/web.localhost" not in archived  # unchanged: not staged
    assert archived["pilot/routes.json"] == proxy.routes_json(v2)
    assert switch.command[:4] == ["sh", "-c", proxy.SWITCH, "sh"]
    assert switch.command[5:] == ["keep"]
    again = proxy.plan_switch(_files(V1), _files(v2))
    assert again is not None and again.command[4] != staged


def test_a_new_host_reloads_and_a_host_gone_is_removed_after():
    moved = {"api.localhost": "pilot-acme-api-v1:8080", "shop.localhost": "pilot-acme-shop-v1:80"}
    switch = proxy.plan_switch(_files(V1), _files(moved))
    assert switch is not None and switch.reloads
    assert switch.command[5:] == ["reload", "web.localhost"]
    assert f"pilot/{switch.command[4]}/shop.localhost" in _names(switch.archive)


def test_new_tls_settings_reload_with_the_same_upstreams():
    shop = {**V1, "shop.example.com": "pilot-acme-shop-v1:80"}
    switch = proxy.plan_switch(_files(shop), _files(shop, EdgeSettings(tls=True)))
    assert switch is not None and switch.reloads and switch.command[5:] == ["reload"]
    assert not any("upstreams" in n for n in _names(switch.archive))


def test_a_refused_switch_restores_config_files_but_never_writes_live_upstreams():
    present = {**_files(V1), "upstreams.next.0a1b2c3d/api.localhost": b"pilot-acme-api-v9:1"}
    restored = _names(proxy.restore_tar(present))
    assert restored["pilot/caddy.json"] == present["caddy.json"]
    assert not any("upstreams" in n for n in restored)


def test_edge_files_hold_one_upstream_file_per_host():
    files = _files(V1)
    # No newline: Caddy 2.8 would keep it in the dial address.
    assert files["upstreams/api.localhost"] == b"pilot-acme-api-v1:8080"
    assert files["upstreams/web.localhost"] == b"pilot-acme-web-v3:3000"
    nested = _names(proxy.config_tar(V1, EdgeSettings(), None, "acme"))
    assert nested["pilot/upstreams/web.localhost"] == b"pilot-acme-web-v3:3000"


def test_a_route_that_is_no_host_name_is_left_out_not_a_crash():
    routes = {**V1, "Shop.Example.COM": "pilot-acme-shop-v1:80", "bad/../host": "x:1"}
    files = _files(routes)
    assert files["upstreams/shop.example.com"] == b"pilot-acme-shop-v1:80"
    assert not any("bad" in name for name in files)
    shop = {"shop.example.com": "pilot-acme-shop-v1:80"}
    assert proxy.parse_routes(files["routes.json"]) == {**V1, **shop}


def test_caddy_versions_are_read_from_caddy_version():
    assert proxy.caddy_version("v2.11.7 h1:yj0Y4fYZ=\n") == (2, 11)
    assert proxy.caddy_version("v2.7.6 h1:w0NymbG2m9PcvKWsrXO6EEkY9Ru4FJK8uQbYcev1p3A=") == (2, 7)
    assert proxy.caddy_version("sh: caddy: not found") is None
    assert proxy.caddy_version("") is None


def test_the_edge_serves_only_the_routes_its_upstream_files_agree_with():
    files = _files(V1)
    assert proxy.served(files) == V1
    lost = {n: d for n, d in files.items() if n != "upstreams/api.localhost"}
    assert proxy.served(lost) == {"web.localhost": V1["web.localhost"]}
    stale = {**files, "upstreams/web.localhost": b"pilot-acme-web-v2:3000"}
    assert proxy.served(stale) == {"api.localhost": V1["api.localhost"]}


def test_the_switch_script_moves_only_its_own_staged_files(tmp_path):
    """SWITCH itself, run by sh in a folder standing in for the edge's /etc/pilot: the
    switch's staged file replaces the live one, a folder left by a switch that was cut short
    is removed without going live, a host gone is removed, and nothing staged is left."""
    import subprocess

    live, mine, left = (
        tmp_path / "upstreams",
        tmp_path / "upstreams.next.mine",
        tmp_path / "upstreams.next.old",
    )
    for folder in (live, mine, left):
        folder.mkdir()
    (live / "api.localhost").write_text("pilot-acme-api-v1:8080")
    (live / "gone.localhost").write_text("pilot-acme-gone-v1:80")
    (mine / "api.localhost").write_text("pilot-acme-api-v2:8080")
    (left / "web.localhost").write_text("pilot-acme-web-v9:3000")  # a cut-short switch's
    (live / "web.localhost").write_text("pilot-acme-web-v3:3000")
    script = proxy.SWITCH.replace(f"cd {proxy.CONFIG_DIR}", f"cd {tmp_path}")
    done = subprocess.run(
        ["sh", "-c", script, "sh", "upstreams.next.mine", "keep", "gone.localhost"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (live / "api.localhost").read_text() == "pilot-acme-api-v2:8080"
    assert (live / "web.localhost").read_text() == "pilot-acme-web-v3:3000"
    assert sorted(p.name for p in live.iterdir()) == ["api.localhost", "web.localhost"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upstreams"]
