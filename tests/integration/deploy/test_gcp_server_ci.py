"""CI deploys of an app of the Pilot Server for a project on Google Cloud: the run acts on
Google Cloud (its release history in GCS), builds the image on its own engine, pushes it to
the project's Artifact Registry repository with the run's own token and leaves a request in
the state bucket; `pilot-tui server worker`, a real process where the admin's .pilot/ is,
pulls it with the deployer's key and releases it on the server.

Real here: the CLI on both ends, google-auth's sign-in from a service-account key and its
token exchange in a run, the tests' private Docker engine (the runner's and the server's),
the edge proxy, the GCS emulator (the state bucket, the queue), a real registry on
127.0.0.1 taking the login Artifact Registry would (PILOT_REGISTRY).

Stand-ins, said plainly: Google's IAM is FakeWif (what `ci github` makes, recorded);
Google's STS, IAM Credentials and OAuth token endpoints are tests/support/google_sts.py;
Artifact Registry's API is tests/support/artifact_registry.py over HTTP on 127.0.0.1
(PILOT_ARTIFACT_REGISTRY_API); GitHub's token service is tests/support/github_tokens.py.
No Google service runs here."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from pilot_tui.cloud import clients, gcp_resources, gcp_wif, oidc_exchange
from pilot_tui.cloud.clients import emulator_gcs
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import artifact_registry
from tests.conftest import PILOT, run_pilot
from tests.support.artifact_registry import FakeRegistry, serve_registry_api
from tests.support.ci_runs import run_job
from tests.support.deploy_fixtures import HELLO, get
from tests.support.google_sts import ACCESS, key_file
from tests.unit.test_gcp_wif import CI_EMAIL, NAME, FakeWif
from tests.unit.test_identity_gcp import PROJECT, REPO

SECRET = "tok-5e11-gcp-server-secret-never-shown"
BUCKET = "pilot-state-acme"
DEPLOYER = "pilot-acme-deployer@acme-prod.iam.gserviceaccount.com"
ADMIN = "admin@acme-prod.iam.gserviceaccount.com"
WEB = {
    "name": "web",
    "path": "web",
    "build": {"kind": "dockerfile"},
    "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 10},
    "env": {"GREETING": "hi"},
    "secrets": ["API_TOKEN"],
}
# Images pushed before (a month of CI runs): the worker keeps the newest 20.
OLD = {f"sha256:{n:064x}": f"2026-10-{n:02d}T08:00:00.{n}Z" for n in range(1, 23)}


@pytest.fixture(scope="module")
def gcs_url(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("gcs-emulator"))
    running, _ = sandbox.ensure()
    yield running["gcs"].url
    sandbox.stop()


@pytest.fixture
def gcp_server(
    engine_project, registry, docker_engine, gcs_url, google_sts, tmp_path_factory, monkeypatch
):
    """The admin's project on Google Cloud: state in GCS, its Pilot Server's record naming
    the private engine (standing in for `server up`), the app "web" on it with its secret
    in .pilot/secrets, released once from here (v1); the admin's key file (gcp.credentials)
    and the deployer's, each signing in at the stand-in. (root, proxy port, the fake IAM)."""
    root, port, add = engine_project
    token_uri = f"{google_sts.url}/oauth2/token"
    admin = key_file(tmp_path_factory.mktemp("admin") / "key.json", ADMIN, token_uri)
    key_file(root / ".pilot" / "keys" / clients.GCP_KEY_FILE, DEPLOYER, token_uri)
    pf = ProjectFile.load(root / "pilot.toml")
    text = pf.text
    for key, value in (
        ("project.name", "acme"),
        ("server.home", "gcp"),
        ("gcp.project", "acme-prod"),
        ("gcp.region", "europe-west1"),
        ("gcp.credentials", admin),
        ("state.backend", "gcs"),
    ):
        text = ProjectFile(pf.path, text).with_value(key, value)
    pf.save(text)
    outputs = root / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    record = {"home": "gcp", "outputs": {"docker_host": docker_engine.url}}
    (outputs / "server.json").write_text(json.dumps(record))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    gcs = emulator_gcs(gcs_url)
    if gcs.lookup_bucket(BUCKET) is None:
        gcs.create_bucket(BUCKET)
    # Artifact Registry's login: the access token, as Google's registry takes it
    monkeypatch.setenv("PILOT_REGISTRY", registry({artifact_registry.USERNAME: ACCESS}))
    shutil.copytree(HELLO, root / "web")
    add(WEB)
    stored = run_pilot("secrets", "set", "web", "API_TOKEN", cwd=root, input=SECRET)
    assert stored.returncode == 0, stored.stderr
    monkeypatch.delenv("API_TOKEN", raising=False)
    first = run_pilot("deploy", "web", cwd=root, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "hello" in get(port, "web.localhost")
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)  # the runner's engine, in a run

    # the admin's Google IAM is FakeWif (in this process: `ci github`)
    fake = FakeWif()
    fake.policies[f"https://storage.googleapis.com/storage/v1/b/{BUCKET}"] = {"etag": "b0"}
    real_transport, real_gcs = clients.google_transport, clients.project_gcs
    monkeypatch.setattr(
        clients,
        "google_transport",
        lambda config, root, *, role="deployer": (
            fake if role == "admin" else real_transport(config, root, role=role)
        ),
    )
    monkeypatch.setattr(
        clients,
        "project_gcs",
        lambda config, state_dir, root, *, sandbox, start=True, role="admin": (
            gcs
            if role == "admin"
            else real_gcs(config, state_dir, root, sandbox=sandbox, start=start, role=role)
        ),
    )
    monkeypatch.setattr(oidc_exchange, "_google", {})
    return root, port, fake


