"""Adding apps: detection of the source, validation of the form, the [[apps]] table written."""

from __future__ import annotations

import dataclasses
import json
import tomllib

import pytest
from textual.widgets import DataTable, Input, Select, Static

from pilot_tui.apps import add_app
from pilot_tui.config.starter import starter_text
from pilot_tui.config.validate import check_text
from pilot_tui.deploy.build.stack import detect
from pilot_tui.deploy.targets import kinds_for
from pilot_tui.screens.app import create_app
from pilot_tui.screens.apps import AppsScreen, NewAppScreen


def test_detection(tmp_path):
    cases = {
        "docker": ({"Dockerfile": "FROM busybox\n"}, "dockerfile"),
        "site": ({"package.json": json.dumps({"scripts": {"build": "vite build"}})}, "static"),
        "node": ({"package.json": json.dumps({"scripts": {"start": "node ."}})}, "auto"),
        "py": ({"requirements.txt": "flask\n"}, "auto"),
        "html": ({"index.html": "<h1>hi</h1>"}, "static"),
    }
    for name, (files, kind) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        for fname, content in files.items():
            (folder / fname).write_text(content)
        assert detect(folder).build["kind"] == kind, name
    assert detect(tmp_path / "site").build == {
        "kind": "static",
        "command": "npm run build",
        "output": "dist",
    }


def test_add_app_keeps_the_file_and_validates():
    text = add_app(
        starter_text("acme"),
        {
            "name": "api",
            "path": ".",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server"},
            "secrets": ["DB_URL"],
        },
    )
    assert text.startswith(starter_text("acme").rstrip("\n"))  # nothing above moved
    assert check_text(text).report.ok
    assert tomllib.loads(text)["apps"][0]["secrets"] == ["DB_URL"]


async def on_the_apps_screen(app, pilot) -> None:
    """From the home screen, `a`: the Apps screen, drawn."""
    await pilot.pause()
    await pilot.press("a")
    assert isinstance(app.screen, AppsScreen)
    await pilot.pause()


async def test_the_apps_screen_says_at_once_that_there_are_none_yet(project):
    """Found walking: with no app the screen showed an empty table, and said "No apps
    yet: press n" only once a key that acts on an app was pressed."""
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_apps_screen(app, pilot)
        empty = app.screen.query_one("#apps-empty", Static)
        assert empty.display and "No apps yet: press n to add one" in str(empty.render())
        assert empty.region.height >= 1 and empty.region.bottom <= 23  # on screen, at 80x24
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, NewAppScreen)
        form.query_one("#path", Input).value = "."
        form.query_one("#name", Input).value = "api"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AppsScreen)
        assert not app.screen.query_one("#apps-empty", Static).display  # one now


async def test_the_selected_apps_address_shows_in_full_at_80_columns(project):
    """Found walking: at 80 columns the live column cut an address to "v4 http:/"; the
    selected row is now shown in full beneath the table."""
    from pilot_tui.config.document import ProjectFile
    from pilot_tui.deploy import history

    (project.parent / "web").mkdir()
    (project.parent / "web" / "Dockerfile").write_text("FROM scratch\n")
    pf = ProjectFile.load(project)
    app_settings = {"name": "web", "path": "web", "build": {"kind": "dockerfile"}}
    pf.save(add_app(pf.text, {**app_settings, "target": {"kind": "server"}, "secrets": ["KEY"]}))
    url = "https://web.a-rather-long-domain-name.example.com/some/path/index.html"
    live = history.Release("v4", "web", "w:4", "sha256:4", "2026-12-05T10:00:00Z", "live", url=url)
    history.save(project.parent / ".pilot", "web", [live])
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_apps_screen(app, pilot)
        detail = app.screen.query_one("#app-detail", Static)
        shown = str(detail.render())
        assert f"v4 live at {url}" in shown.replace("\n", ""), shown
        assert "secrets: KEY" in shown and detail.region.bottom <= 23
    # an address the sandbox's cloud made up is named so: "v4 live (simulated: …)", never
    # "live at simulated: …" (found walking)
    made_up = dataclasses.replace(live, url=None, simulated_url="https://abc.lambda-url.on.aws")
    history.save(project.parent / ".pilot", "web", [made_up])
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await on_the_apps_screen(app, pilot)
        shown = str(app.screen.query_one("#app-detail", Static).render()).replace("\n", "")
        assert "v4 live (simulated: https://abc.lambda-url.on.aws)" in shown, shown


