"""The edge's settings in pilot.toml: TLS on by default where a name can get a certificate,
off in the sandbox; the web ports Terraform opens follow; bad values are named with their
place."""

from __future__ import annotations

import pytest

from pilot_tui.config.validate import check_text
from pilot_tui.provision.tf.variables import web_ports


def _config(server: str):
    gcp = '[gcp]\nproject = "acme-prod"\n' if "gcp" in server else ""
    checked = check_text(f'[project]\nname = "acme"\n\n[server]\n{server}\n{gcp}')
    assert checked.config is not None, [p.message for p in checked.report.problems]
    return checked.config


def _problems(server: str) -> list[str]:
    checked = check_text(f'[project]\nname = "acme"\n\n[server]\n{server}\n')
    return [f"{p.line}:{p.col} {p.message}" for p in checked.report.problems]


@pytest.mark.parametrize(
    "server, on, ports",
    [
        ('home = "aws"', True, [80, 443]),
        ('home = "gcp"', True, [80, 443]),
        ('home = "sandbox"', False, [80]),
        ('home = "sandbox"\ntls = "auto"', True, [80, 443]),
        ('home = "aws"\ntls = "off"', False, [80]),
        ('home = "aws"\nhttp_port = 8080\nhttps_port = 8443', True, [8080, 8443]),
    ],
)
def test_tls_defaults_by_home_and_terraform_opens_https_beside_http(server, on, ports):
    config = _config(server)
    assert config.server.tls_on is on
    assert web_ports(config) == ports


def test_the_edge_settings_are_checked_with_their_place():
    problems = _problems('home = "aws"\nhttps_port = 2376\nacme_ca = "ftp://ca"\nacme_email = "x"')
    assert any(p.startswith("6:") and "Docker" in p and "whole internet" in p for p in problems)
    assert any(p.startswith("7:") and "an https:// directory URL" in p for p in problems)
    assert any(p.startswith("8:") and "an email address" in p for p in problems)
    same = _problems('home = "aws"\nhttp_port = 8080\nhttps_port = 8080')
    assert any("HTTP and HTTPS need a port each" in p for p in same), same
    assert _problems('home = "sandbox"\nhttp_port = 8080\nhttps_port = 8080') == []  # TLS off
    assert _problems('tls = "maybe"')
