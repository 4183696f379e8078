"""Previews of a zip Lambda in the sandbox, from the CLI as a user runs them: each preview is
a function of its own (`pilot-acme-fn--NAME`, tagged as the app's preview) with its alias
`live` and a function URL, serving versions published with the previews' env and the
previews' own secrets only. Nothing of the app's function is read or changed by them, and a
preview's removal takes its function and logs. Previews an earlier Pilot made as aliases of
the app's function are still listed and removed. moto runs the functions on the private
Docker engine (the stand-in runtime image of conftest.lambda_runtime); the functions' code
and moto are real."""

from __future__ import annotations

import json
import time

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history, secrets
from pilot_tui.deploy.session import open_deployer
from tests.support.deploy_fixtures import SECRET, invoke, legacy_alias_preview

PREVIEW_TOKEN = "tok-preview-lambda-7d21-never-shown"
HOUR = 3600.0
APP_FUNCTION = "pilot-acme-fn"


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def _lambda(root):
    url = Sandbox(root / ".pilot").running()["aws"].url
    return emulator_aws("us-east-1").session.client("lambda", endpoint_url=url)


def _functions(root) -> list[str]:
    return sorted(f["FunctionName"] for f in _lambda(root).list_functions()["Functions"])


def _aliases(root, function: str = APP_FUNCTION) -> dict[str, str]:
    """{alias: the version it serves} of ``function``."""
    found = _lambda(root).list_aliases(FunctionName=function)["Aliases"]
    return {a["Name"]: a["FunctionVersion"] for a in found}


def _versions(root, function: str = APP_FUNCTION) -> list[str]:
    listed = _lambda(root).list_versions_by_function(FunctionName=function)["Versions"]
    return [v["Version"] for v in listed if v["Version"] != "$LATEST"]


def _env(root, function: str) -> dict[str, str]:
    config = _lambda(root).get_function_configuration(FunctionName=function, Qualifier="live")
    return config["Environment"]["Variables"]