def _worker(root, log):
    """`pilot-tui server worker` in ``root``; its process, once it has beaten."""
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    process = subprocess.Popen(
        [PILOT, "server", "worker", "--poll", "0.3"],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    bucket = emulator_gcs(os.environ["STORAGE_EMULATOR_HOST"]).bucket(BUCKET)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if list(bucket.list_blobs(prefix="pilot/deploys/workers/")):
            return process
        assert process.poll() is None, f"the worker ended: {log.name}"
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the worker never beat")


def _checkout(root, name: str, page: str, greeting: str):
    """A fresh clone of the repository (never .pilot/): web's page and GREETING."""
    checkout = root / name
    checkout.mkdir()
    shutil.copytree(root / "web", checkout / "web")
    (checkout / "web" / "www" / "index.html").write_text(page)
    text = (root / "pilot.toml").read_text().replace('GREETING = "hi"', f'GREETING = "{greeting}"')
    (checkout / "pilot.toml").write_text(text)
    return checkout


@pytest.mark.timeout(600)
def test_a_push_deploys_the_servers_app_through_artifact_registry_and_the_worker(
    gcp_server, cli, github_tokens, google_sts, docker_client, monkeypatch, tmp_path
):
    """Before, a run acting on Google Cloud refused the server's apps ("its image passes
    through ECR (AWS) only"). Now the run pushes to Artifact Registry with its own token,
    the worker pulls by digest with the deployer's key, releases the commit's settings
    with the secret it holds, and deletes the app's images beyond the newest 20; a
    rollback from CI and `app destroy` (the package deleted) follow."""
    root, port, fake = gcp_server
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "web runs on the Pilot Server, which a run cannot reach" in made.err
    assert "a run pushes the image to Artifact Registry and leaves a deploy request" in made.err
    workflow = (root / ".github" / "workflows" / "pilot.yml").read_text()
    assert yaml.safe_load(workflow)["jobs"]["deploy"]["steps"][-1]["run"] == "pilot-tui deploy web"
    assert "API_TOKEN" not in workflow  # the worker holds web's secret
    # CI's account may push to the project's repository, and deploys no Cloud Run service
    ci = f"serviceAccount:{CI_EMAIL}"
    bindings = fake.policies[f"{REPO}/pilot-acme"]["bindings"]
    assert {"role": "roles/artifactregistry.writer", "members": [ci]} in bindings  # push only
    # ... and the deployer, whose key the worker pulls with, the repository (setup made
    # none: the project has no Cloud Run app)
    deployer = f"serviceAccount:{DEPLOYER}"
    assert {"role": "roles/artifactregistry.repoAdmin", "members": [deployer]} in bindings
    granted = {b["role"] for b in fake.policies[PROJECT]["bindings"] if ci in b["members"]}
    assert "roles/run.admin" not in granted

    # From here on Artifact Registry's API is the stand-in, for this process and the worker
    package = artifact_registry.package_url("acme-prod", "europe-west1", "acme", "web")
    registry_api = FakeRegistry(package, {}, dict(OLD))
    log = (tmp_path / "worker.log").open("w+b")
    with serve_registry_api(registry_api) as url:
        monkeypatch.setenv(gcp_resources.REGISTRY_API_OVERRIDE, url)
        google_sts.provider_admits = lambda claims: (
            fake.provider_admits(claims)
            and claims["sts_audience"] == f"//iam.googleapis.com/{NAME}"
        )
        google_sts.binding_admits = lambda claims, email: (
            email == CI_EMAIL and fake.binding_admits(claims)
        )
        monkeypatch.setattr(gcp_wif, "STS_URL", google_sts.sts_url)
        monkeypatch.setattr(gcp_wif, "IAM_CREDENTIALS", google_sts.iam_credentials)
        worker = _worker(root, log)
        try:
            checkout = _checkout(root, "run1", "<h1>from CI 1</h1>\n", "from-ci")
            ran = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
            assert ran.code == 0, ran.err
            assert ran.out.startswith("web\tv2\thttp://web.localhost"), ran.out
            assert "to the app's repository, for the Pilot Server" in ran.err
            host = os.environ["PILOT_REGISTRY"]
            assert f"pulled {host}/acme-prod/pilot-acme/web@sha256:" in ran.err, ran.err
            assert "release v2 is live" in ran.err
            assert "<h1>from CI 1</h1>" in get(port, "web.localhost")
            [live] = [
                c
                for c in docker_client.containers.list(filters={"label": "pilot.app=web"})
                if c.labels.get("pilot.release") == "v2"
            ]
            env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
            assert env["GREETING"] == "from-ci" and env["API_TOKEN"] == SECRET
            # the worker signed in with the deployer's key (no key reached the run)
            signed_in = {a["claims"].get("iss") for a in google_sts.asked if "claims" in a}
            assert DEPLOYER in signed_in
            assert not (checkout / ".pilot" / "keys").exists()
            # ... and deleted the app's images but the newest 20
            assert "older images of web are not expired" not in ran.err
            oldest = sorted(OLD, key=OLD.__getitem__)[:2]
            assert registry_api.versions == set(OLD) - set(oldest)
            assert ("GET", f"{registry_api.package}/versions") in registry_api.calls

            # v2's image, the oldest in the package, is kept by the next release: the
            # server runs it (a release there names its image by tag; the engine knows
            # the digest it pulled), so a rollback to it never finds it gone
            pulled = re.search(r"pulled \S+@(sha256:[0-9a-f]{64})", ran.err)
            assert pulled is not None, ran.err
            registry_api.created[pulled[1]] = "2020-01-01T00:00:00Z"
            registry_api.versions.add(pulled[1])
            checkout = _checkout(root, "run2", "<h1>from CI 2</h1>\n", "from-ci")
            second = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
            assert second.code == 0 and second.out.startswith("web\tv3\t"), second.err
            assert pulled[1] in registry_api.versions
            assert ("DELETE", f"{registry_api.package}/versions/{pulled[1]}") not in (
                registry_api.calls
            )

            # A rollback from CI: the worker puts v1 back; the run built and pushed nothing
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
            assert back.out.startswith("web\tv4\trollback to v1\t"), back.out
            assert "to the app's repository" not in back.err
            assert "hello" in get(port, "web.localhost")
            for text in (ran.out, ran.err, second.err, back.out, back.err):
                assert SECRET not in text and ACCESS not in text
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=60)
            log.seek(0)
            said = log.read().decode(errors="replace")
        assert code == 128 + signal.SIGTERM, said
        assert "released v2" in said and "for GitHub Actions acme/shop" in said
        assert SECRET not in said and ACCESS not in said

        # The app destroyed: its containers, and its package of Artifact Registry
        monkeypatch.chdir(root)
        gone = cli("app", "destroy", "web", "--yes")
        assert gone.code == 0, gone.err
        where = "europe-west1-docker.pkg.dev/acme-prod/pilot-acme/web"
        assert f"deleted the Artifact Registry package {where}" in gone.err + gone.out
        assert ("DELETE", registry_api.package) in registry_api.calls
        assert registry_api.versions == set()
