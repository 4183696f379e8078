"""Previews of a zip Lambda in the sandbox, from the CLI as a user runs them: each preview is
an alias of the app's function (`preview--NAME`) with a function URL of its own, serving a
version published with the previews' env and the previews' own secrets only. The app's
alias `live` never moves, and a preview's removal takes its alias, URL and versions and
nothing of the app's. moto runs the function on the private Docker engine (the stand-in
runtime image of conftest.lambda_runtime); the function's code and moto are real."""

from __future__ import annotations

import json
import time

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history, secrets
from pilot_tui.deploy.session import open_deployer
from tests.support.deploy_fixtures import SECRET, invoke

PREVIEW_TOKEN = "tok-preview-lambda-7d21-never-shown"
HOUR = 3600.0


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def _lambda(root):
    url = Sandbox(root / ".pilot").running()["aws"].url
    return emulator_aws("us-east-1").session.client("lambda", endpoint_url=url)


def _aliases(root) -> dict[str, str]:
    """{alias: the version it serves} of the app's function."""
    found = _lambda(root).list_aliases(FunctionName="pilot-acme-fn")["Aliases"]
    return {a["Name"]: a["FunctionVersion"] for a in found}


def _env(root, alias: str) -> dict[str, str]:
    config = _lambda(root).get_function_configuration(FunctionName="pilot-acme-fn", Qualifier=alias)
    return config["Environment"]["Variables"]


def _urls(root) -> set[str]:
    """The qualifiers that have a function URL."""
    lam = _lambda(root)
    return {
        alias
        for alias in _aliases(root)
        if lam.get_function_url_config(FunctionName="pilot-acme-fn", Qualifier=alias)
    }


def test_lambda_previews_beside_the_app_capped_expired_and_destroyed(fn_project, cli):
    root = fn_project
    state = root / ".pilot"
    _set(root, "apps[0].previews.max", 2)
    _set(root, "apps[0].previews.env", {"GREETING": "from a preview"})
    secrets.store(state, "fn", "API_TOKEN", PREVIEW_TOKEN, preview=True)

    app = cli("deploy", "fn")
    assert app.code == 0, app.err
    one = cli("deploy", "fn", "--preview", "feature/One")
    assert one.code == 0, one.err
    name, release, _url = one.out.strip().split("\t")
    assert (name, release) == ("fn--feature-one", "v1")
    two = cli("deploy", "fn", "--preview", "two")
    assert two.code == 0, two.err

    # Each preview is its own alias, URL and version; the app's alias has not moved.
    aliases = _aliases(root)
    assert sorted(aliases) == ["live", "preview--feature-one", "preview--two"]
    assert aliases["live"] == "1" and len(set(aliases.values())) == 3
    assert _urls(root) == set(aliases)
    assert invoke(root, "/p", alias="preview--two") == {"greeting": "from a preview", "path": "/p"}
    assert invoke(root, "/a") == {"greeting": "hi", "path": "/a"}
    assert _env(root, "preview--two") == {"GREETING": "from a preview", "API_TOKEN": PREVIEW_TOKEN}
    assert _env(root, "live") == {"GREETING": "hi", "API_TOKEN": SECRET}

    # A third is refused (exit 2): max is 2; no alias of it was made.
    three = cli("deploy", "fn", "--preview", "three")
    assert three.code == 2
    assert "previews.max = 2" in three.err and "feature-one, two" in three.err
    assert "preview--three" not in _aliases(root)

    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {row["full_name"]: row for row in json.loads(listed.out)}
    assert sorted(rows) == ["fn--feature-one", "fn--two"]
    assert rows["fn--two"]["release"] == "v1" and rows["fn--two"]["url"].startswith("https://")

    # "two" released again an hour later (the clock injected): past feature-one's TTL a
    # prune removes feature-one alone, with its alias, URL and version.
    started = time.time()
    pf = ProjectFile.load(root / "pilot.toml")
    config = pf.check().config
    assert config is not None
    with open_deployer(pf.path, config, lambda e: None, apps=["fn"], share=False) as engine:
        assert engine.deploy_preview("fn", "two", now=started + HOUR).id == "v2"
        said: list[str] = []
        removed = engine.prune_previews(said.append, now=started + 72 * HOUR + 60)
    assert [p.full for p in removed] == ["fn--feature-one"]
    assert any("TTL (72h) ran out" in line for line in said)
    assert sorted(_aliases(root)) == ["live", "preview--two"]
    assert not history.history_file(state, "fn--feature-one").exists()
    versions = _lambda(root).list_versions_by_function(FunctionName="pilot-acme-fn")["Versions"]
    described = [v.get("Description", "") for v in versions]
    assert not any("fn--feature-one" in d for d in described)
    # two's versions stay until two goes (its first is served by nothing now, as an app's
    # earlier releases are kept for a rollback).
    assert _aliases(root)["preview--two"] in {v["Version"] for v in versions}
    assert sum("fn--two" in d for d in described) == 2

    gone = cli("preview", "destroy", "fn", "two", "--yes")
    assert gone.code == 0, gone.err
    assert sorted(_aliases(root)) == ["live"]
    versions = _lambda(root).list_versions_by_function(FunctionName="pilot-acme-fn")["Versions"]
    assert [v["Version"] for v in versions if v["Version"] != "$LATEST"] == ["1"]
    assert not history.history_file(state, "fn--two").exists()
    again = cli("preview", "destroy", "fn", "two", "--yes")
    assert again.code == 2 and "no preview 'two'" in again.err

    # The app served throughout and still does; its history is its own.
    assert invoke(root, "/b") == {"greeting": "hi", "path": "/b"}
    assert [r.id for r in history.load(state, "fn")] == ["v1"]
    for result in (app, one, two, three, listed, gone):
        assert SECRET not in result.out + result.err
        assert PREVIEW_TOKEN not in result.out + result.err


