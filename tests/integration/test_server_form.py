"""The Server settings form: validated as you type, saved key by key with comments kept."""

from __future__ import annotations

import socket
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from textual.widgets import Input, Select, Static

from pilot_tui import netinfo
from pilot_tui.screens.app import create_app
from pilot_tui.screens.server_form import ServerFormScreen


async def test_form_validates_cidrs_as_you_type_and_saves(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, ServerFormScreen)
        sizes = [str(label) for label, _ in screen.query_one("#size", Select)._options]
        assert any("t3.small" in s and "$21.23/month" in s for s in sizes)  # as `server plan`
        cidrs = screen.query_one("#allowed_cidrs", Input)
        cidrs.value = "10.0.0.1/8"
        await pilot.pause()
        problem = str(screen.query_one("#allowed_cidrs-problem", Static).render())
        assert 'did you mean "10.0.0.0/8"' in problem  # the validator's own words
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Not saved" in str(screen.query_one("#form-status", Static).render())
        assert "10.0.0.1" not in project.read_text()

        cidrs.value = "203.0.113.7/32"
        screen.query_one("#home", Select).value = "aws"
        await pilot.pause()
        screen.query_one("#region", Select).value = "eu-west-1"
        screen.query_one("#size", Select).value = "t3.medium"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    text = project.read_text()
    data = tomllib.loads(text)
    assert data["server"]["home"] == "aws" and data["aws"]["region"] == "eu-west-1"
    assert data["server"]["size"] == "t3.medium"
    assert data["server"]["allowed_cidrs"] == ["203.0.113.7/32"]
    assert "# sandbox (local, no cloud account) | aws | gcp | host" in text  # comments kept


async def test_switching_home_to_gcp_offers_gcp_regions_and_sizes(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        screen.query_one("#home", Select).value = "gcp"
        await pilot.pause()
        assert screen.query_one("#region", Select).value == "us-central1"
        assert screen.query_one("#size", Select).value == "e2-small"
        await pilot.press("ctrl+s")  # gcp needs gcp.project: refused with the reason
        await pilot.pause()
        status = str(screen.query_one("#form-status", Static).render())
        assert "Not saved" in status and "gcp.project" in status


@pytest.fixture
def address_service(monkeypatch):
    """A real HTTP endpoint on 127.0.0.1 answering like checkip.amazonaws.com."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"203.0.113.7\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(netinfo, "CHECK_URLS", (f"http://127.0.0.1:{server.server_port}/",))
    yield
    server.shutdown()
    server.server_close()


async def test_allowed_cidrs_prefilled_with_the_operators_address(project, cli, address_service):
    assert cli("config", "set", "server.home", "aws").code == 0
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one("#allowed_cidrs", Input).value == "203.0.113.7/32"
        hint = str(screen.query_one("#allowed_cidrs-hint", Static).render())
        assert "203.0.113.7" in hint
        assert "203.0.113.7" not in project.read_text()  # not saved until Save
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert tomllib.loads(project.read_text())["server"]["allowed_cidrs"] == ["203.0.113.7/32"]


async def test_address_lookup_failing_says_so(project, cli, monkeypatch):
    assert cli("config", "set", "server.home", "aws").code == 0
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(netinfo, "CHECK_URLS", (f"http://127.0.0.1:{port}/",))
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#allowed_cidrs", Input).value == ""
        hint = str(screen.query_one("#allowed_cidrs-hint", Static).render())
        assert "could not be found" in hint


async def test_home_host_asks_for_the_docker_host_and_checks_it(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        host = screen.query_one("#host", Input)
        assert not host.display  # only for home = "host"
        screen.query_one("#home", Select).value = "host"
        await pilot.pause()
        assert host.display and not screen.query_one("#region", Select).display
        host.value = "tcp://10.0.0.5:2375"
        await pilot.pause()
        assert "plain-TCP Docker is never used" in str(
            screen.query_one("#host-problem", Static).render()
        )
        host.value = "ssh://deploy@10.0.0.5"
        await pilot.pause()
        assert str(screen.query_one("#host-problem", Static).render()) == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
    data = tomllib.loads(project.read_text())
    assert data["server"]["home"] == "host"
    assert data["server"]["host"] == "ssh://deploy@10.0.0.5"


async def test_size_list_shows_the_same_monthly_estimate_as_server_plan(project):
    """Each size in the list shows what `server plan` estimates for it (machine + root disk
    + public IPv4, pilot_tui.prices.estimate), not the machine alone, and fits 80 columns."""
    from textual.widgets._select import SelectCurrent

    from pilot_tui import prices

    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, ServerFormScreen)
        select = screen.query_one("#size", Select)
        labels = {value: str(label) for label, value in select._options}
        for size, _machine_only in prices.SIZES["aws"]:
            total = prices.estimate("sandbox", size).total
            assert total is not None
            assert f"~${total:,.2f}/month" in labels[size], labels[size]
        assert "$21.23/month" in labels["t3.small"]  # the figure `server plan` shows
        current = select.query_one(SelectCurrent)
        shown = str(current.query_one(Static).render())
        assert f"~${prices.estimate('sandbox', str(select.value)).total:,.2f}/month" in shown
        assert current.region.right <= 80
        await pilot.click("#size")
        await pilot.pause()
        overlay = select.query_one("SelectOverlay")
        assert overlay.region.right <= 80
        assert any("$21.23/month" in str(o.prompt) for o in overlay._options)  # type: ignore[attr-defined]


async def test_a_refused_save_is_said_where_it_shows_at_80x24(project):
    """Found walking: at 80x24 ctrl+s with a bad CIDR seemed to do nothing: the inline
    problem and "Not saved" were below the fold, and no toast said it."""
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, ServerFormScreen)
        screen.query_one("#allowed_cidrs", Input).value = "10.0.0.300/8"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Not saved: server.allowed_cidrs") for m in said), said
        status = screen.query_one("#form-status", Static)
        assert "Not saved" in str(status.render())
        assert status.region.height >= 1 and status.region.bottom <= 24, status.region
        assert "10.0.0.300" not in project.read_text()


async def test_esc_with_unsaved_changes_asks_before_throwing_them_away(project):
    """Found walking: Esc on the server options form, and on the new-app form, dropped what
    was typed without a word, where the pilot.toml editor asks. Both ask now; with nothing
    changed (or all saved), Esc just goes back."""
    from pilot_tui.screens.apps import NewAppScreen
    from pilot_tui.screens.form_guard import ConfirmDiscardForm
    from pilot_tui.screens.welcome import WelcomeScreen

    before = project.read_text()
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        form = app.screen
        assert isinstance(form, ServerFormScreen)
        await pilot.pause()
        await pilot.press("escape")  # nothing changed: back at once
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("o")
        await pilot.pause()
        form = app.screen
        form.query_one("#allowed_cidrs", Input).value = "203.0.113.7/32"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDiscardForm)
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert app.screen is form
        assert form.query_one("#allowed_cidrs", Input).value == "203.0.113.7/32"
        await pilot.press("ctrl+s")  # saved: Esc has nothing to lose
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        assert "203.0.113.7/32" in project.read_text()

        project.write_text(before)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        new = app.screen
        assert isinstance(new, NewAppScreen)
        new.query_one("#env", Input).value = "LOG_LEVEL=debug"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDiscardForm)
        await pilot.click("#discard")
        await pilot.pause()
        assert not isinstance(app.screen, NewAppScreen)
    assert project.read_text() == before
