"""A zip Lambda from the CLI in the sandbox, as a user runs it: deploy, an unchanged redeploy,
a change, rollback, logs from CloudWatch, status and destroy. The sandbox's moto runs the
function on the private Docker engine (see conftest.lambda_runtime for the stand-in runtime
image); nothing here needs a Docker host of the project's own."""

from __future__ import annotations

import json
import shutil

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from tests.support.deploy_fixtures import SECRET, invoke


def set_greeting(root, value: str) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.fn.env.GREETING", value))


def _unwatched(root) -> None:
    """Releases not watched (test_lambda_watch.py is the watch's): each would wait 60 s."""
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps[0].target.watch", 0))


def test_zip_lambda_from_the_cli(fn_project, cli):
    root = fn_project
    _unwatched(root)
    first = cli("deploy", "fn")
    assert first.code == 0, first.err
    assert "fn: build" in first.err and "published version 1" in first.err
    assert "the sandbox's cloud is simulated" in first.err
    # moto makes up a function URL that nothing serves: marked so, never the answer
    assert first.out.strip().split("\t") == ["fn", "v1", "-"]
    assert "release v1 is live (simulated: https://" in first.err and ".on.aws)" in first.err
    assert "function URL simulated: https://" in first.err  # (found walking: said bare)
    assert invoke(root, "/a") == {"greeting": "hi", "path": "/a"}

    again = cli("deploy", "fn")
    assert again.code == 0 and "nothing changed: v1 is live" in again.err

    set_greeting(root, "hey")
    changed = cli("deploy", "fn")
    assert changed.code == 0, changed.err
    assert "v2" in changed.out and invoke(root)["greeting"] == "hey"

    back = cli("rollback", "fn")
    assert back.code == 0, back.err
    assert "rollback to v1" in back.out and invoke(root)["greeting"] == "hi"
    # bad input, nothing released (found walking: exit 1, and the live one made "v4")
    for wanted, said in (("v3", "v3 is the live release"), ("v99", "no release 'v99'")):
        refused = cli("rollback", "fn", wanted)
        assert refused.code == 2 and said in refused.err, refused.err
    listed = cli("releases", "fn", "--json")
    revisions = [(r["id"], r["status"], r["revision"]) for r in json.loads(listed.out)]
    assert revisions == [("v1", "superseded", "1"), ("v2", "superseded", "2"), ("v3", "live", "1")]

    logs = cli("logs", "fn", "--tail", "50")
    assert logs.code == 0, logs.err
    assert "hello_fn saw /a" in logs.out  # from CloudWatch, where moto put the real output

    status = cli("status", "--json")
    assert status.code == 0, status.err
    row = next(r for r in json.loads(status.out) if r["app"] == "fn")
    assert row["health"] == "healthy" and row["release"] == "v3"

    for result in (first, again, changed, back, logs, status):
        assert SECRET not in result.out + result.err
    assert SECRET not in (root / "pilot.toml").read_text()

    refused = cli("app", "destroy", "fn")  # no terminal, no --yes: nothing deleted
    assert refused.code == 2 and "add --yes" in refused.err
    assert "pilot-acme-fn" not in refused.err
    gone = cli("app", "destroy", "fn", "--yes")
    assert gone.code == 0, gone.err
    assert "deleted function pilot-acme-fn" in gone.err
    url = Sandbox(root / ".pilot").running()["aws"].url
    assert (
        emulator_aws("us-east-1")
        .session.client("lambda", endpoint_url=url)
        .list_functions()["Functions"]
        == []
    )
    after = cli("status", "--json")
    row = next(r for r in json.loads(after.out) if r["app"] == "fn")
    assert row["health"] == "not deployed"


def test_unknown_app_and_missing_folder(fn_project, cli):
    unknown = cli("logs", "nope")
    assert unknown.code != 0 and 'no app "nope"' in unknown.err
    shutil.rmtree(fn_project / "fn")
    failed = cli("deploy", "fn")
    assert failed.code == 1
    assert "build" in failed.err and "does not exist (apps.fn.path)" in failed.err