def _url(root, function: str) -> str:
    return _lambda(root).get_function_url_config(FunctionName=function, Qualifier="live")[
        "FunctionUrl"
    ]


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
    name, release, _url_shown = one.out.strip().split("\t")
    assert (name, release) == ("fn--feature-one", "v1")
    two = cli("deploy", "fn", "--preview", "two")
    assert two.code == 0, two.err

    # Each preview is a function of its own, with its alias and URL, tagged as the app's
    # preview; the app's function has its one alias and version, untouched.
    assert _functions(root) == [
        APP_FUNCTION,
        f"{APP_FUNCTION}--feature-one",
        f"{APP_FUNCTION}--two",
    ]
    assert _aliases(root) == {"live": "1"} and _versions(root) == ["1"]
    for preview in ("feature-one", "two"):
        function = f"{APP_FUNCTION}--{preview}"
        assert _aliases(root, function) == {"live": "1"}
        tags = _lambda(root).get_function(FunctionName=function)["Tags"]
        assert tags["pilot:project"] == "acme" and tags["pilot.preview-of"] == "fn"
        assert tags["pilot.preview"] == preview
    assert _url(root, f"{APP_FUNCTION}--feature-one") != _url(root, APP_FUNCTION)
    assert invoke(root, "/p", function=f"{APP_FUNCTION}--two") == {
        "greeting": "from a preview",
        "path": "/p",
    }
    assert invoke(root, "/a") == {"greeting": "hi", "path": "/a"}
    assert _env(root, f"{APP_FUNCTION}--two") == {
        "GREETING": "from a preview",
        "API_TOKEN": PREVIEW_TOKEN,
    }
    assert _env(root, APP_FUNCTION) == {"GREETING": "hi", "API_TOKEN": SECRET}

    # A third is refused (exit 2): max is 2; nothing of it was made.
    three = cli("deploy", "fn", "--preview", "three")
    assert three.code == 2
    assert "previews.max = 2" in three.err and "feature-one, two" in three.err
    assert f"{APP_FUNCTION}--three" not in _functions(root)

    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {row["full_name"]: row for row in json.loads(listed.out)}
    assert sorted(rows) == ["fn--feature-one", "fn--two"]
    # the sandbox's function URL: made up by the local AWS API, nothing answers there (as
    # `status --json` says it: in simulated_url, never in url)
    assert rows["fn--two"]["release"] == "v1" and rows["fn--two"]["url"] is None
    assert rows["fn--two"]["simulated_url"].startswith("https://")
    assert rows["fn--two"]["expires"].endswith("Z")
    shown = cli("preview", "list")
    assert f"simulated: {rows['fn--two']['simulated_url']}" in shown.out
    # columns as wide as what they hold: all but the URL fit 80 columns (the walk: a row
    # was 147 wide, its header's URL on a line of its own)
    header, *listed_rows = shown.out.splitlines()
    assert header.split()[:4] == ["PREVIEW", "RELEASE", "STATE", "EXPIRES"]
    assert header.index("URL") < 80
    assert all(row.index("  simulated: ") < 80 for row in listed_rows), shown.out

    # "two" released again an hour later (the clock injected): past feature-one's TTL a
    # prune removes feature-one alone, with its function and logs.
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
    assert f"deleted function {APP_FUNCTION}--feature-one" in said
    assert _functions(root) == [APP_FUNCTION, f"{APP_FUNCTION}--two"]
    assert not history.history_file(state, "fn--feature-one").exists()
    assert _aliases(root, f"{APP_FUNCTION}--two") == {"live": "2"}  # its v2 renewed its expiry
    expires = _lambda(root).get_function(FunctionName=f"{APP_FUNCTION}--two")["Tags"]
    assert expires["pilot.preview-expires"] == str(int(started + HOUR + 72 * HOUR))

    # named as `preview list` shows it (the walk: that name was refused as 'fn-two')
    gone = cli("preview", "destroy", "fn", "fn--two", "--yes")
    assert gone.code == 0, gone.err
    assert _functions(root) == [APP_FUNCTION]
    assert not history.history_file(state, "fn--two").exists()
    again = cli("preview", "destroy", "fn", "two", "--yes")
    assert again.code == 2 and "no preview 'two'" in again.err
    # Found first, then asked: with nothing to remove, --missing-ok needs no terminal
    # (found walking the app: it asked for confirmation, then failed with exit 2).
    missing = cli("preview", "destroy", "fn", "two", "--missing-ok")
    assert missing.code == 0 and "nothing to remove" in missing.err, missing.err

    # The app served throughout and still does; its function and history are its own.
    assert invoke(root, "/b") == {"greeting": "hi", "path": "/b"}
    assert _aliases(root) == {"live": "1"} and _versions(root) == ["1"]
    assert [r.id for r in history.load(state, "fn")] == ["v1"]
    for result in (app, one, two, three, listed, gone):
        assert SECRET not in result.out + result.err
        assert PREVIEW_TOKEN not in result.out + result.err


def test_an_earlier_pilots_alias_preview_is_listed_pruned_and_removed(fn_project, cli):
    """A preview made by an earlier Pilot (an alias of the app's function, with a public
    URL) is not left serving unseen: listed beside the new ones, removed by `preview
    destroy` with its URL and version, and by a prune once it has expired."""
    root = fn_project
    assert cli("deploy", "fn").code == 0
    lam = _lambda(root)
    old = legacy_alias_preview(lam, APP_FUNCTION, "fn", "old", time.time() + HOUR)
    legacy_alias_preview(lam, APP_FUNCTION, "fn", "stale", time.time() - 60)
    made = cli("deploy", "fn", "--preview", "new")  # its deploy prunes the expired "stale"
    assert made.code == 0, made.err
    assert "removing the preview fn--stale: its TTL (72h) ran out" in made.err
    assert "deleted alias preview--stale of pilot-acme-fn and its function URL" in made.err
    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {row["full_name"]: row for row in json.loads(listed.out)}
    assert sorted(rows) == ["fn--new", "fn--old"]

    # Deployed again, "old" is a function of its own: listed once, its expiry the new one's
    # (a prune must not take it for the old alias's); its removal takes both.
    again = cli("deploy", "fn", "--preview", "old")
    assert again.code == 0, again.err
    listed = json.loads(cli("preview", "list", "--json").out)
    assert sorted(row["full_name"] for row in listed) == ["fn--new", "fn--old"]
    gone = cli("preview", "destroy", "fn", "old", "--yes")
    assert gone.code == 0, gone.err
    assert f"deleted function {APP_FUNCTION}--old" in gone.err
    assert "deleted alias preview--old of pilot-acme-fn and its function URL" in gone.err
    assert f"deleted version {old} of pilot-acme-fn" in gone.err
    assert _aliases(root) == {"live": "1"}
    assert old not in _versions(root)
    assert invoke(root, "/c") == {"greeting": "hi", "path": "/c"}  # the app's alias stayed