def test_app_destroy_takes_the_lambda_previews(fn_project, cli):
    root = fn_project
    assert cli("deploy", "fn").code == 0
    made = cli("deploy", "fn", "--preview", "pr-7")
    assert made.code == 0, made.err
    # No previews' secrets file: the app's value is not taken, and the deploy says so.
    assert "API_TOKEN left unset in the preview" in made.err
    assert "API_TOKEN" not in _env(root, "preview--pr-7")
    gone = cli("app", "destroy", "fn", "--yes")
    assert gone.code == 0, gone.err
    assert "deleted alias preview--pr-7" in gone.err
    assert _lambda(root).list_functions()["Functions"] == []
    assert not history.history_file(root / ".pilot", "fn--pr-7").exists()
    assert json.loads(cli("preview", "list", "--json").out) == []


async def test_previews_from_the_apps_screen(fn_project):
    """From the Apps screen: p asks for the preview's name (the name it will have shown as
    it is typed), deploys it, and the preview is listed under its app; d on its row deploys
    it again, r refuses, and x asks, then removes it where it runs."""
    from textual.widgets import DataTable, Input

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.apps import AppsScreen
    from pilot_tui.screens.deploy import DeployScreen
    from pilot_tui.screens.preview_name import PreviewName
    from pilot_tui.screens.run_screen import ConfirmCancel
    from tests.integration.deploy.test_tui_deploy import text, until

    root = fn_project
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        apps = app.screen
        assert isinstance(apps, AppsScreen)
        await pilot.press("p")
        asked = app.screen
        assert isinstance(asked, PreviewName)
        asked.query_one(Input).value = ""
        await pilot.press(*"Feature/Login")
        assert "fn--feature-login" in text(asked, "#preview-name-shown")
        await pilot.press("enter")
        deploy = app.screen
        assert isinstance(deploy, DeployScreen)
        assert "a preview of fn: Feature/Login" in text(deploy, "#deploy-title")
        assert await until(pilot, lambda: "is live" in text(deploy, "#deploy-result"))
        assert sorted(_aliases(root)) == ["preview--feature-login"]  # never the app's alias
        await pilot.press("escape")
        assert app.screen is apps
        table = apps.query_one("#app-list", DataTable)
        row = table.get_row("fn--feature-login")
        assert str(row[0]) == "└ fn--feature-login" and str(row[3]) == "lambda preview"
        assert str(row[-1]).startswith("v1 ")

        table.move_cursor(row=table.get_row_index("fn--feature-login"))
        await pilot.press("r")  # a preview is not rolled back
        assert app.screen is apps
        await pilot.press("d")  # deployed again from the source
        again = app.screen
        assert isinstance(again, DeployScreen)
        assert await until(pilot, lambda: "v2 is live" in text(again, "#deploy-result"))
        await pilot.press("escape")
        assert str(table.get_row("fn--feature-login")[-1]).startswith("v2 ")

        table.move_cursor(row=table.get_row_index("fn--feature-login"))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmCancel)
        await pilot.click("#stop")
        assert await until(pilot, lambda: "fn--feature-login" not in table.rows)
        assert "preview--feature-login" not in _aliases(root)
        assert not history.history_file(root / ".pilot", "fn--feature-login").exists()
        assert [str(key.value) for key in table.rows] == ["fn"]
