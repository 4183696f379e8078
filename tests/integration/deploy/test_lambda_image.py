"""An image Lambda through the whole engine: the app's image built on the project's Docker
host (the private engine), the Lambda Web Adapter added, pushed with ECR's login to a real
registry on 127.0.0.1, and the function created from the pushed digest (moto).

Stand-ins, said so: the adapter image is a local one with a placeholder /lambda-adapter (the
real one cannot be pulled here), and moto cannot invoke image functions, so the test checks
what Lambda was given rather than calling it."""

from __future__ import annotations

import json
import shutil

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy.targets.lambda_.image import wrapper_dockerfile
from tests.support.deploy_fixtures import HELLO, image_lambda_stand_ins


@pytest.fixture
def image_app(engine_project, registry, docker_client, tmp_path, monkeypatch):
    root, _, add = engine_project
    sandbox = Sandbox(tmp_path / "moto-state")
    running, _ = sandbox.ensure()
    url = running["aws"].url
    for name, value in (
        ("AWS_ENDPOINT_URL", url),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("API_TOKEN", "unused"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3

    host = image_lambda_stand_ins(docker_client, registry, tmp_path / "adapter", monkeypatch)
    shutil.copytree(HELLO, root / "hello")
    add(
        {
            "name": "hello",
            "path": "hello",
            "build": {"kind": "dockerfile"},
            # not watched: each release would wait 60 s (test_lambda_watch.py watches)
            "target": {
                "kind": "lambda",
                "package": "image",
                "port": 9000,
                "watch": 0,
                "health_path": "/index.html",
            },
        }
    )
    yield root, host, boto3.client("lambda", region_name="us-east-1")
    sandbox.stop()


def test_image_lambda_deploy_and_rollback(image_app, cli, docker_client):
    root, host, lam = image_app
    first = cli("deploy", "hello")
    assert first.code == 0, first.err
    assert "push done" in first.err and "published version 1" in first.err
    releases = json.loads(cli("releases", "hello", "--json").out)
    image = releases[-1]["image"]
    assert image.startswith(f"{host}/pilot-") and "-hello@sha256:" in image
    name = next(f["FunctionName"] for f in lam.list_functions()["Functions"])
    function = lam.get_function(FunctionName=name, Qualifier="live")
    assert function["Configuration"]["PackageType"] == "Image"
    assert function["Code"]["ImageUri"] == image
    # The pushed image is the app's plus the adapter, listening on the target's port.
    wrapped = [i for i in docker_client.images.list() if any(t.endswith("-lambda") for t in i.tags)]
    assert wrapped, "the adapter image was not built"
    config = wrapped[0].attrs["Config"]
    assert "PORT=9000" in config["Env"] and "AWS_LWA_PORT=9000" in config["Env"]
    # Regression (issue 15): the adapter waits for the app's health path, not "/".
    assert "AWS_LWA_READINESS_CHECK_PATH=/index.html" in config["Env"]

    again = cli("deploy", "hello")
    assert again.code == 0 and "nothing changed: v1 is live" in again.err

    (root / "hello" / "www" / "index.html").write_text("changed\n")
    second = cli("deploy", "hello")
    assert second.code == 0, second.err
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    back = cli("rollback", "hello")
    assert back.code == 0, back.err
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"

    # A new health path alone wraps the same app image again: the old wrapper asks "/index.html".
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps[0].target.health_path", "/"))
    third = cli("deploy", "hello")
    assert third.code == 0, third.err
    asked = {
        e
        for i in docker_client.images.list()
        if any(t.endswith("-lambda") for t in i.tags)
        for e in i.attrs["Config"]["Env"]
        if e.startswith("AWS_LWA_READINESS_CHECK_PATH=")
    }
    assert asked == {"AWS_LWA_READINESS_CHECK_PATH=/index.html", "AWS_LWA_READINESS_CHECK_PATH=/"}
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "3"

    gone = cli("app", "destroy", "hello", "--yes")
    assert gone.code == 0, gone.err
    assert lam.list_functions()["Functions"] == []
    import boto3

    assert (
        boto3.client("ecr", region_name="us-east-1").describe_repositories()["repositories"] == []
    )


def test_wrapper_dockerfile_as_text():
    text = wrapper_dockerfile("pilot-acme-api:abc", "adapter:1", 8080, "/health")
    assert text.splitlines() == [
        "FROM adapter:1 AS adapter",
        "FROM pilot-acme-api:abc",
        "COPY --from=adapter /lambda-adapter /opt/extensions/lambda-adapter",
        "ENV PORT=8080 AWS_LWA_PORT=8080 AWS_LWA_READINESS_CHECK_PATH=/health",
    ]


def test_a_pilot_server_on_gcp_deploys_to_lambda(image_app, cli):
    """The Pilot Server is on Google Cloud (its recorded Docker host: the private engine,
    standing in for the GCP machine); the app goes to AWS Lambda. The ECR login is fetched
    here with the AWS credentials and handed to the GCP server's engine for the push."""
    import json as _json

    root, host, lam = image_app
    pf = ProjectFile.load(root / "pilot.toml")
    engine_url = pf.check().config.server.host
    text = ProjectFile(pf.path, pf.text).with_value("server.home", "gcp")
    text = ProjectFile(pf.path, text).with_value("gcp.project", "acme-prod")
    pf.save(text)
    outputs = root / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    (outputs / "server.json").write_text(
        _json.dumps({"home": "gcp", "outputs": {"docker_host": engine_url}})
    )
    deployed = cli("deploy", "hello")
    assert deployed.code == 0, deployed.err
    name = next(f["FunctionName"] for f in lam.list_functions()["Functions"])
    image = lam.get_function(FunctionName=name, Qualifier="live")["Code"]["ImageUri"]
    assert image.startswith(f"{host}/") and "@sha256:" in image


def test_a_health_path_reaches_the_adapter_as_written(docker_client, tmp_path):
    """Quotes, a backslash or $ in target.health_path are the path's, not Dockerfile
    syntax: the wrapper's ENV line, built by the real engine, gives the adapter them as
    written (unquoted, `$HOME` would be expanded and a quote would break the build)."""
    import io

    path = '/h?x=$HOME&q="a\'b"\\z'
    env_line = wrapper_dockerfile("unused", "unused", 8080, path).splitlines()[-1]
    dockerfile = f"FROM pilot/busybox:latest\n{env_line}\n".encode()
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), rm=True)
    try:
        assert f"AWS_LWA_READINESS_CHECK_PATH={path}" in image.attrs["Config"]["Env"]
    finally:
        docker_client.images.remove(image.id, force=True)