def test_a_preview_made_before_its_own_role_runs_as_it_once_deployed_again(fn_project, cli):
    """Review: a preview made from a laptop before `ci github` runs as the apps' execution
    role; deployed again (a pull request's run may) it runs as the previews' own role,
    never the apps' with a pull request's code."""
    root = fn_project
    made = cli("deploy", "fn", "--preview", "pr-3")
    assert made.code == 0, made.err
    lam, function = _lambda(root), f"{APP_FUNCTION}--pr-3"
    assert lam.get_function(FunctionName=function)["Configuration"]["Role"].endswith(
        ":role/pilot-acme-lambda"
    )
    url = Sandbox(root / ".pilot").running()["aws"].url
    iam = emulator_aws("us-east-1").session.client("iam", endpoint_url=url)
    from pilot_tui.cloud.identity_github import LAMBDA_TRUST

    iam.create_role(
        RoleName="pilot-acme-lambda-previews", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )  # as `ci github` makes it
    again = cli("deploy", "fn", "--preview", "pr-3")
    assert again.code == 0, again.err
    assert lam.get_function(FunctionName=function)["Configuration"]["Role"].endswith(
        ":role/pilot-acme-lambda-previews"
    )


def test_a_preview_expires_whatever_its_tag_says(fn_project, cli):
    """Review: a pull request's run may write a preview's expiry tag (the year 2100); a tag
    further than a day past previews.ttl after the function's last change is not believed,
    and the preview goes when its TTL from that change runs out."""
    root = fn_project
    made = cli("deploy", "fn", "--preview", "pr-9")
    assert made.code == 0, made.err
    lam, function = _lambda(root), f"{APP_FUNCTION}--pr-9"
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"pilot.preview-expires": "4102444800"})
    pf = ProjectFile.load(root / "pilot.toml")
    config = pf.check().config
    assert config is not None
    with open_deployer(pf.path, config, lambda e: None, apps=["fn"], share=False) as engine:
        early = engine.prune_previews(lambda line: None, now=time.time() + 71 * HOUR)
        assert early == []  # its TTL (72h) from its last change has not run out
        removed = engine.prune_previews(lambda line: None, now=time.time() + 73 * HOUR)
    assert [p.full for p in removed] == ["fn--pr-9"]
    assert function not in _functions(root)


