"""The CI worker on the Pilot Server (server.ci_worker) as data: which engine it releases
on, what of the project it gets (and never), its image's content, and the server role's
grant for it, evaluated. Its container running a CI run's release is tested end to end in
tests/integration/deploy/test_ci_server_deploy.py."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from pilot_tui.config.schema import AppSettings, PilotConfig, ServerTarget
from pilot_tui.config.validate import check_file
from pilot_tui.deploy import worker_container, worker_install
from pilot_tui.deploy.host import parse_host, server_own_engine
from pilot_tui.deploy.targets.docker_host.release import hosts
from pilot_tui.provision.tf.variables import ci_worker_policy
from tests.unit.test_deployer_policy import allows

BUCKET = "pilot-state-acme"
ACCOUNT = "123456789012"
TOML = """[project]
name = "acme"

[server]
home = "aws"
ci_worker = true

[state]
backend = "s3"

[[apps]]
name = "web"
path = "web"

[[apps]]
name = "fn"
path = "fn"
target = { kind = "lambda", handler = "app.handler" }
"""


def _project(tmp_path, text=TOML):
    (tmp_path / "pilot.toml").write_text(text)
    state = tmp_path / ".pilot"
    for folder, name, data in (
        ("outputs", "server.json", '{"outputs": {"docker_host": "ssh://ubuntu@203.0.113.7"}}'),
        ("secrets", "web.env", "API_TOKEN=tok-never-in-the-image\n"),
        ("secrets/versions/web", "v1.env", "API_TOKEN=old\n"),
        ("secrets", "fn.env", "FN_KEY=a-lambda-apps-own\n"),
        ("secrets/versions/fn", "v1.env", "FN_KEY=old\n"),
        ("secrets/previews", "web.env", "API_TOKEN=preview\n"),
        ("databases", "db.password", "pw-db"),
        ("keys", "aws-deployer.json", '{"secret_access_key": "no"}'),
        ("keys", "id_ed25519", "PRIVATE"),
        ("terraform/aws", "terraform.tfstate", "{}"),
        ("releases", "web.json", "[]"),
        ("logs", "deploy.log", "x"),
    ):
        (state / folder).mkdir(parents=True, exist_ok=True)
        (state / folder / name).write_text(data)
    return tmp_path / "pilot.toml", state


def _config(path) -> PilotConfig:
    checked = check_file(path)
    assert checked.config is not None, checked.report.problems
    return checked.config


def test_the_servers_own_engine_serves_apps_as_from_outside():
    """On the server the engine is its socket, but apps are named and bound as a deploy
    from a laptop does them: APP.<address>.sslip.io on every interface, not .localhost."""
    engine = server_own_engine({"outputs": {"docker_host": "ssh://ubuntu@203.0.113.7"}})
    assert (engine.kind, engine.address, engine.host) == (
        "unix",
        "unix:///var/run/docker.sock",
        "203.0.113.7",
    )
    assert engine.on_server and not engine.local
    app = AppSettings(name="web", path="web", target=ServerTarget())
    names = hosts(PilotConfig(), engine, app)
    assert names == ["web.203.0.113.7.sslip.io"]
    tls = server_own_engine({"outputs": {"docker_host": "tcp://198.51.100.4:2376"}})
    assert tls.host == "198.51.100.4" and not tls.local
    # a record naming a local socket (a machine serving itself): kept on 127.0.0.1
    local = server_own_engine({"outputs": {"docker_host": "unix:///run/docker.sock"}})
    assert local.local and local.host is None
    assert hosts(PilotConfig(), local, app) == ["web.localhost"]


def test_the_socket_mounted_is_the_engines_own_on_its_host(tmp_path):
    assert parse_host("unix:///srv/d.sock", tmp_path).socket_on_host == "/srv/d.sock"
    ssh = parse_host("ssh://ubuntu@203.0.113.7/run/user/1000/docker.sock", tmp_path)
    assert ssh.socket_on_host == "/run/user/1000/docker.sock"
    (tmp_path / "keys" / "tls").mkdir(parents=True)
    (tmp_path / "keys" / "tls" / "cert.pem").write_text("x")
    assert parse_host("tcps://203.0.113.7:2376", tmp_path).socket_on_host == "/var/run/docker.sock"


def test_the_worker_gets_what_a_release_reads_and_never_the_keys(tmp_path, monkeypatch):
    path, state = _project(tmp_path)
    (state / "secrets" / "link.env").symlink_to(state / "keys" / "id_ed25519")
    from pilot_tui.deploy.build.bases import ALL

    for base in ALL:  # (none of this machine's own mirrors)
        monkeypatch.delenv(base.variable, raising=False)
    monkeypatch.setenv("PILOT_PROXY_IMAGE", "mirror.example/caddy:2")
    engine = parse_host("ssh://ubuntu@203.0.113.7", state)
    plan = worker_container.worker_plan(_config(path), path, state, engine)
    # the server's apps' secrets only (never fn's, a Lambda's), and no database here
    # is the Docker host's: no password
    assert sorted(plan.files) == [
        ".pilot/outputs/server.json",
        ".pilot/secrets/previews/web.env",
        ".pilot/secrets/versions/web/v1.env",
        ".pilot/secrets/web.env",
        "pilot.toml",
    ]
    assert plan.expected == {".pilot/secrets/web.env", ".pilot/secrets/previews/web.env"}
    assert plan.socket == "/var/run/docker.sock"
    assert plan.environment == {"PILOT_PROXY_IMAGE": "mirror.example/caddy:2"}
    assert plan.base == "python:3.12-slim" and plan.image.startswith("pilot-ci-worker:")
    assert "tok-never" not in repr(plan)  # the files' values stay out of its repr

    # Its hash: the same for the same files; another secret value, another container.
    same = worker_container.worker_plan(_config(path), path, state, engine)
    assert same.settings_hash == plan.settings_hash
    (state / "secrets" / "web.env").write_text("API_TOKEN=rotated\n")
    rotated = worker_container.worker_plan(_config(path), path, state, engine)
    assert rotated.settings_hash != plan.settings_hash

    # Put into the container 0600 in 0700 folders, under its project folder.
    with tarfile.open(fileobj=io.BytesIO(worker_container.files_archive(plan))) as tar:
        modes = {m.name: (m.mode, m.isdir()) for m in tar.getmembers()}
    assert modes["pilot/project/.pilot/secrets/web.env"] == (0o600, False)
    assert modes["pilot/project/.pilot"] == (0o700, True)
    assert all(mode in (0o600, 0o700) for mode, _ in modes.values())


def test_the_image_holds_pilot_and_its_pins_never_the_app_or_the_project(tmp_path):
    context = worker_container.build_context("python:3.12-slim")
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        names = tar.getnames()
        dockerfile = tar.extractfile("Dockerfile").read().decode()
        pins = tar.extractfile("requirements.txt").read().decode().split()
    assert dockerfile.startswith("FROM python:3.12-slim\n")
    assert (
        'ENTRYPOINT ["python3", "-m", "pilot_tui", "server", "worker", "--on-server"]' in dockerfile
    )
    assert "pip install" in dockerfile and "-r /pilot/requirements.txt" in dockerfile
    assert sorted(p.split("==")[0] for p in pins) == sorted(worker_container.REQUIREMENTS)
    assert all("==" in p for p in pins)  # this machine's versions
    assert "pilot_tui/deploy/server_worker.py" in names
    assert "pilot_tui/cli/main.py" in names
    assert not [n for n in names if ".pilot" in n]
    # the tag follows the content: another base, another image
    assert worker_container.image_tag("a") != worker_container.image_tag("b")


@pytest.mark.parametrize(
    ("home", "backend"), [("sandbox", "s3"), ("gcp", "gcs"), ("aws", "local"), ("host", "s3")]
)
def test_the_worker_on_the_server_needs_aws_and_s3_state(tmp_path, home, backend):
    text = TOML.replace('home = "aws"', f'home = "{home}"').replace(
        'backend = "s3"', f'backend = "{backend}"'
    )
    if home == "gcp":
        text += '\n[gcp]\nproject = "acme-1"\n'
    if home == "host":
        text = text.replace("ci_worker = true", 'ci_worker = true\nhost = "ssh://me@h"')
    (tmp_path / "pilot.toml").write_text(text)
    problems = check_file(tmp_path / "pilot.toml").report.problems
    said = [p.message for p in problems if p.path == ("server", "ci_worker")]
    assert said and 'it needs server.home = "aws" and state.backend = "s3"' in said[0], problems


def test_the_server_role_may_touch_requests_releases_and_leases_and_pull_only():
    policy = worker_container.role_policy("acme", BUCKET, "us-east-1", ACCOUNT)
    objects = f"arn:aws:s3:::{BUCKET}"
    for key in (
        "pilot/deploys/x.request.json",
        "pilot/deploys/workers/w.json",
        "pilot/releases/web.json",
        "pilot/locks/web.json",
    ):
        for action in ("s3:GetObject", "s3:PutObject"):
            assert allows(policy, action, {}, f"{objects}/{key}"), (action, key)
    for key in ("pilot/server.tfstate", "backups/db/x.dump", "pilot/other/x"):
        assert not allows(policy, "s3:GetObject", {}, f"{objects}/{key}"), key
        assert not allows(policy, "s3:PutObject", {}, f"{objects}/{key}"), key
    assert not allows(policy, "s3:GetObject", {}, "arn:aws:s3:::pilot-state-other/pilot/locks/x")
    # Listing (names only): without it S3 answers 403 for a missing key, not 404.
    assert allows(policy, "s3:ListBucket", {}, objects)
    # Removing: a week-old request's records, a removed preview's history and lease; never
    # an app's own history or lease.
    assert allows(policy, "s3:DeleteObject", {}, f"{objects}/pilot/deploys/x.result.json")
    for key in ("pilot/releases/web--pr-7.json", "pilot/locks/web--pr-7.json"):
        assert allows(policy, "s3:DeleteObject", {}, f"{objects}/{key}"), key
    for key in ("pilot/releases/web.json", "pilot/locks/web.json", "pilot/server.tfstate"):
        assert not allows(policy, "s3:DeleteObject", {}, f"{objects}/{key}"), key
    repository = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/pilot-acme-web"
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:PutLifecyclePolicy"):
        assert allows(policy, action, {}, repository)
        other = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/pilot-other-web"
        assert not allows(policy, action, {}, other)
    for action in ("ecr:PutImage", "ecr:CreateRepository", "ecr:DeleteRepository"):
        assert not allows(policy, action, {}, repository)
    assert allows(policy, "ecr:GetAuthorizationToken", {}, "*")


def test_server_up_grants_it_only_when_asked(tmp_path):
    """The template's variable: the policy with ACCOUNT_ID for the template to fill in,
    and none without server.ci_worker."""
    path, _ = _project(tmp_path)
    granted = ci_worker_policy(_config(path))
    assert granted is not None
    document = json.loads(granted)
    assert "ACCOUNT_ID" in granted
    assert document == worker_container.role_policy("acme", BUCKET, "us-east-1", "ACCOUNT_ID")
    path.write_text(TOML.replace("ci_worker = true", "ci_worker = false"))
    assert ci_worker_policy(_config(path)) is None


def test_on_the_server_aws_credentials_are_the_instance_roles(monkeypatch):
    """A pilot.toml's aws.profile names a profile of a person's machine: on the server it
    would fail every call (ProfileNotFound); the worker uses the server's role."""
    from botocore.exceptions import ProfileNotFound

    from pilot_tui.cloud.clients import ON_SERVER_ENV, profile_aws

    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv(ON_SERVER_ENV, raising=False)
    with pytest.raises(ProfileNotFound):
        profile_aws("acme-admin", "us-east-1")
    monkeypatch.setenv(ON_SERVER_ENV, "1")
    session = profile_aws("acme-admin", "us-east-1").session
    assert session.region_name == "us-east-1" and session.profile_name == "default"