async def test_deploy_then_follow_cloudwatch_logs_in_the_app(fn_project):
    """From the Apps screen: `d` deploys the function, `l` in the deploy viewer follows its
    CloudWatch logs, and a new invocation's line arrives in the pane while it is open."""
    from textual.widgets import DataTable, Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.app_logs import AppLogsScreen
    from pilot_tui.screens.apps import AppsScreen
    from pilot_tui.screens.colorlog import ColorLog
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import text, until

    root = fn_project
    app = create_app(str(root / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)
        await pilot.press("d")
        deploy = app.screen
        assert isinstance(deploy, DeployScreen)
        assert await until(pilot, lambda: "is live" in text(deploy, "#deploy-result"))
        assert "lambda-url" in text(deploy, "#deploy-result")
        assert "l follows its logs" in text(deploy, "#deploy-result")
        invoke(root, "/first")
        await pilot.press("l")
        logs = app.screen
        assert isinstance(logs, AppLogsScreen)
        pane = logs.query_one("#app-logs-log", ColorLog)
        assert await until(
            pilot, lambda: any("hello_fn saw /first" in line for line in pane.plain_lines)
        )
        assert "CloudWatch Logs" in str(logs.query_one("#app-logs-state", Static).render())
        invoke(root, "/second")  # arrives at the next poll, the pane still open
        assert await until(
            pilot, lambda: any("hello_fn saw /second" in line for line in pane.plain_lines)
        )
        assert sum("hello_fn saw /first" in line for line in pane.plain_lines) == 1
        await pilot.press("escape")
        assert isinstance(app.screen, DeployScreen)
        assert logs.stop.is_set()
        await pilot.press("escape")  # the deploy viewer
        assert isinstance(app.screen, AppsScreen)
        # Deployed again unchanged: no stage is left waiting (found walking: "release ·").
        await pilot.press("d")
        again = app.screen
        assert isinstance(again, DeployScreen) and again is not deploy
        assert await until(pilot, lambda: "is live" in text(again, "#deploy-result"))
        await pilot.pause()
        stages = again.query_one("#stages", DataTable)
        rows = [stages.get_row_at(n) for n in range(stages.row_count)]
        states = {str(row[0]): str(row[1]) for row in rows}
        assert "nothing changed" in str(stages.get_cell("deploy", "detail"))
        assert "·" not in states.values(), states
        assert states["deploy"] == "✓ done", states
        await pilot.press("escape", "escape")  # the deploy viewer, the Apps screen
        home = app.screen
        # The dashboard asks Lambda itself (no Docker host: the function is all there is),
        # and no longer sends a person who has a live app off to create a server.
        assert await until(pilot, lambda: "healthy" in text(home, "#health"))
        assert "fn" in text(home, "#health") and "proxy" not in text(home, "#health")
        assert "create the Pilot Server" not in text(home, "#next-step")


def test_status_after_the_sandbox_stops(fn_project, cli):
    """The sandbox's cloud lives in memory: once its emulators stop, the function is gone,
    and status says so rather than starting them again to ask."""
    assert cli("deploy", "fn").code == 0
    Sandbox(fn_project / ".pilot").stop()
    status = cli("status", "--json")
    row = next(r for r in json.loads(status.out) if r["app"] == "fn")
    assert row["release"] == "v1" and row["health"].startswith("stopped (the sandbox's")
    assert status.code == 1
    assert Sandbox(fn_project / ".pilot").running() == {}
    logs = cli("logs", "fn")  # nor are they started to read logs that went with them
    assert logs.code == 1 and "the sandbox's emulators are stopped" in logs.err
    assert Sandbox(fn_project / ".pilot").running() == {}


def test_a_zip_lambda_rollback_restores_env_and_secret_versions(fn_project, cli, monkeypatch):
    """Issue 15, item 1, on a zip Lambda: each release records its settings and the version
    of its secrets; the rollback moves the alias to the version made with them (Lambda
    keeps each version's environment), and `releases` names what changed, never a value."""
    root = fn_project
    _unwatched(root)
    rotated = "tok-rotated-91f0c3aa5e27-never-shown"
    assert cli("deploy", "fn").code == 0
    set_greeting(root, "hey")
    monkeypatch.setenv("API_TOKEN", rotated)
    changed = cli("deploy", "fn")
    assert changed.code == 0, changed.err
    url = Sandbox(root / ".pilot").running()["aws"].url
    lam = emulator_aws("us-east-1").session.client("lambda", endpoint_url=url)

    def live_env() -> dict:
        config = lam.get_function_configuration(FunctionName="pilot-acme-fn", Qualifier="live")
        return config["Environment"]["Variables"]

    assert live_env() == {"GREETING": "hey", "API_TOKEN": rotated}
    listed = cli("releases", "fn", "--json")
    rows = {r["id"]: r for r in json.loads(listed.out)}
    s1, s2 = rows["v1"]["secrets_version"], rows["v2"]["secrets_version"]
    assert s1.startswith("s1-") and s2.startswith("s2-")
    assert rows["v2"]["changes"] == ["env changed: GREETING", "secrets changed: API_TOKEN"]
    assert rows["v2"]["settings"]["target"]["kind"] == "lambda"

    back = cli("rollback", "fn")
    assert back.code == 0, back.err
    assert live_env() == {"GREETING": "hi", "API_TOKEN": SECRET}
    v3 = json.loads(cli("releases", "fn", "--json").out)[-1]
    assert (v3["id"], v3["secrets_version"], v3["revision"]) == ("v3", s1, "1")
    assert v3["settings"] == rows["v1"]["settings"]
    for result in (changed, listed, back):
        assert SECRET not in result.out + result.err and rotated not in result.out + result.err