def test_app_destroy_takes_the_lambda_previews(fn_project, cli):
    root = fn_project
    assert cli("deploy", "fn").code == 0
    made = cli("deploy", "fn", "--preview", "pr-7")
    assert made.code == 0, made.err
    # No previews' secrets file: the app's value is not taken, and the deploy says so.
    assert "API_TOKEN left unset in the preview" in made.err
    assert "API_TOKEN" not in _env(root, f"{APP_FUNCTION}--pr-7")
    # Its logs and releases are its own (its function's log group, its history), by its
    # full name; found walking the app: both said "no app 'fn--pr-7'".
    invoke(root, "/seen-by-the-preview", function=f"{APP_FUNCTION}--pr-7")
    logs = cli("logs", "fn--pr-7")
    assert logs.code == 0, logs.err
    assert "hello_fn saw /seen-by-the-preview" in logs.out
    released = cli("releases", "fn--pr-7", "--json")
    assert released.code == 0, released.err
    assert [r["id"] for r in json.loads(released.out)] == ["v1"]
    # a preview never made: said so (it said "no log lines yet", exit 0, found walking)
    never = cli("logs", "fn--nothing-here")
    assert never.code == 2 and "fn has no preview 'nothing-here' (its previews: pr-7)" in never.err
    none = cli("releases", "fn--nothing-here")
    assert none.code == 0 and "(pilot-tui deploy fn --preview nothing-here)" in none.out
    back = cli("rollback", "fn--pr-7")  # found walking the app: "no app", exit 1
    assert back.code == 2 and "previews are not rolled back" in back.err, back.err
    assert "pilot-tui deploy fn --preview pr-7" in back.err
    assert cli("logs", "nope--pr-7").code == 2  # no such app
    gone = cli("app", "destroy", "fn", "--yes")
    assert gone.code == 0, gone.err
    assert f"deleted function {APP_FUNCTION}--pr-7" in gone.err
    assert _lambda(root).list_functions()["Functions"] == []
    assert not history.history_file(root / ".pilot", "fn--pr-7").exists()
    assert json.loads(cli("preview", "list", "--json").out) == []


async def test_previews_from_the_apps_screen(fn_project):
    """From the Apps screen: p asks for the preview's name (the name it will have shown as
    it is typed), deploys it, and the preview is listed under its app; d on its row deploys
    it again, r refuses, and x asks, then removes it where it runs."""
    from textual.widgets import DataTable, Input

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.app_logs import AppLogsScreen
    from pilot_tui.screens.apps import AppsScreen
    from pilot_tui.screens.colorlog import ColorLog
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
        # named as it is made, not as typed (found walking: the title said "Feature/Login!")
        titled = "a preview of fn: feature-login"  # (set once the deploy has read pilot.toml)
        assert await until(pilot, lambda: titled in text(deploy, "#deploy-title"))
        assert await until(pilot, lambda: "is live" in text(deploy, "#deploy-result"))
        # a function of its own; the app's (never deployed here) is not made
        assert _functions(root) == [f"{APP_FUNCTION}--feature-login"]
        await pilot.press("escape")
        assert app.screen is apps
        table = apps.query_one("#app-list", DataTable)
        row = "fn--feature-login"
        assert str(table.get_cell(row, "name")) == "└ fn--feature-login"
        assert str(table.get_cell(row, "target")) == "lambda preview"
        assert str(table.get_cell(row, "live")).startswith("v1 ")

        table.move_cursor(row=table.get_row_index("fn--feature-login"))
        await pilot.press("r")  # a preview is not rolled back
        assert app.screen is apps
        invoke(root, "/seen-in-the-tui", function=f"{APP_FUNCTION}--feature-login")
        await pilot.press("l")  # its own logs: its function's
        logs = app.screen
        assert isinstance(logs, AppLogsScreen)
        assert "Logs of fn--feature-login" in text(logs, "#app-logs-title")
        pane = logs.query_one("#app-logs-log", ColorLog)
        assert await until(
            pilot, lambda: any("saw /seen-in-the-tui" in line for line in pane.plain_lines)
        )
        await pilot.press("escape")
        assert app.screen is apps
        await pilot.press("d")  # deployed again from the source
        again = app.screen
        assert isinstance(again, DeployScreen)
        assert await until(pilot, lambda: "v2 is live" in text(again, "#deploy-result"))
        await pilot.press("escape")
        assert str(table.get_cell("fn--feature-login", "live")).startswith("v2 ")

        table.move_cursor(row=table.get_row_index("fn--feature-login"))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmCancel)
        await pilot.click("#stop")
        assert await until(pilot, lambda: "fn--feature-login" not in table.rows)
        assert _functions(root) == []
        assert not history.history_file(root / ".pilot", "fn--feature-login").exists()
        assert [str(key.value) for key in table.rows] == ["fn"]
