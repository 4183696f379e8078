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


def test_https_waits_for_a_server_whose_firewall_opens_it(tmp_path):
    """A Pilot Server provisioned before HTTPS opens only port 80: a deploy with TLS on
    would redirect every name to a closed port, so it stops and says to run `server up`."""
    import json

    from pilot_tui.deploy.targets.docker_host.release import https_open

    def recorded(ports: list[int]) -> None:
        (tmp_path / "outputs").mkdir(exist_ok=True)
        record = {"home": "aws", "outputs": {"web_ports": ports}}
        (tmp_path / "outputs" / "server.json").write_text(json.dumps(record))

    aws = _config('home = "aws"')
    assert https_open(aws, tmp_path) is None  # nothing recorded: not Pilot's to know
    recorded([80])
    said = https_open(aws, tmp_path)
    assert said is not None and "opens only port 80" in said
    assert "pilot-tui server up" in said and 'server.tls = "off"' in said
    assert https_open(_config('home = "aws"\ntls = "off"'), tmp_path) is None
    assert https_open(_config('home = "sandbox"\ntls = "auto"'), tmp_path) is None
    recorded([80, 443])
    assert https_open(aws, tmp_path) is None


def test_the_acme_ca_root_is_a_pem_file_inside_the_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "root.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    )
    (project / "notes.txt").write_text("not a certificate")
    (tmp_path / "outside.pem").write_text("-----BEGIN CERTIFICATE-----\n")

    def problems(value: str) -> list[str]:
        text = f'[project]\nname = "acme"\n\n[server]\nhome = "aws"\nacme_ca_root = "{value}"\n'
        checked = check_text(text, base_dir=project)
        return [f"{p.line}:{p.col} {p.message}" for p in checked.report.problems]

    assert problems("root.pem") == []
    assert any(p.startswith("6:") and "holds no PEM" in p for p in problems("notes.txt"))
    assert any("outside the project" in p for p in problems("../outside.pem"))
    assert any("not a file" in p for p in problems("missing.pem"))


def test_tls_on_odd_ports_warns_that_no_certificate_can_be_had():
    text = (
        '[project]\nname = "acme"\n\n[server]\nhome = "aws"\nhttp_port = 8080\nhttps_port = 8443\n'
    )
    said = check_text(text).report.lines()
    assert any("warning:" in p and "no certificate can be obtained" in p for p in said), said
    assert _problems('home = "aws"\nhttp_port = 8080') == []  # 443 still validates