async def test_new_app_form_detects_validates_and_saves(project):
    site = project.parent / "site"
    site.mkdir()
    (site / "package.json").write_text(json.dumps({"scripts": {"build": "vite build"}}))
    app = create_app(str(project))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewAppScreen)
        form.query_one("#path", Input).value = "site"
        await pilot.pause()
        assert "static site" in str(form.query_one("#detected", Static).render())
        assert form.query_one("#target", Select).value == "s3-cloudfront"
        assert form.query_one("#name", Input).value == "site"  # the suggestion follows
        form.query_one("#name", Input).value = "web"
        form.query_one("#path", Input).value = "./site"
        await pilot.pause()
        assert form.query_one("#name", Input).value == "web"  # typed: kept
        form.query_one("#path", Input).value = "site"
        form.query_one("#env", Input).value = "bad name=1"
        await pilot.pause()
        assert "not valid" in str(form.query_one("#new-app-problems", Static).render())
        app.clear_notifications()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NewAppScreen)  # refused: still here
        # the toast names the problem (found walking: "Fix the problems listed under the
        # form first", with the list below the fold at 80x24)
        said = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Not added: ") and "not valid" in m for m in said), said
        form.query_one("#env", Input).value = "LOG_LEVEL=info"
        form.query_one("#secrets", Input).value = "API_TOKEN"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AppsScreen)
        assert app.screen.query_one("#app-list", DataTable).row_count == 1
    data = tomllib.loads(project.read_text())
    assert data["apps"] == [
        {
            "name": "web",
            "path": "site",
            "build": {"kind": "static", "command": "npm run build", "output": "dist"},
            "target": {"kind": "s3-cloudfront"},
            "env": {"LOG_LEVEL": "info"},
            "secrets": ["API_TOKEN"],
        }
    ]


# A folder of each sort of source, and the target each server home suggests for it: the
# answers of the per-home target lists that `app new` and the form each kept until issue 12.
SOURCES = {
    "site": {"index.html": "<h1>hi</h1>"},
    "fn": {"lambda_function.py": "def lambda_handler(event, context):\n    return {}\n"},
    "web": {"Dockerfile": "FROM busybox\n"},
}
SUGGESTED = {
    "sandbox": {"site": "s3-cloudfront", "fn": "lambda", "web": "server"},
    "aws": {"site": "s3-cloudfront", "fn": "lambda", "web": "server"},
    "gcp": {"site": "gcs-cdn", "fn": "lambda", "web": "server"},
    "host": {"site": "server", "fn": "server", "web": "server"},
}
OFFERED = {
    "sandbox": ("server", "lambda", "ecs", "s3-cloudfront"),
    "aws": ("server", "lambda", "ecs", "s3-cloudfront", "cloud-run", "gcs-cdn"),
    "gcp": ("server", "cloud-run", "gcs-cdn", "lambda", "ecs", "s3-cloudfront"),
    "host": ("server",),
}


def project_at(home: str) -> str:
    host = 'host = "ssh://deploy@build.example.com"\n' if home == "host" else ""
    return (
        f'[project]\nname = "acme"\n\n[server]\nhome = "{home}"\n{host}\n'
        '[aws]\nregion = "us-east-1"\n\n[gcp]\nproject = "acme-prod"\nregion = "us-central1"\n'
    )