def test_a_ca_root_under_dot_pilot_is_never_sent(tmp_path):
    """server.acme_ca_root goes to the worker: one naming a file of .pilot/ (a key with a
    certificate in it) is refused, as one outside the project is."""
    from pilot_tui.deploy.context import DeployError

    path, state = _project(tmp_path)
    (state / "keys" / "bundle.pem").write_text("-----BEGIN CERTIFICATE-----\nx\n")
    text = TOML.replace(
        "ci_worker = true", 'ci_worker = true\nacme_ca_root = ".pilot/keys/bundle.pem"'
    )
    path.write_text(text)
    engine = parse_host("ssh://ubuntu@203.0.113.7", state)
    with pytest.raises(DeployError, match=r"is under \.pilot/"):
        worker_container.worker_plan(_config(path), path, state, engine)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nx\n")
    path.write_text(text.replace(".pilot/keys/bundle.pem", "ca.pem"))
    plan = worker_container.worker_plan(_config(path), path, state, engine)
    assert "ca.pem" in plan.files


class _Running:
    """A running worker's container, as install looks at it (its labels)."""

    def __init__(self, files, version):
        self.labels = {
            worker_install.FILES_LABEL: json.dumps(files),
            worker_install.VERSION_LABEL: version,
        }


def test_a_machine_with_less_leaves_the_worker_as_it_is(tmp_path):
    """A teammate's deploy: without a secret file the worker was given (its CI releases
    would then fail), or with an older Pilot, the worker is not replaced; a file no
    longer wanted (its app removed) is no reason."""
    path, state = _project(tmp_path)
    engine = parse_host("ssh://ubuntu@203.0.113.7", state)
    plan = worker_container.worker_plan(_config(path), path, state, engine)
    had = sorted(plan.files)
    worker_install._refuse_less(_Running(had, plan.version), plan)  # the same: fine
    gone = [*had, ".pilot/secrets/api.env"]  # an app since removed from pilot.toml
    worker_install._refuse_less(_Running(gone, plan.version), plan)
    (state / "secrets" / "web.env").unlink()
    less = worker_container.worker_plan(_config(path), path, state, engine)
    with pytest.raises(worker_container.WorkerUnavailable, match=r"no \.pilot/secrets/web\.env"):
        worker_install._refuse_less(_Running(had, plan.version), less)
    with pytest.raises(worker_container.WorkerUnavailable, match="newer than this machine's"):
        worker_install._refuse_less(_Running(sorted(less.files), "99.0.0"), less)


