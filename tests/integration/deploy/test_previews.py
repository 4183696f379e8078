"""Preview environments (issue 15, item 3) on the Docker host, through the CLI and the engine
against the tests' private dockerd and the real edge (Caddy): two previews of `hello` beside
it, each reachable by its own host name through the proxy with the previews' env and only
the previews' secret; a third refused past previews.max; one expired by the TTL (the
engine's clock is injected) and pruned; a destroy leaves no container, route, image, history
or secret version of it; the app itself untouched throughout."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.data import scheduling
from pilot_tui.deploy import history, lock, previews, secrets
from pilot_tui.deploy.session import open_deployer
from pilot_tui.deploy.targets.docker_host import containers, proxy_container
from pilot_tui.naming import image_repository
from tests.conftest import PILOT
from tests.support.databases import add_reader_app, project_name
from tests.support.deploy_fixtures import SECRET, get

PREVIEW_TOKEN = "tok-preview-0c4d1e9a-never-shown"
HOUR = 3600.0


def _set(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def _env(docker_client, app: str) -> dict[str, str]:
    (container,) = [
        c
        for c in docker_client.containers.list(filters={"label": f"pilot.app={app}"})
        if c.status == "running"
    ]
    found = {}
    for name in ("GREETING", "API_TOKEN"):
        out = container.exec_run(["sh", "-c", f'printf %s "${{{name}:-unset}}"']).output
        found[name] = out.decode()
    return found


def _routes(docker_client) -> dict[str, str]:
    return proxy_container.served_routes(docker_client.containers.get(containers.PROXY_NAME))


def _engine(root):
    pf = ProjectFile.load(root / "pilot.toml")
    config = pf.check().config
    assert config is not None
    return open_deployer(pf.path, config, lambda event: None, apps=["hello"], share=False)


def test_previews_beside_the_app_capped_expired_and_destroyed(site, cli, docker_client):
    root, port = site
    state = root / ".pilot"
    _set(root, "apps[0].previews.max", 2)
    _set(root, "apps[0].previews.env", {"GREETING": "from a preview"})
    secrets.store(state, "hello", "API_TOKEN", PREVIEW_TOKEN, preview=True)

    assert cli("deploy", "hello").code == 0
    one = cli("deploy", "hello", "--preview", "feature/One")
    assert one.code == 0, one.err
    name, release, url = one.out.strip().split("\t")
    assert (name, release) == ("hello--feature-one", "v1")
    # (walk: a first release said it was stopping the previous one)
    assert "stopping the previous release" not in one.err
    assert "no earlier release runs: none to stop" in one.err
    assert url == f"http://hello--feature-one.localhost:{port}/"
    two = cli("deploy", "hello", "--preview", "two")
    assert two.code == 0, two.err

    # Each answers through the proxy by its own name; the app's own is untouched.
    for host in ("hello--feature-one.localhost", "hello--two.localhost", "hello.localhost"):
        assert "hello" in get(port, host).lower()
    assert _env(docker_client, "hello--two") == {
        "GREETING": "from a preview",
        "API_TOKEN": PREVIEW_TOKEN,  # the previews' own value, never the app's
    }
    assert _env(docker_client, "hello") == {"GREETING": "hi", "API_TOKEN": SECRET}

    # A third is refused (exit 2): max is 2; nothing of it was made.
    three = cli("deploy", "hello", "--preview", "three")
    assert three.code == 2
    assert "previews.max = 2" in three.err and "feature-one, two" in three.err
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.app=hello--three"})

    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {row["full_name"]: row for row in json.loads(listed.out)}
    assert sorted(rows) == ["hello--feature-one", "hello--two"]
    assert rows["hello--two"]["url"] == f"http://hello--two.localhost:{port}/"
    assert rows["hello--two"]["simulated_url"] is None  # the Docker host's answers here
    assert rows["hello--two"]["release"] == "v1"

    # "two" released again an hour later (the clock injected): it expires an hour after
    # "feature-one". Past feature-one's TTL, a prune removes it alone.
    started = time.time()
    with _engine(root) as engine:
        again = engine.deploy_preview("hello", "two", now=started + HOUR)
        assert again.id == "v2"
        said: list[str] = []
        removed = engine.prune_previews(said.append, now=started + 72 * HOUR + 60)
    assert [p.full for p in removed] == ["hello--feature-one"]
    assert any("TTL (72h) ran out" in line for line in said)
    assert not docker_client.containers.list(
        all=True, filters={"label": "pilot.app=hello--feature-one"}
    )
    assert not history.history_file(state, "hello--feature-one").exists()
    assert not any(h.startswith("hello--feature-one") for h in _routes(docker_client))
    with pytest.raises(urllib.error.HTTPError):  # the edge no longer knows the name
        get(port, "hello--feature-one.localhost")
    assert "hello" in get(port, "hello--two.localhost").lower()

    # Room again: the third is made now.
    assert cli("deploy", "hello", "--preview", "three").code == 0

    gone = cli("preview", "destroy", "hello", "two", "--yes")
    assert gone.code == 0, gone.err
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.app=hello--two"})
    assert not any(h.startswith("hello--two") for h in _routes(docker_client))
    assert not docker_client.images.list(name=_repository(root, "hello--two"))
    assert not history.history_file(state, "hello--two").exists()
    assert not (state / "secrets" / "versions" / "hello--two").exists()
    again = cli("preview", "destroy", "hello", "two", "--yes")
    assert again.code == 2 and "no preview 'two'" in again.err and "three" in again.err

    # The app itself served throughout, and still does; its history is its own.
    assert "hello" in get(port, "hello.localhost").lower()
    assert [r.id for r in history.load(state, "hello")] == ["v1"]
    # Secrets never printed: neither the app's nor the previews'.
    for result in (one, two, three, listed, gone):
        assert SECRET not in result.out + result.err
        assert PREVIEW_TOKEN not in result.out + result.err


def _repository(root, full: str) -> str:
    config = ProjectFile.load(root / "pilot.toml").check().config
    assert config is not None
    return image_repository(config.project.name, full)


def test_a_preview_whose_deploy_holds_its_lock_counts_toward_max(
    site, cli, docker_client, edge_image
):
    """Regression (issue 15: the `room_for` race): a preview being deployed has no
    container until its end, so a teammate's new preview deployed meanwhile passed
    previews.max too. The deploy now checks again under its lock, counting the app's other
    preview deploys that took their lock first (here one held, as a teammate's deploy
    would hold it)."""
    root, _ = site
    _set(root, "apps[0].previews.max", 1)
    theirs = lock.acquire(docker_client, project_name(root), "hello--theirs", edge_image)
    try:
        mine = cli("deploy", "hello", "--preview", "mine")
        assert mine.code == 2, mine.err
        assert "previews.max = 1" in mine.err and "theirs (being deployed)" in mine.err
        assert not docker_client.containers.list(
            all=True, filters={"label": "pilot.app=hello--mine"}
        )
        # Nothing of it is left: not its lock, which the teammate's next deploy would meet.
        assert lock.current(docker_client, lock.lock_name(project_name(root), "hello--mine")) == (
            "nobody",
            "-",
        )
    finally:
        lock.release(docker_client, theirs)
    made = cli("deploy", "hello", "--preview", "mine")
    assert made.code == 0, made.err


def test_two_new_previews_deployed_at_once_past_max_make_one(site, docker_client):
    """The same race as it happens: two `deploy --preview` processes at once with room for
    one. Both pass the first check (neither has a container yet); the one whose lock came
    second is refused (exit 2), and one preview exists."""
    root, port = site
    _set(root, "apps[0].previews.max", 1)
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    runs = {
        name: subprocess.Popen(
            [PILOT, "deploy", "hello", "--preview", name],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    }
    said = {name: run.communicate(timeout=300) for name, run in runs.items()}
    codes = {name: run.returncode for name, run in runs.items()}
    assert sorted(codes.values()) == [0, 2], said
    (made,) = [name for name, code in codes.items() if code == 0]
    (refused,) = [name for name, code in codes.items() if code == 2]
    assert "previews.max = 1" in said[refused][1], said[refused]
    running = {
        c.labels[previews.PREVIEW]
        for c in docker_client.containers.list(
            all=True, filters={"label": previews.PREVIEW_OF + "=hello"}
        )
    }
    assert running == {made}
    assert "hello" in get(port, f"hello--{made}.localhost").lower()


def test_app_destroy_takes_its_previews(site, cli, docker_client):
    made = cli("deploy", "hello", "--preview", "pr-7")
    assert made.code == 0, made.err
    # No previews' secrets file: the app's value is not taken, and the deploy says so.
    assert "API_TOKEN left unset in the preview" in made.err
    assert _env(docker_client, "hello--pr-7")["API_TOKEN"] == "unset"
    assert cli("deploy", "hello").code == 0
    done = cli("app", "destroy", "hello", "--yes")
    assert done.code == 0, done.err
    assert "removed the release history of hello--pr-7" in done.err
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.project"})
    assert not any(h.startswith("hello") for h in _routes(docker_client))


def test_the_agent_on_the_docker_host_removes_expired_previews(site, cli, docker_client):
    """The server-side job: the agent container (made by the preview's deploy) removes a
    preview past its TTL with no laptop involved; its clock is given (--at) so the test
    need not wait an hour."""
    root, port = site
    state = root / ".pilot"
    _set(root, "apps[0].previews.ttl", "1h")
    assert cli("deploy", "hello").code == 0
    made = cli("deploy", "hello", "--preview", "pr-1")
    assert made.code == 0, made.err
    config = ProjectFile.load(root / "pilot.toml").check().config
    assert config is not None
    agent = docker_client.containers.get(scheduling.container_name(config.project.name))
    assert agent.status == "running"
    assert "previews past their TTL removed" in made.err

    def prune_at(seconds: float) -> tuple[int, str]:
        argv = ["python3", "-m", "pilot_tui.data.agent", "--prune-previews", "--at"]
        done = agent.exec_run([*argv, str(seconds)])
        return done.exit_code, done.output.decode(errors="replace")

    code, said = prune_at(time.time() + 30 * 60)  # not yet expired: nothing happens
    assert code == 0 and "removed" not in said, said
    assert "hello" in get(port, "hello--pr-1.localhost").lower()

    code, said = prune_at(time.time() + 2 * HOUR)
    assert code == 0, said
    assert "removed the preview hello--pr-1: its TTL ran out" in said
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.app=hello--pr-1"})
    assert not any(h.startswith("hello--pr-1") for h in _routes(docker_client))
    assert not docker_client.images.list(name=_repository(root, "hello--pr-1"))
    with pytest.raises(urllib.error.HTTPError):
        get(port, "hello--pr-1.localhost")
    assert "hello" in get(port, "hello.localhost").lower()  # the app's own route stays
    assert not docker_client.containers.list(all=True, filters={"name": "pilot-lock-proxy"})

    # The laptop then finds none, and its prune forgets the history the agent could not.
    listed = cli("preview", "list", "--json")
    assert listed.code == 0 and json.loads(listed.out) == []
    assert history.history_file(state, "hello--pr-1").exists()
    pruned = cli("preview", "prune")
    assert pruned.code == 0, pruned.err
    assert not history.history_file(state, "hello--pr-1").exists()


def _ask(port: int, host: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_preview_databases_are_copies_or_empty_and_never_the_apps_own(
    engine_project, cli, docker_client, data_image, monkeypatch
):
    """A real PostgreSQL 15: a preview gets no database by default, a copy of the newest
    backup (its own: writes there never reach the app's) or an empty one as pilot.toml
    says; the laptop's destroy and the agent's TTL each take the preview's database."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, port, add = engine_project
    state = root / ".pilot"
    add_reader_app(root, add, data_image)
    toml = root / "pilot.toml"
    toml.write_text(
        toml.read_text() + '\n[[databases]]\nname = "main"\nversion = 15\napps = ["api"]\n'
    )
    project = project_name(root)
    assert cli("deploy", "api").code == 0
    seed = "create table hello (greeting text); insert into hello values ('from the backup')"
    assert cli("db", "psql", "main", "-c", seed).code == 0
    assert cli("db", "backup", "main").code == 0
    changed = "update hello set greeting = 'changed since'"
    assert cli("db", "psql", "main", "-c", changed).code == 0

    # By default: no URL at all.
    plain = cli("deploy", "api", "--preview", "pr-0")
    assert plain.code == 0, plain.err
    (container,) = docker_client.containers.list(filters={"label": "pilot.app=api--pr-0"})
    assert container.exec_run(["printenv", "DATABASE_URL"]).exit_code == 1

    _set(root, "databases[0].preview", "copy-of-latest-backup")
    copy = cli("deploy", "api", "--preview", "pr-5")
    assert copy.code == 0, copy.err
    assert _ask(port, "api--pr-5.localhost") == "from the backup"
    assert _ask(port, "api.localhost") == "changed since"
    preview_db = docker_client.containers.get(f"pilot-db-{project}-main--pr-5")
    wrote = "update hello set greeting = 'written in the preview'"
    done = preview_db.exec_run(["psql", "-U", "main--pr-5", "-d", "main--pr-5", "-c", wrote])
    assert done.exit_code == 0, done.output
    assert _ask(port, "api--pr-5.localhost") == "written in the preview"
    assert _ask(port, "api.localhost") == "changed since"  # the app's own: untouched
    again = cli("deploy", "api", "--preview", "pr-5")  # a redeploy keeps the preview's data
    assert again.code == 0, again.err
    assert _ask(port, "api--pr-5.localhost") == "written in the preview"
    password = state / "databases" / "main--pr-5.password"
    assert password.is_file()

    _set(root, "databases[0].preview", "empty")
    empty = cli("deploy", "api", "--preview", "pr-6")
    assert empty.code == 0, empty.err
    assert 'relation "hello" does not exist' in _ask(port, "api--pr-6.localhost")

    gone = cli("preview", "destroy", "api", "pr-5", "--yes")
    assert gone.code == 0, gone.err
    named = {"label": "pilot.database=main--pr-5"}
    assert not docker_client.containers.list(all=True, filters=named)
    assert not docker_client.volumes.list(filters=named)
    assert not password.exists()
    assert docker_client.containers.get(f"pilot-db-{project}-main--pr-6").status == "running"
    assert _ask(port, "api.localhost") == "changed since"

    # The agent on the host removes pr-0 and pr-6 past their TTL, pr-6's database with it.
    agent = docker_client.containers.get(scheduling.container_name(project))
    at = str(time.time() + 100 * HOUR)
    done = agent.exec_run(["python3", "-m", "pilot_tui.data.agent", "--prune-previews", "--at", at])
    assert done.exit_code == 0, done.output
    assert b"removed the preview database volume" in done.output
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.preview-database"})
    assert not any(h.startswith("api--") for h in _routes(docker_client))  # both, in one look
    assert not docker_client.volumes.list(filters={"label": "pilot.preview-database"})
    assert cli("preview", "prune").code == 0
    assert not (state / "databases" / "main--pr-6.password").exists()
    assert (state / "databases" / "main.password").exists()
    assert _ask(port, "api.localhost") == "changed since"
