"""AWS Lambda against the local AWS API (moto) with moto's Docker-backed invoke on the private
Docker engine: the function really runs, its output reaches CloudWatch Logs, versions and the
`live` alias move with each release and rollback, and destroy leaves nothing behind.

The Lambda runtime image is a stand-in (tests/fixtures/lambda/runtime: the public ones cannot
be pulled here); moto, the engine and the function's code are real."""

from __future__ import annotations

import json
import os
import shutil
from unittest import mock

import pytest

from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.deploy.targets.lambda_.function import ALIAS, LambdaFunction, code_sha256, zip_folder
from pilot_tui.deploy.targets.managed import TargetError
from tests.support.deploy_fixtures import LAMBDA_FIXTURES as FIXTURES


@pytest.fixture(scope="module")
def lambda_cloud(lambda_runtime, tmp_path_factory):
    """moto with Docker-backed invoke on the private engine; yields the emulator's URL."""
    sandbox = Sandbox(tmp_path_factory.mktemp("lambda-emulators"))
    with mock.patch.dict(os.environ, lambda_runtime):
        running, _ = sandbox.ensure()
    yield running["aws"].url
    sandbox.stop()


class Settings:
    memory, timeout, handler, runtime, port = 128, 10, "app.handler", "python3.12", 8080
    health_path = "/health"


def function(url: str, app: str = "hello") -> LambdaFunction:
    session = emulator_aws("eu-west-1").session
    return LambdaFunction(
        session.client("lambda", endpoint_url=url),
        session.client("iam", endpoint_url=url),
        session.client("logs", endpoint_url=url),
        "acme",
        app,
        Settings(),
    )


