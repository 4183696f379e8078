"""A private Docker engine for the deploy tests: one dockerd per session, under a short /tmp
directory (Unix socket paths are limited), with the busybox base image imported; on demand a
Python base image (pilot/python:3) imported from the root filesystem .ci/setup builds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest

from pilot_tui.apps import add_app
from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox, free_port
from pilot_tui.config.document import ProjectFile
from pilot_tui.runner import pid_alive, stop_pid
from tests.support import dockerd
from tests.support.paths import TESTS


def engine_unavailable() -> str | None:
    """Why no private engine can run here, or None."""
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (bash .ci/setup --test installs docker.io)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


PYTHON_BASE = "pilot/python:3"


def python_rootfs() -> Path:
    """The Debian root filesystem with python3 that `bash .ci/setup --test` builds (debootstrap)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pilot-ci" / "python3-rootfs.tar"


def require_engine() -> None:
    """Skip when no engine can run; on CI (CI=true) fail instead: CI must never silently skip."""
    reason = engine_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    require_engine()
    root = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    engine = dockerd.start(root)
    try:
        dockerd.import_base_image(engine)
        yield engine
    finally:
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_root():
    """A short directory for an engine of the test's own (the session's must keep running)."""
    require_engine()
    root = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    yield root
    shutil.rmtree(root)  # fails while anything is still mounted below it


@pytest.fixture
def docker_client(docker_engine):
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def python_base(docker_engine) -> str:
    """A Python base image (Debian bookworm's python3), imported once per engine; its tag.
    Skips when the root filesystem is missing; on CI (CI=true) fails instead."""
    tarball = python_rootfs()
    if not tarball.is_file():
        reason = f"{tarball} is missing: bash .ci/setup --test builds it (root, debootstrap)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    import docker

    client = docker.DockerClient(base_url=docker_engine.url, timeout=600)
    try:
        try:
            client.images.get(PYTHON_BASE)
        except docker.errors.ImageNotFound:
            repository, _, tag = PYTHON_BASE.rpartition(":")
            client.api.import_image(
                src=str(tarball),
                repository=repository,
                tag=tag,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    'CMD ["python3"]',
                ],
            )
            client.images.get(PYTHON_BASE)  # the import's reply does not say if it worked
    finally:
        client.close()
    return PYTHON_BASE


@pytest.fixture(scope="session")
def edge_image(docker_engine) -> str:
    """The edge proxy's image on the private engine (BusyBox and the static Caddy binary,
    standing in for caddy:2-alpine, which cannot be pulled here); its name."""
    return dockerd.build_caddy_image(docker_engine)


HELLO = TESTS / "fixtures" / "apps" / "hello"
SECRET = "tok-5f1e9c0a77d2-never-shown"


@pytest.fixture
def engine_project(tmp_path, cli, docker_engine, python_base, edge_image, monkeypatch):
    """A project whose Docker host is the private engine, with TLS off (a host home would
    default to on); ``add(app)`` appends an [[apps]] table. Yields (root, proxy port, add);
    removes every container it made afterwards."""
    monkeypatch.setenv("PILOT_PROXY_IMAGE", edge_image)
    monkeypatch.setenv("PILOT_PYTHON_BASE", python_base)  # the backup agent's base
    assert cli("init").code == 0
    port = free_port()
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    text = pf.with_value("server.home", "host")
    text = ProjectFile(pf.path, text).with_value("server.host", docker_engine.url)
    text = ProjectFile(pf.path, text).with_value("server.http_port", port)
    text = ProjectFile(pf.path, text).with_value("server.tls", "off")
    pf.save(text)

    def add(app: dict[str, object]) -> None:
        target = app.get("target")
        if isinstance(target, dict) and target.get("kind") == "server":
            # Watching a new release takes target.watch seconds (60 by default); the tests
            # of the watch (test_watch.py) set it, the others do not wait for it.
            app = {**app, "target": {**target, "watch": target.get("watch", 0)}}
        current = ProjectFile.load(tmp_path / "pilot.toml")
        current.save(add_app(current.text, app))

    yield tmp_path, port, add
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    for container in client.containers.list(all=True, filters={"label": "pilot.project"}):
        container.remove(force=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get("pilot-proxy").remove(force=True)
    client.close()


@pytest.fixture
def site(engine_project, monkeypatch):
    """A project deploying the `hello` app to the private engine as its Docker host."""
    root, port, add = engine_project
    monkeypatch.setenv("API_TOKEN", SECRET)
    shutil.copytree(HELLO, root / "hello")
    add(
        {
            "name": "hello",
            "path": "hello",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "health_path": "/index.html", "health_timeout": 10},
            "env": {"GREETING": "hi"},
            "secrets": ["API_TOKEN"],
        }
    )
    return root, port


