"""Who may reach the server: one judgement of a CIDR set (how much of the public internet it
covers, IPv4 and IPv6), used alike by `config validate`, `init`, the server form and the plan;
and the web port may not be an admin port, since the web rule is open to everyone."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input, Static

from pilot_tui.provision.tf.plan import summarize_plan

HALVES = '["0.0.0.0/1", "128.0.0.0/1"]'


def _set(project, key_line: str) -> None:
    project.write_text(project.read_text().replace("allowed_cidrs = []", key_line))


@pytest.mark.parametrize(
    "cidrs, says",
    [
        (HALVES, "the whole internet"),
        ('["::/0"]', "the whole internet"),
        ('["0.0.0.0/2", "64.0.0.0/3", "10.0.0.0/8"]', "% of the IPv4 internet"),
        ('["2000::/4"]', "% of the IPv6 internet"),
    ],
)
def test_a_set_covering_much_of_the_internet_is_warned_about(cli, project, cidrs, says):
    _set(project, f"allowed_cidrs = {cidrs}")
    result = cli("config", "validate")
    assert result.code == 0, result.err  # a warning: the choice stays the user's
    line = next(
        n
        for n, text in enumerate(project.read_text().splitlines(), 1)
        if text.startswith("allowed_cidrs")
    )
    match = re.search(
        rf"^pilot\.toml:{line}:\d+: server\.allowed_cidrs: warning: (.*)$", result.err, re.M
    )
    assert match, result.err
    assert says in match[1] and "reach SSH and Docker" in match[1]


@pytest.mark.parametrize(
    "cidrs",
    [
        '["203.0.113.0/24", "198.51.100.7/32"]',
        '["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]',
        '["2001:db8::/48"]',
    ],
)
def test_own_and_private_networks_are_not_warned_about(cli, project, cidrs):
    _set(project, f"allowed_cidrs = {cidrs}")
    result = cli("config", "validate")
    assert result.code == 0 and "warning" not in result.err, result.err


@pytest.mark.parametrize(
    "port, what", [(22, "SSH"), (2375, "Docker"), (2376, "Docker"), (9701, "Waypoint")]
)
def test_the_web_port_may_not_be_an_admin_port(cli, project, port, what):
    project.write_text(
        project.read_text().replace('engine = "pilot"', f'engine = "pilot"\nhttp_port = {port}')
    )
    result = cli("config", "validate")
    assert result.code == 2
    line = next(
        n
        for n, text in enumerate(project.read_text().splitlines(), 1)
        if text.startswith("http_port")
    )
    match = re.search(rf"^pilot\.toml:{line}:13: server\.http_port: (.*)$", result.err, re.M)
    assert match, result.err
    assert what in match[1] and "whole internet" in match[1]


@pytest.mark.parametrize("given", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["::/0"]])
def test_init_warns_about_a_world_open_answer(cli, tmp_path, given):
    flags = [arg for cidr in given for arg in ("--allowed-cidr", cidr)]
    result = cli("init", "--name", "acme", "--home", "aws", *flags)
    assert result.code == 0, result.err
    assert re.search(
        r"server\.allowed_cidrs: warning: .*the whole internet reach SSH and "
        r"Docker",
        result.err,
    ), result.err
    assert (tmp_path / "pilot.toml").exists()


def _security_group(cidrs: list[str], ipv6: list[str] | None = None) -> dict:
    rule = {
        "from_port": 22,
        "to_port": 22,
        "description": "SSH",
        "cidr_blocks": cidrs,
        "ipv6_cidr_blocks": ipv6 or [],
    }
    return {
        "resource_changes": [
            {
                "address": "aws_security_group.server",
                "type": "aws_security_group",
                "change": {"actions": ["create"], "after": {"ingress": [rule]}},
            }
        ]
    }


def test_the_plan_warns_about_a_set_that_covers_the_internet_too():
    _, halves = summarize_plan(_security_group(["0.0.0.0/1", "128.0.0.0/1"]))
    _, v6 = summarize_plan(_security_group([], ["::/0"]))
    _, own = summarize_plan(_security_group(["203.0.113.7/32"]))
    expected = "aws_security_group.server opens port 22 (SSH) to the WHOLE INTERNET"
    assert halves == [expected] and v6 == [expected] and own == []
    _, quarter = summarize_plan(_security_group(["64.0.0.0/2"]))
    assert len(quarter) == 1 and "% OF THE IPv4 INTERNET" in quarter[0]


async def test_the_server_form_warns_while_you_type(project):
    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.server_form import ServerFormScreen

    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, ServerFormScreen)
        field = screen.query_one("#allowed_cidrs", Input)
        problem = screen.query_one("#allowed_cidrs-problem", Static)
        field.value = "0.0.0.0/1, 128.0.0.0/1"
        await pilot.pause()
        assert "the whole internet reach SSH and Docker" in str(problem.render())
        field.value = "203.0.113.7/32"
        await pilot.pause()
        assert str(problem.render()) == ""