@pytest.mark.parametrize("home", SUGGESTED)
async def test_app_new_and_the_form_suggest_the_same_targets(tmp_path, cli, home):
    """`app new` and the New-app form each decided from their own per-home lists which
    target suits a static site or a handler; both now ask deploy.targets, and agree."""
    (tmp_path / "pilot.toml").write_text(project_at(home))
    for name, files in SOURCES.items():
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file).write_text(text)
    assert kinds_for(home) == OFFERED[home]
    picked = {}
    app = create_app(str(tmp_path / "pilot.toml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for name in SOURCES:  # a fresh form each: a kind already picked is kept
            app.push_screen(NewAppScreen(tmp_path / "pilot.toml"))
            await pilot.pause()
            app.screen.query_one("#path", Input).value = name
            await pilot.pause()
            picked[name] = app.screen.query_one("#target", Select).value
            app.pop_screen()
    assert picked == SUGGESTED[home]
    for name in SOURCES:
        added = cli("app", "new", "--path", name, "--name", name, "--yes")
        assert added.code == 0, added.err
    apps = tomllib.loads((tmp_path / "pilot.toml").read_text())["apps"]
    assert {app["name"]: app["target"]["kind"] for app in apps} == SUGGESTED[home]
    fn = next(app for app in apps if app["name"] == "fn")
    if fn["target"]["kind"] == "lambda":  # the questions' table: a zip running the handler
        assert fn["target"] == {
            "kind": "lambda",
            "package": "zip",
            "handler": "lambda_function.lambda_handler",
        }


async def test_typing_goes_into_the_new_app_form_at_once(project):
    app = create_app(str(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("a", "n")
        await pilot.pause()
        await pilot.press("ctrl+u", *"site")  # as a person types: no click first
        assert app.screen.query_one("#path", Input).value == "site"


async def test_rollback_key_asks_and_offers_the_releases(project):
    """`r` on the Apps screen never rolls back at once (issue 11 item 32): it asks, offering
    the releases that went live, with the one `pilot-tui rollback` would pick highlighted."""
    from textual.widgets import OptionList

    from pilot_tui.config.document import ProjectFile
    from pilot_tui.deploy import history
    from pilot_tui.screens.deploy import DeployScreen
    from pilot_tui.screens.rollback import RollbackPicker

    (project.parent / "web").mkdir()
    (project.parent / "web" / "Dockerfile").write_text("FROM scratch\n")
    pf = ProjectFile.load(project)
    pf.save(
        add_app(
            pf.text,
            {
                "name": "web",
                "path": "web",
                "build": {"kind": "dockerfile"},
                "target": {"kind": "server"},
            },
        )
    )
    state = project.parent / ".pilot"

    def release(number: int, status: str) -> history.Release:
        return history.Release(
            f"v{number}",
            "web",
            f"pilot/acme-web:{number:012d}",
            f"sha256:{number}",
            f"2026-12-0{number}T10:00:00Z",
            status,
        )

    history.save(
        state,
        "web",
        [
            release(1, history.SUPERSEDED),
            release(2, history.SUPERSEDED),
            release(3, history.LIVE),
            release(4, history.FAILED),
        ],
    )
    before = history.history_file(state, "web").read_text()
    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, AppsScreen)
        await pilot.press("r")
        picker = app.screen
        assert isinstance(picker, RollbackPicker)  # asked, not rolled back
        await pilot.pause()
        # the whole question shows at 80 columns (found walking: cut after "starts serving")
        question = picker.query_one("#rollback-picker > Label")
        assert "Esc cancels." in str(question.render()) and question.region.height >= 2
        assert question.region.right <= picker.query_one("#rollback-picker").region.right
        options = picker.query_one(OptionList)
        offered = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert offered == ["v2", "v1"]  # not the live v3, not the failed v4; newest first
        assert offered[options.highlighted] == "v2"
        await pilot.press("escape")  # cancelled: nothing happens
        assert isinstance(app.screen, AppsScreen)
        assert history.history_file(state, "web").read_text() == before

        await pilot.press("r")
        await pilot.press("down", "enter")  # pick v1 instead
        assert isinstance(app.screen, DeployScreen)
        assert app.screen.rollback and app.screen.release == "v1"


async def test_forms_open_at_their_first_label_at_80x24(project):
    """Issue 11 item 27: the New-app form and the server form opened scrolled past their
    title and first label (focusing the first field scrolled it to the top)."""
    from textual.containers import VerticalScroll

    from pilot_tui.screens.server_form import ServerFormScreen

    app = create_app(str(project))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a", "n")
        await pilot.pause()
        form = app.screen.query_one("#new-app", VerticalScroll)
        assert form.scroll_offset.y == 0 and app.focused is app.screen.query_one("#path")
        await pilot.press("escape", "escape", "o")
        await pilot.pause()
        assert isinstance(app.screen, ServerFormScreen)
        form = app.screen.query_one("#server-form", VerticalScroll)
        assert form.scroll_offset.y == 0 and app.focused is app.screen.query_one("#home")


# Issue 11 item 29: one detector for the New-app form / `app new` and the build, preferring a
# program over a static site.
PROGRAMS = {
    "server.py and index.html": (
        {"server.py": "print('hi')", "index.html": "<h1>hi</h1>"},
        "python",
    ),
    "Pipfile only": ({"Pipfile": "[packages]\n"}, "python"),
    "requirements.txt": ({"requirements.txt": "flask\n"}, "python"),
    "main.go and index.html": ({"main.go": "package main", "index.html": "x"}, "go"),
    "go.mod": ({"go.mod": "module x\n"}, "go"),
    "package.json and index.html": ({"package.json": "{}", "index.html": "x"}, "node"),
}


def test_a_program_wins_over_an_index_html_and_the_build_agrees(tmp_path):
    from pilot_tui.deploy.build import dockerfiles

    for name, (files, language) in PROGRAMS.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        for fname, content in files.items():
            (folder / fname).write_text(content)
        found = detect(folder)
        assert not found.static and found.build == {"kind": "auto"}, name
        made = dockerfiles.generated(folder)  # what build.kind = "auto" then builds
        assert made is not None, name
        assert {"python": "FROM python", "go": "FROM golang", "node": "FROM node"}[
            language
        ] in made[0], name
        assert found.language == language, name
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("x")
    (site / "style.css").write_text("x")
    assert detect(site).static and "busybox" in (dockerfiles.generated(site) or ("", ""))[0]


def test_a_python_service_without_requirements_builds_from_the_generated_dockerfile(tmp_path):
    from pilot_tui.deploy.build import dockerfiles

    (tmp_path / "server.py").write_text("print('hi')")
    text, _ = dockerfiles.generated(tmp_path) or ("", "")
    assert 'CMD ["python", "server.py"]' in text
    # No COPY of a pattern that may match nothing (Docker fails the build on it).
    assert "COPY requirements*.txt" not in text


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_deploy_screen_shows_each_stage_detail_whole(project, monkeypatch, size):
    """Found walking: at 80 columns a stage's detail ran past the screen's edge and was cut
    (the detail column was as wide as its longest text). It now takes the width the screen
    leaves and wraps, its row as tall as the text."""
    from pilot_tui.deploy.events import StageFinished, StageStarted
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import text, until

    monkeypatch.setenv("DOCKER_HOST", f"unix://{project.parent}/nothing-listens.sock")
    (project.parent / "api").mkdir()
    (project.parent / "api" / "Dockerfile").write_text("FROM scratch\n")
    app_settings = {"name": "api", "path": "api", "build": {"kind": "dockerfile"}}
    project.write_text(add_app(project.read_text(), {**app_settings, "target": {"kind": "server"}}))
    long = "Ctrl+C: the previous release is left running; the next deploy of api stops it"
    app = create_app(str(project))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = DeployScreen(project, "api")
        await app.push_screen(screen)
        assert await until(pilot, lambda: "Not deployed" in text(screen, "#deploy-result"))
        screen.handle(StageStarted("api", "deploy", "starting [v2] beside v1"))
        screen.handle(StageFinished("api", "release", long, 1.5))
        await pilot.pause()
        table = screen.query_one("#stages", DataTable)
        assert table.virtual_size.width <= table.size.width  # nothing off the right edge
        shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert " ".join(shown.split()).count("starting [v2] beside v1") == 1, shown
        words = [w for line in shown.splitlines() for w in line.split()]
        assert " ".join(long.split()) in " ".join(words), shown  # every word, in order
        release = [line for line in shown.splitlines() if "release" in line and "✓ done" in line]
        assert release and "1.5s" in release[0], shown
        # wider, the detail takes the room: on one line again
        await pilot.resize_terminal(160, 40)

        def one_line() -> bool:
            lines = [table.render_line(y).text for y in range(table.size.height)]
            return any(line.rstrip().endswith(long) for line in lines)

        assert await until(pilot, one_line, seconds=10)


async def test_the_deploy_screen_offers_app_logs_only_where_there_are_some(project, monkeypatch):
    """Found walking: the Deploy screen of a static site and of a preview showed `l App
    logs`, which answered with an error (and, for a site, a traceback in a log file)."""
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import text, until

    monkeypatch.setenv("DOCKER_HOST", f"unix://{project.parent}/nothing-listens.sock")
    for name, target, page in (("api", "server", "Dockerfile"), ("web", "s3-cloudfront", "x")):
        (project.parent / name).mkdir()
        (project.parent / name / page).write_text("FROM scratch\n")
        settings = {"name": name, "path": name, "target": {"kind": target}}
        project.write_text(add_app(project.read_text(), settings))
    app = create_app(str(project))
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            for name, preview, offered in (
                ("api", None, True),
                ("api", "Feature/Login!", False),
                ("web", None, False),  # no index.html: refused, after the check
            ):
                screen = DeployScreen(project, name, preview=preview)
                await app.push_screen(screen)
                assert await until(
                    pilot, lambda s=screen: "Not deployed" in text(s, "#deploy-result")
                )
                keys = {b.binding.key for b in screen.active_bindings.values()}
                assert ("l" in keys) is offered, (name, preview, keys)
                if preview is not None:  # named as it is made, not as typed (found walking)
                    title = text(screen, "#deploy-title")
                    assert title == "Deploying a preview of api: feature-login", title
                await pilot.press("escape")
                await pilot.pause()
    finally:
        from pilot_tui.cloud.sandbox import Sandbox
        from pilot_tui.runner import pid_alive, stop_pid

        for emulator in Sandbox(project.parent / ".pilot").load().values():
            if pid_alive(emulator.pid):
                stop_pid(emulator.pid)


async def test_ctrl_q_during_a_deploy_asks_stops_it_its_way_and_quits_once_stopped(
    project, monkeypatch
):
    """Found walking: Ctrl+Q while a deploy's watch ran closed the app to a blank terminal,
    which sat there a minute (the watch ran on in its thread) with nothing said. Now the app
    asks, sets the deploy's cancel token (the watch ends at its next check) and quits once
    the work has stopped; also when the deploy screen was left with Esc while its release
    was watched (review: that one quit unasked). Stand-in, said so: the deploy's body is
    one that runs until its token is set, as the engine's watch of a live release does;
    the screen, its worker and the app are real."""
    import threading

    from pilot_tui.screens.deploy import DeployScreen
    from pilot_tui.screens.run_screen import ConfirmQuit
    from tests.integration.deploy.test_tui_deploy import until

    ended = threading.Event()

    def watched_until_cancelled(self: DeployScreen) -> None:
        while not self.cancel.is_set():
            threading.Event().wait(0.05)
        ended.set()

    monkeypatch.setattr(DeployScreen, "_deploy", watched_until_cancelled)
    app = create_app(str(project))
    async with app.run_test() as pilot:
        await pilot.pause()
        home = app.screen
        screen = DeployScreen(project, "api")
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.busy()
        screen.outcome = "http://api.localhost"  # released: Esc goes back, the watch runs on
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is home and not ended.is_set()
        await pilot.press("ctrl+q")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        question = str(app.screen.query_one("Label").render())
        assert "A deploy of api is under way" in question and "Stop it and quit?" in question
        await pilot.press("escape")  # keep going: nothing stopped, still open
        await pilot.pause(0.3)
        assert app.screen is home and not screen.cancel.is_set() and not ended.is_set()
        await pilot.press("ctrl+q")
        assert await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        await pilot.click("#stop")
        assert await until(pilot, ended.is_set)
        assert screen.cancel.is_set()
        assert await until(pilot, lambda: app.return_code == 0)


async def test_ctrl_q_again_while_work_stops_asks_to_quit_now_saying_what_that_leaves(
    project, monkeypatch
):
    """Review: "Ctrl+Q again quits now" would have ended the app under work still stopping
    (Terraform killed halfway, unsaid). It asks, saying what quitting now leaves, and quits
    with a line that says what the process still waits for. Stand-in as above: a deploy
    whose body ignores its token until released by the test."""
    import threading

    from pilot_tui.screens.deploy import DeployScreen
    from pilot_tui.screens.run_screen import ConfirmQuit, ConfirmQuitNow
    from tests.integration.deploy.test_tui_deploy import until

    release = threading.Event()
    monkeypatch.setattr(DeployScreen, "_deploy", lambda self: release.wait(10))
    app = create_app(str(project))
    try:
        async with app.run_test() as pilot:
            await pilot.pause()
            await app.push_screen(DeployScreen(project, "api"))
            await pilot.pause()
            await pilot.press("ctrl+q")
            assert await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
            await pilot.click("#stop")
            await pilot.pause(0.5)
            assert app.return_code is None  # still stopping: not quit
            await pilot.press("ctrl+q")
            assert await until(pilot, lambda: isinstance(app.screen, ConfirmQuitNow))
            question = str(app.screen.query_one("Label").render())
            assert "Still stopping: A deploy of api" in question
            assert "a live release stays live" in question
            await pilot.click("#stop")
            assert await until(pilot, lambda: app.return_code == 0)
            assert "waiting for the work under way to stop (A deploy of api" in str(
                app._exit_renderables
            )
    finally:
        release.set()


async def test_a_rollback_ends_saying_which_release_it_put_back(project, monkeypatch):
    """Found walking: a rollback in the app ended "v4 is live", not saying it was v2's
    image, settings and secrets again (`releases` says "rollback to v2"). The release's
    note comes with the event, in the CLI's log line too."""
    from pilot_tui.deploy.events import Released, describe
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import text

    monkeypatch.setattr(DeployScreen, "run_engine", lambda self: None)  # events given here
    from pilot_tui.deploy.events import release_note

    back = Released("api", "v4", "http://api.localhost", 2.0, note="rollback to v2")
    # only a rollback's note rides on the event (review: a site's "3 files changed; ...")
    assert release_note("3 files changed; DNS: none") == ""
    assert release_note("rollback to v2") == "rollback to v2"
    assert describe(back) == "==> api: release v4 (rollback to v2) is live at http://api.localhost"
    app = create_app(str(project))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = DeployScreen(project, "api", rollback=True)
        await app.push_screen(screen)
        screen.handle(back)
        await pilot.pause()
        assert "v4 (rollback to v2) is live at http://api.localhost" in text(
            screen, "#deploy-result"
        )


async def test_a_rollback_with_nothing_to_go_back_to_is_pinned_not_a_crash(project, monkeypatch):
    """A rollback's choice of release fails as stage "rollback", which is no row of the
    deploy screen's stages: pinned above the log, the screen (and the app) carry on."""
    from pilot_tui.deploy.events import StageFailed
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import text

    monkeypatch.setattr(DeployScreen, "_deploy", lambda self: None)  # events given here
    app = create_app(str(project))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = DeployScreen(project, "api", rollback=True)
        await app.push_screen(screen)
        screen.handle(StageFailed("api", "rollback", "nothing to roll back to"))
        await pilot.pause()
        assert app.screen is screen
        assert "nothing to roll back to" in text(screen, "#deploy-error")
