"""Picking a Google service-account key on the credentials screen: browse or type a path,
checked before use, saved to pilot.toml as a path (never the key), then checked live."""

from __future__ import annotations

import json
import tomllib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from textual.widgets import DataTable, DirectoryTree, Input, Static

from pilot_tui.screens.app import create_app
from pilot_tui.screens.credentials import CredentialsScreen
from pilot_tui.screens.key_picker import KeyPickerScreen


def service_account_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-prod",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "pilot@acme-prod.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


async def until(pilot, condition, tries: int = 100) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


def screen_busy(app) -> bool:
    return any(w.group == "credentials" and not w.is_finished for w in app.workers)


@pytest.fixture
def gcp_project(project, cli, tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")  # outside the project, as a real home is
    (home / "keys").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))  # no ADC from this machine
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    assert cli("config", "set", "gcp.project", "acme-prod").code == 0
    assert cli("config", "set", "server.home", "gcp").code == 0
    return project, home


async def test_typed_path_is_checked_saved_and_validated(gcp_project):
    project, home = gcp_project
    key = home / "keys" / "acme.json"
    key.write_text(service_account_key())
    key.chmod(0o644)
    (home / "keys" / "notes.json").write_text('{"type": "external_account"}')
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        assert isinstance(app.screen, CredentialsScreen)
        await app.workers.wait_for_complete()
        await pilot.press("k")
        picker = app.screen
        assert isinstance(picker, KeyPickerScreen)
        await pilot.press(*"~/keys/notes.json", "enter")  # the wrong kind of file
        await pilot.pause()
        problem = str(picker.query_one("#key-problem", Static).render())
        assert "not a Google service-account" in problem
        assert isinstance(app.screen, KeyPickerScreen)  # still choosing
        field = picker.query_one("#key-path", Input)
        field.value = "~/keys/acme.json"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CredentialsScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one("#found", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        warnings = [n.message for n in app._notifications]
    text = project.read_text()
    assert tomllib.loads(text)["gcp"]["credentials"] == "~/keys/acme.json"
    assert "PRIVATE KEY" not in text
    used = [r for r in rows if "~/keys/acme.json" in r[2]]  # shown as the user writes it
    assert used and "(used)" in used[0][2]
    # Checked for real with google-auth: no network here, so the token request fails.
    assert "cannot reach Google to get a token" in used[0][4]
    assert any("chmod 600" in w for w in warnings)


async def test_browsing_the_tree_picks_a_key(gcp_project):
    project, home = gcp_project
    (home / "keys" / "acme.json").write_text(service_account_key())
    (home / "keys" / "readme.txt").write_text("not shown: only folders and .json")
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.press("k")
        picker = app.screen
        tree = picker.query_one("#key-tree", DirectoryTree)
        tree.focus()
        # The tree loads folders in its own long-lived worker: wait for what it shows.
        assert await until(pilot, lambda: [str(n.label) for n in tree.root.children] == ["keys"])
        await pilot.press("down", "enter")  # open keys/
        keys = tree.root.children[0]
        assert await until(
            pilot, lambda: [str(n.label) for n in keys.children] == ["acme.json"]
        )  # readme.txt is filtered out
        await pilot.press("down", "enter")
        assert await until(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        await until(pilot, lambda: not screen_busy(app))
    assert tomllib.loads(project.read_text())["gcp"]["credentials"] == "~/keys/acme.json"
