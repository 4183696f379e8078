"""Registry login and push from the Pilot Server's engine (the private dockerd) to a real
Docker registry on 127.0.0.1 with a password login. The repository and the login token come
from ECR's API (moto); moto has no registry behind it, so PILOT_REGISTRY points the push at
the local one, whose login is the ECR token's user and password."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest

from pilot_tui import redact
from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.deploy.registry import (
    Registry,
    RegistryError,
    delete_ecr_repository,
    ecr_registry,
    push,
)


@pytest.fixture(scope="module")
def ecr(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("registry-emulators"))
    running, _ = sandbox.ensure()
    yield emulator_aws("eu-west-1").session.client("ecr", endpoint_url=running["aws"].url)
    sandbox.stop()


def tags(host: str, repository: str, user: str, password: str) -> list[str]:
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/tags/list",
        headers={
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        },
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return list(json.load(answer)["tags"])


def ecr_login(ecr) -> tuple[str, str]:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    return user, password


def test_ecr_login_and_push(ecr, registry, docker_client, monkeypatch):
    user, password = ecr_login(ecr)
    host = registry({user: password})
    monkeypatch.setenv("PILOT_REGISTRY", host)
    found = ecr_registry(ecr, "pilot-acme-api", "acme")
    assert (found.host, found.repository, found.username) == (host, "pilot-acme-api", user)
    assert password not in repr(found) and redact.text(password) != password
    described = ecr.describe_repositories(repositoryNames=["pilot-acme-api"])["repositories"]
    assert described[0]["imageScanningConfiguration"] == {"scanOnPush": True}
    assert ecr_registry(ecr, "pilot-acme-api", "acme").host == host  # exists: reused

    image = docker_client.images.get("pilot/busybox:latest")
    said: list[str] = []
    reference = push(docker_client, image.id, found, "v1-abc123", said.append)
    assert reference.startswith(f"{host}/pilot-acme-api@sha256:")
    assert tags(host, "pilot-acme-api", user, password) == ["v1-abc123"]
    assert any("pushed" in line for line in said)
    assert not any(t.startswith(host) for t in docker_client.images.get(image.id).tags)
    # The same image again: the registry has its layers already.
    said.clear()
    assert push(docker_client, image.id, found, "v2-abc123", said.append) == reference
    assert any("already exists" in line for line in said)
    assert delete_ecr_repository(ecr, "pilot-acme-api") is True
    assert delete_ecr_repository(ecr, "pilot-acme-api") is False


def test_wrong_password_is_refused_without_showing_it(registry, docker_client):
    host = registry({"AWS": "right-password-123"})
    wrong = Registry(host, "pilot-acme-api", "AWS", "wrong-password-456")
    image = docker_client.images.get("pilot/busybox:latest")
    with pytest.raises(RegistryError) as caught:
        push(docker_client, image.id, wrong, "v1", lambda _: None)
    assert host in str(caught.value)
    assert "wrong-password-456" not in str(caught.value)
    assert not any(t.startswith(host) for t in docker_client.images.get(image.id).tags)


def _access_denied(operation: str):
    """What AWS answers a call IAM refuses (moto enforces no IAM: this stands in for it)."""
    from botocore.exceptions import ClientError

    def refuse(**_: object):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)

    return refuse


def test_a_previews_repository_lets_lambda_pull_and_is_mended_when_it_does_not(ecr, monkeypatch):
    """Made with the statement Lambda itself adds to let it pull; one found without it (a
    run killed between the two, made by hand) gets it back beside what its policy has.
    Credentials that may not make it, look at it or set that policy (a deployer made
    before, a pull request's role) get a RegistryError saying what to do, and no
    repository is left without the statement."""
    from pilot_tui.deploy.registry import LAMBDA_PULLS, ensure_ecr_repository

    repository = "pilot-acme-img/previews"

    def statements() -> list[dict]:
        text = ecr.get_repository_policy(repositoryName=repository)["policyText"]
        return json.loads(text)["Statement"]

    assert ensure_ecr_repository(ecr, repository, "acme", lambda_pulls=True) is True
    assert statements() == [LAMBDA_PULLS]
    assert ensure_ecr_repository(ecr, repository, "acme", lambda_pulls=True) is False
    assert delete_ecr_repository(ecr, repository)

    ecr.create_repository(repositoryName=repository)  # without it
    teams = {"Sid": "TeamReads", "Effect": "Allow", "Principal": "*", "Action": "ecr:ListImages"}
    ecr.set_repository_policy(
        repositoryName=repository,
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [teams]}),
    )
    assert ensure_ecr_repository(ecr, repository, "acme", lambda_pulls=True) is False
    assert statements() == [teams, LAMBDA_PULLS]  # mended, the team's statement kept
    with monkeypatch.context() as m:  # one without it, and credentials that may not set it
        ecr.delete_repository_policy(repositoryName=repository)
        m.setattr(ecr, "set_repository_policy", _access_denied("SetRepositoryPolicy"))
        with pytest.raises(RegistryError, match="may not set it") as refused:
            ensure_ecr_repository(ecr, repository, "acme", lambda_pulls=True)
    assert "ci github" in str(refused.value)
    assert delete_ecr_repository(ecr, repository)  # an existing one is never deleted

    with monkeypatch.context() as m:
        m.setattr(ecr, "set_repository_policy", _access_denied("SetRepositoryPolicy"))
        with pytest.raises(RegistryError) as refused:
            ensure_ecr_repository(ecr, repository, "acme", lambda_pulls=True)
    assert "may not set it" in str(refused.value) and "deployer create" in str(refused.value)
    assert delete_ecr_repository(ecr, repository) is False  # not left without its policy

    with monkeypatch.context() as m:
        m.setattr(ecr, "create_repository", _access_denied("CreateRepository"))
        with pytest.raises(RegistryError) as refused:
            ensure_ecr_repository(ecr, repository, "acme", not_made_hint="ask the admin")
    assert f"ECR repository {repository} does not exist" in str(refused.value)
    assert refused.value.hint == "ask the admin"
    with monkeypatch.context() as m:  # a role granted no ECR at all
        m.setattr(ecr, "describe_repositories", _access_denied("DescribeRepositories"))
        with pytest.raises(RegistryError, match="may not use ECR repository") as refused:
            ensure_ecr_repository(ecr, repository, "acme", not_made_hint="ask the admin")
    assert refused.value.hint == "ask the admin"