def test_the_image_leaves_out_the_app_and_templates_of_an_installed_package(tmp_path, monkeypatch):
    """Installed from a wheel, the package holds screens/ and terraform/ too (a checkout
    keeps them beside it): the worker's image takes neither."""
    package = tmp_path / "pilot_tui"
    for module in ("__init__.py", "cli/main.py", "screens/app.py", "terraform/__init__.py"):
        (package / module).parent.mkdir(parents=True, exist_ok=True)
        (package / module).write_text("# x\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.py").write_text("")
    monkeypatch.setattr(worker_container, "PACKAGE", package)
    assert [m.as_posix() for m in worker_container.modules()] == ["__init__.py", "cli/main.py"]


def test_a_machine_without_the_webhooks_variable_leaves_the_worker_its_own(tmp_path, monkeypatch):
    """Found on a last read: a teammate's deploy without the notification webhook's
    variable set would have remade the worker without it (its CI releases then notify
    no one); the variable counts as something the worker has, by name."""
    path, state = _project(tmp_path)
    path.write_text(TOML.replace("[state]", '[notify]\nwebhook_env = "SLACK_URL"\n\n[state]'))
    engine = parse_host("ssh://ubuntu@203.0.113.7", state)
    monkeypatch.setenv("SLACK_URL", "https://hooks.example/T0/secret")
    plan = worker_container.worker_plan(_config(path), path, state, engine)
    assert plan.secret_environment == {"SLACK_URL": "https://hooks.example/T0/secret"}
    had = [*plan.files, *plan.secret_environment]
    monkeypatch.delenv("SLACK_URL")
    less = worker_container.worker_plan(_config(path), path, state, engine)
    with pytest.raises(worker_container.WorkerUnavailable, match="this machine has no SLACK_URL"):
        worker_install._refuse_less(_Running(had, plan.version), less)
