"""CI deploys of an app of the Docker host (the Pilot Server), which a runner cannot reach:
the run builds the image on its own engine, pushes it to the app's ECR repository and
leaves a request in the state bucket; `pilot-tui server worker`, a real process started
where the admin's .pilot/ is, releases it on the server with the commit's settings and
the secrets held there.

Real here: the CLI on both ends, the tests' private Docker engine (the runner's engine
and, through the admin's server record, the Pilot Server's: moto makes no machine with
an engine), the edge proxy, moto's S3 and ECR API, a real registry on 127.0.0.1 taking
moto's ECR login (moto has no registry). GitHub's token service is a local stand-in
(tests/support/github_tokens.py), the workflow's job run by tests/support/ci_runs.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error

import boto3
import pytest
import yaml

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import server_queue, server_wait
from pilot_tui.deploy.server_queue import Queue, Request
from pilot_tui.deploy.shared_history import SharedHistory
from tests.conftest import PILOT, run_pilot
from tests.support.ci_runs import run_job
from tests.support.deploy_fixtures import HELLO, get, image_lambda_stand_ins

SECRET = "tok-7c0ffee-server-secret-never-shown"
BUCKET = "pilot-state-acme"
WEB = {
    "name": "web",
    "path": "web",
    "build": {"kind": "dockerfile"},
    "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 10},
    "env": {"GREETING": "hi"},
    "secrets": ["API_TOKEN"],
}


@pytest.fixture
def server_project(engine_project, moto, registry, docker_client, docker_engine, monkeypatch):
    """The admin's project: home "aws" with its state in S3, its Pilot Server's record
    naming the private engine (standing in for `server up`), the app "web" on it, its
    secret in .pilot/secrets, released once from here (v1). (root, proxy port)."""
    root, port, add = engine_project
    image_lambda_stand_ins(docker_client, registry, root / "adapter", monkeypatch)
    pf = ProjectFile.load(root / "pilot.toml")
    text = ProjectFile(pf.path, pf.with_value("server.home", "aws")).with_value(
        "state.backend", "s3"
    )
    text = ProjectFile(pf.path, text).with_value("project.name", "acme")
    pf.save(text)
    outputs = root / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    record = {"home": "aws", "outputs": {"docker_host": docker_engine.url}}
    (outputs / "server.json").write_text(json.dumps(record))
    shutil.copytree(HELLO, root / "web")
    add(WEB)
    stored = run_pilot("secrets", "set", "web", "API_TOKEN", cwd=root, input=SECRET)
    assert stored.returncode == 0, stored.stderr
    monkeypatch.delenv("API_TOKEN", raising=False)
    first = run_pilot("deploy", "web", cwd=root, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "hello" in get(port, "web.localhost")
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)  # the runner's engine, in a run
    return root, port


def _worker(root, log):
    """`pilot-tui server worker` in ``root``, as a person leaves it running; its process,
    once its first heartbeat is in the bucket."""
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    # never an app's secret (review: a commit naming AWS_SECRET_ACCESS_KEY got its key)
    env["API_TOKEN"] = "the-workers-own-environment"
    process = subprocess.Popen(
        [PILOT, "server", "worker", "--poll", "0.3"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        beats = s3.list_objects_v2(Bucket=BUCKET, Prefix="pilot/deploys/workers/")
        if beats["KeyCount"]:
            return process
        assert process.poll() is None, f"the worker ended: {log.name}"
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the worker never beat")


def _stop(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def _checkout(root, name: str, page: str | None, greeting: str):
    """A fresh clone of the repository (never .pilot/): web's page as ``page`` (None: no
    page, so its health check fails), its GREETING ``greeting``."""
    checkout = root / name
    checkout.mkdir()
    shutil.copytree(root / "web", checkout / "web")
    if page is None:
        (checkout / "web" / "www" / "index.html").unlink()
    else:
        (checkout / "web" / "www" / "index.html").write_text(page)
    text = (root / "pilot.toml").read_text().replace('GREETING = "hi"', f'GREETING = "{greeting}"')
    assert greeting == "hi" or greeting in text
    (checkout / "pilot.toml").write_text(text)
    return checkout


def _bucket_text() -> str:
    """Every object the state bucket holds, as text."""
    s3 = boto3.client("s3", region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=BUCKET)
    return "\n".join(
        s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read().decode(errors="replace")
        for o in listed.get("Contents", [])
    )


@pytest.mark.timeout(600)
def test_a_push_deploys_the_servers_app_through_the_worker(
    server_project, cli, github_tokens, docker_client, aws_calls, monkeypatch, tmp_path
):
    """A push's run releases web on the server through the worker: the commit's page and
    settings, the worker's secret; a failed release leaves the live one; a run with no
    worker, or a stopped one, is told so at once. What the run asked of AWS is each
    permitted by the branch's role's policy (moto enforces no IAM: each recorded call
    goes through the policy evaluator); the worker's calls are its own process's."""
    from pilot_tui.cloud.policy_aws import aws_policy, ci_policy
    from tests.unit.test_deployer_policy import allows

    root, port = server_project
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "web runs on the Pilot Server, which a run cannot reach" in made.err
    assert "gh secret set API_TOKEN" not in made.err  # the worker holds web's secret
    workflow = (root / ".github" / "workflows" / "pilot.yml").read_text()
    deploy = yaml.safe_load(workflow)["jobs"]["deploy"]
    assert deploy["steps"][-1]["run"] == "pilot-tui deploy web"
    assert "API_TOKEN" not in workflow
    # a rollback started by hand on main: its inputs reach the command as variables only
    on = yaml.safe_load(workflow)[True]  # (YAML 1.1 reads the key `on` as true)
    assert on["workflow_dispatch"]["inputs"]["app"]["options"] == ["web"]
    rollback = yaml.safe_load(workflow)["jobs"]["rollback"]
    assert "github.ref == 'refs/heads/main'" in rollback["if"]
    assert rollback["concurrency"]["group"] == "pilot-rollback"
    assert rollback["steps"][-1]["run"] == 'pilot-tui rollback -- "$PILOT_APP" "$PILOT_RELEASE"'
    assert "gh workflow run pilot.yml --repo acme/shop -f app=web" in made.err

    # No worker running yet: the run says so at once and asks for nothing.
    checkout = _checkout(root, "run0", "<h1>from CI 0</h1>\n", "hi")
    none = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    assert none.code == 1 and "no worker takes this project's deploy requests" in none.err

    # A worker whose server runs on another CPU than the runner: said before any build
    # (found reviewing: the image would fail its health check there, unsaid why).
    queue = Queue(SharedHistory("s3", BUCKET, boto3.client("s3", region_name="us-east-1")))
    queue.beat("arm@server", arch="aarch64" if os.uname().machine != "aarch64" else "x86_64")
    other = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    assert other.code == 1, other.err
    assert "the Pilot Server's Docker engine runs on" in other.err, other.err
    assert "==> web: build ·" not in other.err  # nothing built
    queue.store.delete(f"{server_queue.WORKERS}/arm@server.json")

    # A worker of a Pilot before rollbacks (its heartbeat says nothing of them) would take
    # a rollback for a release of no image: the run refuses before it asks.
    old = json.dumps({"worker": "old@server", "stopped": False, "arch": ""}).encode()
    queue.store.put_if(f"{server_queue.WORKERS}/old@server.json", old, None)
    refused = run_job(
        workflow, checkout, {}, github_tokens, cli, monkeypatch, "rollback", inputs={"app": "web"}
    )
    assert refused.code == 1, refused.err
    assert "old@server is of a Pilot that takes no rollback requests" in refused.err
    assert "web: rollback failed: " in refused.err  # (walk: said as a deploy's failure)
    assert not [k for k in queue.store.keys("pilot/deploys/") if "request" in k]
    queue.store.delete(f"{server_queue.WORKERS}/old@server.json")

    log = (tmp_path / "worker.log").open("w+b")
    worker = _worker(root, log)
    try:
        checkout = _checkout(root, "run1", "<h1>from CI 1</h1>\n", "from-ci")
        aws_calls.clear()
        ran = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
        assert ran.code == 0, ran.err
        asked = aws_calls.requests()
        policy = ci_policy("acme", "123456789012", "us-east-1")  # the branch's role's
        assert [r for r in asked if not allows(policy, *r)] == []
        actions = {action for action, _, _ in asked}
        assert {"ecr:GetAuthorizationToken", "s3:PutObject", "s3:GetObject"} <= actions
        request = "arn:aws:s3:::pilot-state-acme/pilot/deploys/x.request.json"
        assert not allows(policy, "s3:DeleteObject", {}, request)  # a run's: never removed
        # the worker's own call (a process of its own, with the deployer's key: not
        # recorded here), as data
        repository = "arn:aws:ecr:us-east-1:123456789012:repository/pilot-acme-web"
        deployer = aws_policy("acme", "123456789012", "us-east-1")
        assert allows(deployer, "ecr:PutLifecyclePolicy", {}, repository)
        assert "older images of web are not expired" not in ran.err
        expiry = boto3.client("ecr", region_name="us-east-1").get_lifecycle_policy(
            repositoryName="pilot-acme-web"
        )
        [rule] = json.loads(expiry["lifecyclePolicyText"])["rules"]
        assert rule["selection"]["countNumber"] == 20  # the newest 20 kept
        assert ran.out.startswith("web\tv2\thttp://web.localhost"), ran.out
        # the worker's events, shown in the run as they came
        assert "asked the deploy worker" in ran.err
        assert "pulled 127.0.0.1:" in ran.err and "@sha256:" in ran.err
        assert "release v2 is live" in ran.err
        assert "<h1>from CI 1</h1>" in get(port, "web.localhost")
        [live] = [
            c
            for c in docker_client.containers.list(filters={"label": "pilot.app=web"})
            if c.labels.get("pilot.release") == "v2"
        ]
        env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
        assert env["GREETING"] == "from-ci"  # the commit's settings
        assert env["API_TOKEN"] == SECRET  # .pilot/secrets', never the worker's environment
        monkeypatch.chdir(root)
        records = json.loads(cli("releases", "web", "--json").out)
        assert [(r["id"], r["status"]) for r in records] == [("v1", "superseded"), ("v2", "live")]
        assert "acme/shop" in records[1]["by"]
        assert records[1]["image"].startswith("pilot/acme-web:")
        assert records[0]["secrets_version"] == records[1]["secrets_version"]

        # A request the bucket's writers could forge: an image of another repository, or
        # run1's image tagged as another app's build; each refused, nothing released.
        pushed = re.search(r"(\S+/pilot-acme-web)@(sha256:[0-9a-f]{64})", ran.err)
        assert pushed is not None, ran.err
        text = (checkout / "pilot.toml").read_text()
        for image, tag, why in (
            (f"{pushed[1]}-x@{pushed[2]}", "pilot/acme-web:abc123", "is not in web's own"),
            (f"{pushed[1]}@{pushed[2]}", "pilot/acme-api:abc123", "is not one of web's builds"),
        ):
            forged = Request(server_queue.new_id(), "web", image, tag, None, "someone", text)
            queue.submit(forged)
            ended = server_wait.wait(queue, forged.id, lambda e: None, lambda: False)
            assert not ended.ok and why in ended.message, ended
        assert "<h1>from CI 1</h1>" in get(port, "web.localhost")

        # The same commit again releases nothing; with --force (the run's own flag, passed
        # on to the worker), it does.
        same = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
        assert same.code == 0 and "nothing changed: v2 is live" in same.err, same.err
        forced = workflow.replace("pilot-tui deploy web", "pilot-tui deploy web --force")
        again = run_job(forced, checkout, {}, github_tokens, cli, monkeypatch)
        assert again.code == 0 and again.out.startswith("web\tv3\t"), again.err

        # `server status` names the worker taking the runs' requests
        status = cli("server", "status", "--json")
        assert status.code == 0, status.err
        shown = json.loads(status.out)
        taking = shown["deploy_worker"]  # (walk: named as the output ci_worker was)
        assert "ci_worker" not in shown
        assert taking["stopped"] is False and taking["seen_seconds_ago"] < 120
        assert "taking requests" in taking["said"] and "rollback" in taking["takes"]

        # A release that fails its health check: the run fails with the worker's reason,
        # and v2 keeps serving.
        checkout = _checkout(root, "run2", None, "from-ci")
        bad = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
        assert bad.code == 1, bad.err
        assert "GET /index.html did not answer 2xx" in bad.err, bad.err
        assert bad.err.count("did not answer 2xx within") == 1  # said once (found walking)
        assert "the previous release keeps serving" in bad.err
        assert "<h1>from CI 1</h1>" in get(port, "web.localhost")

        # A rollback from CI: the worker puts v1 back (its image on the server's engine,
        # its settings, its secrets' version), as `rollback` from a machine does; the run
        # asked AWS for nothing its role does not allow, and built nothing.
        aws_calls.clear()
        # (the workflow's own rollback job, as "Run workflow" starts it on main)
        back = run_job(
            workflow,
            checkout,
            {},
            github_tokens,
            cli,
            monkeypatch,
            "rollback",
            inputs={"app": "web", "release": "v1"},
        )
        assert back.code == 0, back.err
        assert back.out.startswith("web\tv5\trollback to v1\thttp://web.localhost"), back.out
        assert "to roll it back to v1: request " in back.err
        assert "skipped: rolling back to v1" in back.err  # the worker's build stage
        assert "to the app's repository" not in back.err  # nothing pushed by the run
        assert [r for r in aws_calls.requests() if not allows(policy, *r)] == []
        assert "hello" in get(port, "web.localhost")
        [live] = docker_client.containers.list(filters={"label": "pilot.app=web"})
        env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
        assert env["GREETING"] == "hi" and env["API_TOKEN"] == SECRET  # v1's own
        # nothing secret reached the run's output or the bucket
        for text in (ran.out, ran.err, bad.out, bad.err, back.err, _bucket_text()):
            assert SECRET not in text
    finally:
        code = _stop(worker)
        log.seek(0)
        said = log.read().decode(errors="replace")
    assert code == 128 + signal.SIGTERM, said  # stopped as asked, after no release
    assert "released v2" in said and "for GitHub Actions acme/shop" in said
    assert "web rolled back to v1, for GitHub Actions" in said
    assert SECRET not in said

    monkeypatch.chdir(root)
    status = cli("server", "status")
    assert status.code == 0, status.err
    assert f"CI deploy worker: {taking['worker']}, stopped " in status.out, status.out

    # The worker said it stopped: the next run is told so at once.
    checkout = _checkout(root, "run3", "<h1>from CI 3</h1>\n", "hi")
    stopped = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    assert stopped.code == 1, stopped.err
    assert f"the deploy worker {taking['worker']}, stopped " in stopped.err, stopped.err

    # The app destroyed: its containers, and the ECR repository the runs pushed to.
    ecr = boto3.client("ecr", region_name="us-east-1")
    assert ecr.describe_repositories(repositoryNames=["pilot-acme-web"])["repositories"]
    monkeypatch.chdir(root)
    gone = cli("app", "destroy", "web", "--yes")
    assert gone.code == 0, gone.err
    # (and the previews' one `ci github` made: web's pull requests get previews)
    said = "deleted ECR repositories pilot-acme-web and pilot-acme-web/previews"
    assert said in gone.err + gone.out
    assert ecr.describe_repositories()["repositories"] == []


@pytest.mark.timeout(300)
def test_ctrl_c_twice_cancels_the_workers_release_and_the_run_is_told(
    server_project, cli, github_tokens, monkeypatch, tmp_path
):
    """The first Ctrl+C asks the worker to stop after the release under way; the second
    cancels that release (the live one keeps serving), and the run waiting on it fails
    with the reason instead of waiting out its hour."""
    import threading

    root, port = server_project
    assert cli("ci", "github", "--repo", "acme/shop").code == 0
    workflow = (root / ".github" / "workflows" / "pilot.yml").read_text()
    log = (tmp_path / "worker.log").open("w+b")
    worker = _worker(root, log)

    def interrupt_while_it_waits() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if b"waiting for GET /index.html" in (tmp_path / "worker.log").read_bytes():
                worker.send_signal(signal.SIGINT)
                time.sleep(0.3)
                worker.send_signal(signal.SIGINT)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=interrupt_while_it_waits)
    watcher.start()
    try:
        checkout = _checkout(root, "run1", None, "hi")  # no page: its health check waits
        ran = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    finally:
        watcher.join()
        code = worker.wait(timeout=60)
        log.seek(0)
        said = log.read().decode(errors="replace")
    assert ran.code == 1, ran.err  # the run was not stopped: its release failed
    assert "web: deploy failed: cancelled while waiting for the new release to get" in ran.err
    assert code == 128 + signal.SIGINT, said
    assert "cancelling the release under way" in said
    assert "hello" in get(port, "web.localhost")  # v1 keeps serving
    monkeypatch.chdir(root)
    records = json.loads(cli("releases", "web", "--json").out)
    assert (records[0]["id"], records[0]["status"]) == ("v1", "live")


@pytest.mark.timeout(600)
def test_the_worker_on_the_server_releases_a_runs_request_with_no_laptop(
    server_project,
    cli,
    github_tokens,
    docker_client,
    docker_engine,
    python_base,
    moto,
    monkeypatch,
    tmp_path,
):
    """server.ci_worker: a deploy from the admin's machine starts the worker as a
    container on the server's engine (its image built there, its files 0600, none of
    .pilot/keys, no secret in the image); with no worker process left here, a push's
    run is released by it with the commit's settings and the secret it was given; what
    it asked of AWS is each allowed by the server role's grant (moto's own recording of
    the requests signed with the role's stand-in key, evaluated); the next deploy
    from here remakes it only when something changed, and turning the setting off
    removes it. The server's instance role and python:3.12-slim are stood in for
    (tests/support/worker_base.py)."""
    from pilot_tui.deploy import worker_container, worker_install
    from tests.support.iam_requests import MotoRecording, recorded_calls, requests
    from tests.support.worker_base import SERVER_ROLE_KEY, worker_base
    from tests.unit.test_deployer_policy import allows

    root, port = server_project
    base = worker_base(docker_client, python_base, moto, os.environ["PILOT_REGISTRY"])
    monkeypatch.setenv("PILOT_WORKER_BASE", base)
    monkeypatch.chdir(root)
    # The admin's own profile, which the server has not (found reviewing: with one in
    # pilot.toml the worker failed before it began, and restarted forever).
    profiles = tmp_path / "aws-credentials"
    profiles.write_text("[acme-admin]\naws_access_key_id = testing\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profiles))
    assert cli("config", "set", "aws.profile", "acme-admin").code == 0
    assert cli("config", "set", "server.ci_worker", "true").code == 0
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "the CI worker on the Pilot Server (server.ci_worker;" in made.err, made.err
    workflow = (root / ".github" / "workflows" / "pilot.yml").read_text()
    # Before `server up` granted the server's role: said, and not started (each of its
    # calls would be refused, and it would restart forever).
    early = cli("deploy", "web", "--force")
    assert early.code == 0, early.err
    assert "the Pilot Server's role does not hold the worker's grant yet" in early.err
    assert worker_install.find(docker_client, "acme") is None
    record = root / ".pilot" / "outputs" / "server.json"  # as `server up` leaves it
    saved = json.loads(record.read_text())
    saved["outputs"]["ci_worker"] = True
    record.write_text(json.dumps(saved))
    deployed = cli("deploy", "web", "--force")
    assert deployed.code == 0, deployed.err
    assert "CI worker pilot-worker-acme started on the Pilot Server" in deployed.err, deployed.err
    container = docker_client.containers.get(worker_container.container_name("acme"))
    try:
        container.reload()
        assert container.status == "running", container.logs()
        listing = container.exec_run(
            ["sh", "-c", "cd /pilot/project && find . -exec stat -c '%a %U %n' {} +"]
        )
        assert listing.exit_code == 0, listing.output
        modes = dict(
            (line.split()[2], line.split()[0]) for line in listing.output.decode().splitlines()
        )
        assert modes["./pilot.toml"] == "600" and modes["./.pilot"] == "700"
        assert modes["./.pilot/secrets/web.env"] == "600"
        assert modes["./.pilot/outputs/server.json"] == "600"
        assert not any(path.startswith("./.pilot/keys") for path in modes), modes
        # The image holds none of the project: its files went into this container alone.
        image = container.attrs["Config"]["Image"]
        bare = docker_client.containers.run(
            image, entrypoint=["ls", "-A", "/pilot/project"], remove=True, network_mode="none"
        )
        assert bare == b"", bare  # (the image's working directory, empty)
        assert SECRET not in json.dumps(docker_client.images.get(image).attrs)
        assert SECRET not in json.dumps(container.attrs)  # not its labels or environment

        beats = boto3.client("s3", region_name="us-east-1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = [
                o["Key"]
                for o in beats.list_objects_v2(Bucket=BUCKET, Prefix=server_queue.WORKERS).get(
                    "Contents", []
                )
            ]
            if any("pilot-server@" in n for n in names):
                break
            container.reload()
            assert container.status == "running", container.logs().decode(errors="replace")
            time.sleep(0.5)
        else:
            raise AssertionError(container.logs().decode(errors="replace"))

        recording = MotoRecording(moto)
        recording.start()
        checkout = _checkout(root, "run1", "<h1>from the server's worker</h1>\n", "from-ci")
        ran = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
        recording.stop()
        said = container.logs().decode(errors="replace")
        assert ran.code == 0, ran.err + said
        assert "asked the deploy worker (pilot-server@" in ran.err, ran.err
        assert "<h1>from the server's worker</h1>" in get(port, "web.localhost")
        [live] = [
            c
            for c in docker_client.containers.list(filters={"label": "pilot.app=web"})
            if c.labels.get("pilot.release") == ran.out.split("\t")[1]
        ]
        env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
        assert env["GREETING"] == "from-ci" and env["API_TOKEN"] == SECRET
        assert SECRET not in said

        # Each request the worker made, evaluated against the server role's grant.
        asked = [
            r
            for call in recorded_calls(recording.entries(), SERVER_ROLE_KEY)
            for r in requests(call)
        ]
        policy = worker_container.role_policy("acme", BUCKET, "us-east-1", "123456789012")
        assert [r for r in asked if not allows(policy, *r)] == []
        actions = {action for action, _, _ in asked}
        assert {"s3:ListBucket", "s3:PutObject", "ecr:GetAuthorizationToken"} <= actions, actions
        assert not allows(policy, "s3:GetObject", {}, f"arn:aws:s3:::{BUCKET}/pilot/server.tfstate")
        assert not allows(
            policy,
            "ecr:PutImage",
            {},
            "arn:aws:ecr:us-east-1:123456789012:repository/pilot-acme-web",
        )

        # Unchanged: kept as it runs. A new secret value: remade with it.
        made = container.id
        again = cli("deploy", "web")
        assert again.code == 0, again.err
        assert docker_client.containers.get(container.name).id == made
        stored = run_pilot("secrets", "set", "web", "API_TOKEN", cwd=root, input="tok-rotated")
        assert stored.returncode == 0, stored.stderr
        assert "keeps the value it was given until your next deploy" in stored.stderr
        rotated = cli("deploy", "web")
        assert rotated.code == 0, rotated.err
        remade = docker_client.containers.get(container.name)
        assert remade.id != made
        copy = remade.exec_run(["cat", "/pilot/project/.pilot/secrets/web.env"])
        assert b"tok-rotated" in copy.output

        # A teammate's machine without web's secret file (its value in the environment):
        # the worker keeps what it was given.
        kept = root / ".pilot" / "secrets" / "web.env"
        moved = kept.rename(tmp_path / "web.env")
        monkeypatch.setenv("API_TOKEN", "tok-from-a-teammates-environment")
        teammate = cli("deploy", "web", "--force")
        assert teammate.code == 0, teammate.err
        assert "this machine has no .pilot/secrets/web.env" in teammate.err, teammate.err
        assert docker_client.containers.get(container.name).id == remade.id
        moved.rename(kept)
        monkeypatch.delenv("API_TOKEN")

        # Off: the next deploy removes it.
        assert cli("config", "set", "server.ci_worker", "false").code == 0
        off = cli("deploy", "web", "--force")
        assert off.code == 0, off.err
        assert "removed the CI worker from the Pilot Server" in off.err
        assert worker_install.find(docker_client, "acme") is None

        # Stopped in its first moment, before Python set its handlers (found
        # benchmarking: as PID 1 it ignored that SIGTERM, and the stop waited out its 15
        # minutes): its init hands the signal on, and it goes at once.
        from pilot_tui.config.validate import check_file
        from pilot_tui.deploy.host import parse_host

        checked = check_file(root / "pilot.toml")
        assert checked.config is not None
        engine = parse_host(docker_engine.url, root / ".pilot")
        plan = worker_container.worker_plan(
            checked.config, root / "pilot.toml", root / ".pilot", engine
        )
        worker_install.install(docker_client, plan, lambda line: None, settle=0)
        assert worker_install.remove(docker_client, "acme", lambda line: None)
        assert worker_install.find(docker_client, "acme") is None
    finally:
        worker_install.remove(docker_client, "acme", lambda line: None)


@pytest.mark.timeout(600)
def test_a_pull_requests_preview_of_the_servers_app_is_made_and_removed_by_the_worker(
    server_project, cli, github_tokens, docker_client, aws_calls, monkeypatch, tmp_path
):
    """A pull request's run asks the worker for web's preview pr-7: built on the runner,
    pushed to web's previews' repository, released on the server at web--pr-7 with the
    previews' own secret held there (never the app's, none from GitHub); what the run
    asked of AWS is each allowed by the pull requests' role as `ci github` made it.
    The worker takes nothing else from a pull request's keys (a forged production
    release is refused). Closing it removes the preview and its images; a second close
    finds nothing to remove, and says so."""
    from pilot_tui.naming import preview_repository
    from tests.unit.test_deployer_policy import allows

    root, port = server_project
    monkeypatch.chdir(root)
    stored = run_pilot(
        "secrets", "set", "web", "API_TOKEN", "--preview", cwd=root, input="tok-preview-only"
    )
    assert stored.returncode == 0, stored.stderr
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "the previews of web run on the Pilot Server: its worker makes" in made.err
    assert "gh secret set PREVIEW_API_TOKEN" not in made.err  # the worker holds it
    workflow = (root / ".github" / "workflows" / "pilot.yml").read_text()
    jobs = yaml.safe_load(workflow)["jobs"]
    assert "prune" not in jobs  # the server's agent removes web's expired previews
    steps = [s["run"] for s in jobs["preview"]["steps"] if "pilot-tui" in s.get("run", "")]
    assert steps[-1] == "pilot-tui deploy web --preview pr-${{ github.event.number }}"
    iam = boto3.client("iam", region_name="us-east-1")
    policy = iam.get_role_policy(RoleName="pilot-acme-github-previews", PolicyName="pilot-deploy")[
        "PolicyDocument"
    ]
    assert not [s for s in policy["Statement"] if s["Sid"] == "PreviewFunctions"]  # no Lambda

    log = (tmp_path / "worker.log").open("w+b")
    worker = _worker(root, log)
    try:
        github_tokens.sub = "repo:acme/shop:pull_request"
        checkout = _checkout(root, "pr7", "<h1>pull request 7</h1>\n", "from-pr")
        aws_calls.clear()
        ran = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch, "preview", 7)
        asked = aws_calls.requests()
        assert ran.code == 0, ran.err
        assert ran.out.startswith("web--pr-7\tv1\thttp://web--pr-7.localhost"), ran.out
        assert "asked the deploy worker" in ran.err and "request preview-" in ran.err
        assert "<h1>pull request 7</h1>" in get(port, "web--pr-7.localhost")
        assert "hello" in get(port, "web.localhost")  # the app itself untouched
        [box] = docker_client.containers.list(filters={"label": "pilot.app=web--pr-7"})
        env = dict(e.split("=", 1) for e in box.attrs["Config"]["Env"])
        assert env["API_TOKEN"] == "tok-preview-only" and env["GREETING"] == "from-pr"
        refused = [r for r in asked if not allows(policy, *r)]
        assert refused == []
        actions = {action for action, _, _ in asked}
        assert {"s3:PutObject", "s3:GetObject", "ecr:GetAuthorizationToken"} <= actions
        request = "arn:aws:s3:::pilot-state-acme/pilot/deploys/2026x.request.json"
        assert not allows(policy, "s3:PutObject", {}, request)  # a branch's key: never
        # pushed to the previews' repository under the preview's own tag (moto has no
        # registry: the stand-in on 127.0.0.1 holds the images)
        repository = preview_repository("acme", "web")
        pushed_tags = _registry_tags(repository)
        assert pushed_tags and all(t.startswith("preview_pr-7_") for t in pushed_tags)
        # ECR expires what a failed close leaves: pushed over the TTL (72h) and a day ago
        ecr = boto3.client("ecr", region_name="us-east-1")
        expiry = ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]
        [rule] = json.loads(expiry)["rules"]
        assert rule["selection"] == {
            "tagStatus": "any",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 4,
        }

        # A pull request's keys ask for its previews alone: a production release forged
        # there (the role may write those keys) is refused, nothing released.
        pushed = re.search(r"(\S+/pilot-acme-web/previews)@(sha256:[0-9a-f]{64})", ran.err)
        assert pushed is not None, ran.err
        queue = Queue(SharedHistory("s3", BUCKET, boto3.client("s3", region_name="us-east-1")))
        text = (checkout / "pilot.toml").read_text()
        # (its words claim a branch's ID: review found that taken as the app's release)
        key_id = server_queue.new_id(preview=True)
        forged = Request(
            server_queue.new_id(), "web", pushed[0], "pilot/acme-web:abc123", None, "x", text
        )
        queue.store.put_if(queue.key(key_id, "request"), forged.to_bytes(), "")
        ended = server_wait.wait(queue, key_id, lambda e: None, lambda: False)
        assert not ended.ok and "a pull request's run may make and remove its previews" in (
            ended.message
        ), ended
        assert "hello" in get(port, "web.localhost")

        # Closed: removed by the worker; a second close finds nothing.
        aws_calls.clear()
        closed = run_job(
            workflow, checkout, {}, github_tokens, cli, monkeypatch, "preview-remove", 7
        )
        assert closed.code == 0, closed.err
        assert "asked the deploy worker" in closed.err and "to remove it" in closed.err
        assert "removed the preview web--pr-7" in closed.err
        assert "removed removed" not in closed.err  # (walk: each line said twice)
        assert not docker_client.containers.list(all=True, filters={"label": "pilot.app=web--pr-7"})
        with pytest.raises(urllib.error.HTTPError) as gone:  # its route went with it
            get(port, "web--pr-7.localhost")
        assert gone.value.code == 404
        # Its images' deletion asked of ECR (moto lists none: they are in the stand-in
        # registry), as the role allows.
        removal = aws_calls.requests()
        arn = f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"
        assert ("ecr:ListImages", {}, arn) in removal
        assert [r for r in removal if not allows(policy, *r)] == []
        # (as `preview list` names it: walk found the full name refused in a run alone)
        by_full_name = workflow.replace("preview destroy web pr-", "preview destroy web web--pr-")
        assert by_full_name != workflow
        again = run_job(
            by_full_name, checkout, {}, github_tokens, cli, monkeypatch, "preview-remove", 7
        )
        assert again.code == 0 and "nothing to remove" in again.err, again.err
        assert "hello" in get(port, "web.localhost")
    finally:
        code = _stop(worker)
        log.seek(0)
        said = log.read().decode(errors="replace")
    assert code == 128 + signal.SIGTERM, said
    assert "tok-preview-only" not in said
    assert "web--pr-7 removed, for GitHub Actions" in said and ": done" in said  # (walk)
    # `ci remove` deletes the previews' repository `ci github` made (walk: it was left)
    undone = cli("ci", "remove")
    assert undone.code == 0, undone.err
    assert f"removed ECR repository {repository}" in undone.err
    ecr = boto3.client("ecr", region_name="us-east-1")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[repository])


def _registry_tags(repository: str) -> list[str]:
    """The tags the stand-in registry (ECR's, PILOT_REGISTRY) holds of ``repository``."""
    import urllib.request

    ecr = boto3.client("ecr", region_name="us-east-1")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    request = urllib.request.Request(
        f"http://{os.environ['PILOT_REGISTRY']}/v2/{repository}/tags/list",
        headers={"Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read()).get("tags") or []


@pytest.mark.timeout(600)
def test_the_worker_forgets_what_is_left_of_the_previews_the_agent_removed(
    server_project, docker_client
):
    """Review: the server's agent removes a preview past its TTL but reaches no bucket, and
    no laptop runs `preview prune` for the previews CI makes: their release histories and
    leases stayed in the state bucket for good. The worker's tidy (hourly, and as it
    starts) now forgets them; the app's own history, and a preview still running, stay.
    (The test removes pr-9's containers as the agent does; the agent's own removal is
    tested in test_previews.py.)"""
    from pilot_tui.deploy import shared_lease
    from pilot_tui.deploy.lease_rules import key as lease_key
    from pilot_tui.deploy.server_worker import Worker

    root, _ = server_project
    for name in ("pr-8", "pr-9"):
        made = run_pilot("deploy", "web", "--preview", name, cwd=root, timeout=180)
        assert made.returncode == 0, made.stderr
    s3 = boto3.client("s3", region_name="us-east-1")

    def stored() -> set[str]:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="pilot/")
        return {o["Key"] for o in listed.get("Contents", [])}

    left = {"pilot/releases/web--pr-9.json", lease_key("web--pr-9")}
    kept = {"pilot/releases/web.json", "pilot/releases/web--pr-8.json"}
    assert left | kept <= stored()
    for box in docker_client.containers.list(all=True, filters={"label": "pilot.app=web--pr-9"}):
        box.remove(force=True)
    queue = Queue(SharedHistory("s3", BUCKET, s3))
    said: list[str] = []
    worker = Worker(root / "pilot.toml", queue, lambda e: None, said.append, name="w")
    # Review: one being deployed again under that name (its lease held) is left to it.
    lease = shared_lease.take(queue.store, "web--pr-9", "alice@laptop", "preview")
    try:
        worker._tidy()
    finally:
        lease.release()
    assert "kept web--pr-9: alice@laptop is deploying it (preview)" in said, said
    assert "pilot/releases/web--pr-9.json" in stored()
    worker._tidy()
    assert not left & stored(), said
    assert kept <= stored()
    assert "removed the release history of web--pr-9" in said
    assert not (root / ".pilot" / "releases" / "web--pr-9.json").exists()