def get(port: int, host: str = "hello.localhost", path: str = "/index.html") -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode().strip()


@pytest.fixture
def registry(tmp_path):
    """``start(users) -> "127.0.0.1:PORT"``: a real Docker registry (Debian's docker-registry)
    on 127.0.0.1 with htpasswd logins for ``users`` (name -> password); stopped by pid."""
    import subprocess
    import time

    if shutil.which("docker-registry") is None or shutil.which("htpasswd") is None:
        reason = "docker-registry / htpasswd missing (bash .ci/setup --test installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    started: list[subprocess.Popen[bytes]] = []

    def start(users: dict[str, str]) -> str:
        port = free_port()
        folder = tmp_path / f"registry-{port}"
        folder.mkdir()
        for index, (user, password) in enumerate(users.items()):
            subprocess.run(
                [
                    "htpasswd",
                    "-B",
                    "-b" + ("" if index else "c"),
                    str(folder / "htpasswd"),
                    user,
                    password,
                ],
                check=True,
                capture_output=True,
            )
        (folder / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: pilot-test\n"
            f"    path: {folder / 'htpasswd'}\n"
        )
        log = (folder / "registry.log").open("wb")
        started.append(
            subprocess.Popen(
                ["docker-registry", "serve", str(folder / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except urllib.error.HTTPError:
                return f"127.0.0.1:{port}"  # 401: up, and asking for a login
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the registry did not start: {(folder / 'registry.log').read_text()}")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


LAMBDA_FIXTURES = TESTS / "fixtures" / "lambda"
# The zip Lambda app of LAMBDA_FIXTURES/hello_fn, as an [[apps]] table.
FN = {
    "name": "fn",
    "path": "fn",
    "target": {"kind": "lambda", "package": "zip", "memory": 128},
    "env": {"GREETING": "hi"},
    "secrets": ["API_TOKEN"],
}
LAMBDA_RUNTIME = "pilot/lambda-python:3.12"


@pytest.fixture(scope="session")
def lambda_runtime(docker_engine, python_base):
    """What moto needs to run Lambda functions on the private engine, as environment
    variables for the process that starts it: the runtime image is a stand-in built here
    (tests/fixtures/lambda/runtime), since the public ones cannot be pulled."""
    import docker

    client = docker.DockerClient(base_url=docker_engine.url, timeout=300)
    try:
        client.images.build(
            path=str(LAMBDA_FIXTURES / "runtime"),
            tag=LAMBDA_RUNTIME,
            rm=True,
            buildargs={"BASE": python_base},
        )
        client.images.get("pilot/busybox:latest").tag("busybox", "latest")  # moto's copier
        yield {
            "DOCKER_HOST": docker_engine.url,
            "MOTO_DOCKER_LAMBDA_IMAGE": LAMBDA_RUNTIME,
            "MOTO_DOCKER_NETWORK_MODE": "host",
        }
        for volume in client.volumes.list():  # moto's volumes of function code
            volume.remove(force=True)
    finally:
        client.close()


@pytest.fixture
def fn_project(tmp_path, cli, lambda_runtime, monkeypatch):
    """A sandbox project with a zip Lambda app "fn" (GREETING, and the secret API_TOKEN
    from the environment); the emulators it starts are stopped by pid afterwards."""
    for name, value in lambda_runtime.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("API_TOKEN", SECRET)
    assert cli("init", "--name", "acme").code == 0
    shutil.copytree(LAMBDA_FIXTURES / "hello_fn", tmp_path / "fn")
    pf = ProjectFile.load(tmp_path / "pilot.toml")
    pf.save(
        add_app(
            pf.text,
            FN,
        )
    )
    yield tmp_path
    for emulator in Sandbox(tmp_path / ".pilot").load().values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


def invoke(root, path: str = "/", alias: str = "live", function: str = "pilot-acme-fn") -> dict:
    """What the sandbox's ``function`` answers, through ``alias``, for ``path`` (moto runs
    it on the private Docker engine)."""
    from pilot_tui.deploy.targets.lambda_.function import url_event

    url = Sandbox(root / ".pilot").running()["aws"].url
    lam = emulator_aws("us-east-1").session.client("lambda", endpoint_url=url)
    answer = lam.invoke(
        FunctionName=function,
        Qualifier=alias,
        Payload=json.dumps(url_event(path)).encode(),  # as its function URL would ask
    )
    return json.loads(json.loads(answer["Payload"].read())["body"])


@pytest.fixture
def gcs_client(tmp_path):
    """A google-cloud-storage client of the sandbox's GCS emulator on 127.0.0.1 (anonymous,
    as the sandbox's is); the emulators are stopped by pid afterwards."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from pilot_tui.cloud.sandbox import Sandbox

    sandbox = Sandbox(tmp_path / "gcs-state")
    running, _ = sandbox.ensure()
    try:
        yield storage.Client(
            project="sandbox",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": running["gcs"].url},
        )
    finally:
        sandbox.stop()


@pytest.fixture
def moto(tmp_path, monkeypatch):
    """The sandbox's local AWS API (moto) on 127.0.0.1, boto3 pointed at it; its URL."""
    from pilot_tui.cloud.sandbox import Sandbox

    sandbox = Sandbox(tmp_path / "moto-state")
    running, _ = sandbox.ensure()
    monkeypatch.setenv("AWS_ENDPOINT_URL", running["aws"].url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield running["aws"].url
    sandbox.stop()


def legacy_alias_preview(lam, function: str, app: str, name: str, expires: float) -> str:
    """A preview as Pilot made them before each had a function of its own: the alias
    preview--NAME of the app's ``function``, its whose and expiry in the alias's
    description, a version published for it and a public function URL. The version."""
    labels = {
        "pilot.preview-of": app,
        "pilot.preview": name,
        "pilot.preview-expires": str(int(expires)),
    }
    lam.update_function_configuration(
        FunctionName=function, Environment={"Variables": {"GREETING": "an old preview"}}
    )
    version = lam.publish_version(FunctionName=function, Description=f"pilot {app}--{name} v1")
    alias = f"preview--{name}"
    lam.create_alias(
        FunctionName=function,
        Name=alias,
        FunctionVersion=version["Version"],
        Description=json.dumps(labels),
    )
    lam.create_function_url_config(FunctionName=function, Qualifier=alias, AuthType="NONE")
    return str(version["Version"])


LAMBDA_ADAPTER = "pilot/lambda-adapter-standin:1"


def image_lambda_stand_ins(docker_client, registry, folder: Path, monkeypatch) -> str:
    """What an image Lambda's deploy needs here, in place: ECR's registry a real one on
    127.0.0.1 taking the login moto's ECR hands out (PILOT_REGISTRY), and the Lambda Web
    Adapter a local image with a placeholder /lambda-adapter (PILOT_LAMBDA_ADAPTER; the real
    one cannot be pulled here), built in ``folder``. The registry's host."""
    import base64

    import boto3

    ecr = boto3.client("ecr", region_name="us-east-1")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    host = registry({user: password})
    monkeypatch.setenv("PILOT_REGISTRY", host)
    folder.mkdir()
    (folder / "lambda-adapter").write_text("#!/bin/sh\necho stand-in adapter\n")
    (folder / "Dockerfile").write_text(
        "FROM pilot/busybox:latest\nCOPY lambda-adapter /lambda-adapter\n"
    )
    docker_client.images.build(path=str(folder), tag=LAMBDA_ADAPTER, rm=True)
    monkeypatch.setenv("PILOT_LAMBDA_ADAPTER", LAMBDA_ADAPTER)
    return host