def invoke(fn: LambdaFunction, path: str = "/hi") -> dict:
    answer = fn.lam.invoke(
        FunctionName=fn.name, Qualifier=ALIAS, Payload=json.dumps({"rawPath": path}).encode()
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def test_zip_is_deterministic(tmp_path):
    shutil.copytree(FIXTURES / "hello_fn", tmp_path / "fn")
    (tmp_path / "fn" / ".env").write_text("SECRET=1")  # hidden: never packaged
    first = zip_folder(tmp_path / "fn")
    os.utime(tmp_path / "fn" / "app.py", (0, 0))
    assert zip_folder(tmp_path / "fn") == first
    import io
    import zipfile

    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["app.py"]


def test_deploy_invoke_rollback_logs_destroy(lambda_cloud):
    fn = function(lambda_cloud)
    said: list[str] = []
    code = {"ZipFile": zip_folder(FIXTURES / "hello_fn")}

    first = fn.deploy_code(code, {"GREETING": "hi"}, "v1", said.append)
    assert first.ref == "1" and first.url.startswith("https://")
    assert any("created function pilot-acme-hello" in line for line in said)
    # Anyone may call it through its URL: since October 2025 a new URL needs both grants.
    policy = json.loads(fn.lam.get_policy(FunctionName=fn.name, Qualifier=ALIAS)["Policy"])
    granted = {s["Sid"]: s for s in policy["Statement"]}
    assert sorted(granted) == ["pilot-public-url", "pilot-public-url-invoke"]
    assert granted["pilot-public-url"]["Action"] == "lambda:InvokeFunctionUrl"
    invoke_grant = granted["pilot-public-url-invoke"]
    assert invoke_grant["Action"] == "lambda:InvokeFunction"
    assert invoke_grant["InvokedViaFunctionUrl"] is True  # by way of the URL only
    assert {s["Principal"] for s in granted.values()} == {"*"}
    body = invoke(fn)
    assert body["statusCode"] == 200
    assert json.loads(body["body"]) == {"greeting": "hi", "path": "/hi"}
    assert fn.unchanged(code, {"GREETING": "hi"}) == "1"
    assert fn.unchanged(code, {"GREETING": "hey"}) is None

    second = fn.deploy_code(code, {"GREETING": "hey"}, "v2", said.append)
    assert second.ref == "2" and second.url == first.url
    assert json.loads(invoke(fn)["body"])["greeting"] == "hey"
    assert fn.lam.get_alias(FunctionName=fn.name, Name=ALIAS)["FunctionVersion"] == "2"

    back = fn.activate("1", said.append)
    assert back.ref == "1"
    assert json.loads(invoke(fn)["body"])["greeting"] == "hi"
    with pytest.raises(TargetError, match="no version 9"):
        fn.activate("9", said.append)

    status = fn.status()
    assert status.health == "healthy" and status.url == first.url
    assert "version 1" in status.detail
    lines = [line.text for line in fn.logs()]  # written by moto from the real run's output
    assert any("hello_fn saw /hi" in text for text in lines), lines

    assert fn.destroy(said.append) == [
        f"deleted function {fn.name}",
        f"deleted log group {fn.log_group}",
    ]
    assert fn.lam.list_functions()["Functions"] == []
    assert fn.logs_client.describe_log_groups(logGroupNamePrefix=fn.log_group)["logGroups"] == []
    assert fn.destroy(said.append) == []  # nothing left: a second destroy does nothing
    assert fn.status().health == "not deployed"


def test_status_asks_the_health_path_not_only_lambdas_state(lambda_cloud, tmp_path):
    """Found reviewing: `status` said "healthy" of any function Lambda calls Active, one
    that answers 500 to every request too. It now asks the health path through the alias,
    as the Docker host's status asks its container."""
    fn = function(lambda_cloud, "sick")
    said: list[str] = []
    (tmp_path / "app.py").write_text(
        "def handler(event, context):\n"
        "    ok = event.get('rawPath') != '/health'\n"
        "    return {'statusCode': 200 if ok else 500, 'body': 'down'}\n"
    )
    fn.deploy_code({"ZipFile": zip_folder(tmp_path)}, {}, "v1", said.append)
    try:
        status = fn.status()
        assert status.health == "unhealthy (/health: 500)", status
        assert not status.ok
        healthy = fn.deploy_code(
            {"ZipFile": zip_folder(FIXTURES / "hello_fn")}, {}, "v2", said.append
        )
        assert healthy.ref == "2"
        assert fn.status().health == "healthy"
    finally:
        fn.destroy(said.append)


def test_package_change_is_refused(lambda_cloud):
    fn = function(lambda_cloud, "switch")
    fn.deploy_code({"ZipFile": zip_folder(FIXTURES / "hello_fn")}, {}, "v1", lambda _: None)
    with pytest.raises(TargetError, match="destroy the app first"):
        fn.deploy_code(
            {"ImageUri": "127.0.0.1:5000/x@sha256:" + "0" * 64}, {}, "v2", lambda _: None
        )
    fn.destroy(lambda _: None)


def test_code_sha256_matches_lambda(lambda_cloud):
    fn = function(lambda_cloud, "sha")
    data = zip_folder(FIXTURES / "hello_fn")
    fn.deploy_code({"ZipFile": data}, {}, "v1", lambda _: None)
    assert fn.live_version()["CodeSha256"] == code_sha256(data)
    fn.destroy(lambda _: None)


def test_a_deploy_landing_between_update_and_publish_is_caught(lambda_cloud, monkeypatch):
    """The app and its previews share the function's unpublished code and settings: another
    deploy's update landing between this one's update and its publish would publish theirs
    as this release. It is refused and the alias stays where it was."""
    fn = function(lambda_cloud, "raced")
    code = {"ZipFile": zip_folder(FIXTURES / "hello_fn")}
    fn.deploy_code(code, {"GREETING": "hi"}, "v1", lambda _: None)
    publish = fn.lam.publish_version

    def another_deploy_first(**kwargs):
        fn.lam.update_function_configuration(
            FunctionName=fn.name, Environment={"Variables": {"GREETING": "theirs"}}
        )
        return publish(**kwargs)

    monkeypatch.setattr(fn.lam, "publish_version", another_deploy_first)
    with pytest.raises(TargetError, match="changed by another deploy during this one"):
        fn.deploy_code(code, {"GREETING": "mine"}, "v2", lambda _: None)
    assert fn.lam.get_alias(FunctionName=fn.name, Name=ALIAS)["FunctionVersion"] == "1"
    fn.destroy(lambda _: None)


def test_an_old_alias_previews_removal_keeps_a_version_the_apps_releases_name(lambda_cloud):
    """Review: Lambda hands back the last version for an unchanged publish, so a version
    published for an earlier Pilot's alias preview can be the one an app's release names
    (moto publishes anew, so the hand-back is stood in for by naming it in ``kept``)."""
    from pilot_tui.deploy.targets.lambda_ import legacy_previews
    from tests.support.deploy_fixtures import legacy_alias_preview

    fn = function(lambda_cloud, "kept")
    code = {"ZipFile": zip_folder(FIXTURES / "hello_fn")}
    fn.deploy_code(code, {"GREETING": "hi"}, "v1", lambda _: None)
    made = legacy_alias_preview(fn.lam, fn.name, "kept", "x", 2_000_000_000.0)
    assert made == "2"
    assert [p.full for p in legacy_previews.found(fn)] == ["kept--x"]
    said: list[str] = []
    legacy_previews.remove(fn, "x", said.append, kept=frozenset({"2"}))
    versions = [
        v["Version"] for v in fn.lam.list_versions_by_function(FunctionName=fn.name)["Versions"]
    ]
    assert "2" in versions and "preview--x" not in {
        a["Name"] for a in fn.lam.list_aliases(FunctionName=fn.name)["Aliases"]
    }
    assert said == [f"deleted alias preview--x of {fn.name} and its function URL"]
    assert legacy_previews.found(fn) == []
    fn.destroy(lambda _: None)


def test_an_image_version_publishing_another_deploys_image_is_caught(lambda_cloud, monkeypatch):
    """Review: two previews of an app have the same env, so only the image a version runs
    tells one's publish from the other's."""
    fn = function(lambda_cloud, "imaged")
    mine = "127.0.0.1:5000/imaged@sha256:" + "1" * 64
    theirs = "127.0.0.1:5000/imaged@sha256:" + "2" * 64
    fn.deploy_code({"ImageUri": mine}, {"GREETING": "pv"}, "v1", lambda _: None)
    publish = fn.lam.publish_version

    def another_deploy_first(**kwargs):
        fn.lam.update_function_code(FunctionName=fn.name, ImageUri=theirs)
        return publish(**kwargs)

    monkeypatch.setattr(fn.lam, "publish_version", another_deploy_first)
    with pytest.raises(TargetError, match="changed by another deploy during this one"):
        fn.deploy_code({"ImageUri": mine}, {"GREETING": "pv"}, "v2", lambda _: None)
    assert fn.lam.get_alias(FunctionName=fn.name, Name=ALIAS)["FunctionVersion"] == "1"
    fn.destroy(lambda _: None)


def test_a_neighbour_projects_function_is_never_changed(lambda_cloud):
    """Review: project "acme-x"'s names can be project "acme"'s (pilot-acme-x-web is also
    app "x-web" of acme): a function tagged as another project's, or as another app's
    preview, is refused before anything of it changes."""
    from pilot_tui.deploy.previews import Preview

    fn = function(lambda_cloud, "x-web")
    code = {"ZipFile": zip_folder(FIXTURES / "hello_fn")}
    role = fn.ensure_role(lambda _: None)

    def made_by_others(name: str, tags: dict[str, str]) -> None:
        fn.lam.create_function(
            FunctionName=name,
            Role=role,
            Code=code,
            Handler="app.handler",
            Runtime="python3.12",
            Tags=tags,
        )

    made_by_others(fn.name, {"pilot:project": "acme-x"})
    with pytest.raises(TargetError, match="is project 'acme-x''s"):
        fn.deploy_code(code, {"GREETING": "mine"}, "v1", lambda _: None)
    assert fn.lam.get_function(FunctionName=fn.name)["Configuration"].get("Environment") in (
        None,
        {"Variables": {}},
    )
    with pytest.raises(TargetError, match="is project 'acme-x''s"):
        fn.destroy(lambda _: None)
    fn.lam.delete_function(FunctionName=fn.name)

    pv = function(lambda_cloud, "web--pr-1")
    pv.preview = Preview("web", "pr-1", 2_000_000_000.0)
    made_by_others(pv.name, {"pilot:project": "acme", "pilot.preview-of": "api"})
    with pytest.raises(TargetError, match="is a preview of 'api', not of 'web'"):
        pv.deploy_code(code, {}, "v1", lambda _: None)
    pv.lam.delete_function(FunctionName=pv.name)