def test_an_image_lambda_previews_image_has_tags_of_its_own(image_app, cli):
    """Pushed to the app's previews' own repository (naming.preview_repository, made with
    the statement Lambda adds to let it pull) under the preview's own tag
    (previews.image_tag), never to the app's repository; its removal asks ECR to delete
    those tags (tests/integration/deploy/test_preview_images.py: what ECR then keeps)."""
    import base64
    import urllib.request

    import boto3

    _, host, _ = image_app
    assert cli("deploy", "hello").code == 0
    preview = cli("deploy", "hello", "--preview", "pr-1")
    assert preview.code == 0, preview.err
    owner = json.loads(cli("releases", "hello", "--json").out)[-1]["image"]
    repository = owner.removeprefix(f"{host}/").partition("@")[0]
    assert repository.endswith("-hello")  # pilot-PROJECT-hello, the app's own
    ecr = boto3.client("ecr", region_name="us-east-1")
    login = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]

    def tags_of(name: str) -> list[str]:
        request = urllib.request.Request(
            f"http://{host}/v2/{name}/tags/list", headers={"Authorization": f"Basic {login}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return sorted(json.loads(answer.read())["tags"])

    [app_tag] = tags_of(repository)  # the app's alone
    assert tags_of(f"{repository}/previews") == [f"preview_pr-1_{app_tag}"]  # same source
    image = json.loads(cli("releases", "hello--pr-1", "--json").out)[-1]["image"]
    assert image.startswith(f"{host}/{repository}/previews@sha256:")
    policy = json.loads(
        ecr.get_repository_policy(repositoryName=f"{repository}/previews")["policyText"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["LambdaECRImageRetrievalPolicy"]
    gone = cli("preview", "destroy", "hello", "pr-1", "--yes")
    assert gone.code == 0, gone.err
    assert "warning" not in gone.err
    # the app's removal takes both repositories
    destroyed = cli("app", "destroy", "hello", "--yes")
    assert destroyed.code == 0, destroyed.err
    assert f"deleted ECR repositories {repository} and {repository}/previews" in destroyed.err
    assert ecr.describe_repositories()["repositories"] == []
    assert base64.b64decode(login)  # (the login is moto's, never shown)
    assert login not in preview.out + preview.err + gone.out + gone.err
