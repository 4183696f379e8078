"""`pilot-tui ci github` against the sandbox's local AWS API (moto): the OIDC provider and
the role are made, tagged, with the trust policy and the deployer's own policy; the
workflow is written (and a different one is not overwritten); a run's token is exchanged
for the role's short-lived credentials; `ci remove` and the deployer's removal take them
away.

Stand-ins, said plainly: GitHub's token service is a local HTTP server handing out a JWT
signed by a local key (HS256), and moto's AssumeRoleWithWebIdentity does not check the
token's signature or the trust conditions (a token for another repository is accepted
there: tests/unit/test_github_oidc.py proves the conditions instead)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from pilot_tui.cloud import github_oidc, oidc_exchange
from pilot_tui.cloud.clients import emulator_aws
from pilot_tui.cloud.policy_aws import aws_policy
from pilot_tui.cloud.sandbox import Sandbox

KEY = b"local-stand-in-for-githubs-signing-key"
REQUEST_TOKEN = "ghs-request-token-for-the-test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, str]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


@pytest.fixture
def github_tokens():
    """GitHub's token service, standing in: a token for the asked audience, to a caller
    with the run's request token; every request it got."""
    asked: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            asked.append({"auth": self.headers.get("Authorization"), "query": query})
            if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                self.send_response(403)
                self.end_headers()
                return
            token = jwt(
                {
                    "iss": "https://token.actions.githubusercontent.com",
                    "aud": query["audience"][0],
                    "sub": "repo:acme/shop:ref:refs/heads/main",
                }
            )
            body = json.dumps({"value": token}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token?api-version=2.0", asked
    server.shutdown()
    server.server_close()


def test_ci_github_makes_the_trust_writes_the_workflow_and_removes_them(
    tmp_path, cli, github_tokens
):
    assert cli("init", "--name", "acme").code == 0
    try:
        made = cli("ci", "github", "--repo", "acme/shop")
        assert made.code == 0, made.err
        arn = made.out.strip()
        assert arn.endswith(":role/pilot-acme-github")
        # what it says is what the trust admits: the branch, never the pull requests
        assert "only runs on acme/shop's main may assume it (not its pull requests" in made.err
        url = Sandbox(tmp_path / ".pilot").running()["aws"].url
        aws = emulator_aws("us-east-1", url)
        iam = aws.client("iam")
        account = aws.client("sts").get_caller_identity()["Account"]
        role = iam.get_role(RoleName="pilot-acme-github")["Role"]
        assert role["AssumeRolePolicyDocument"] == github_oidc.trust_policy(
            account, "acme/shop", "main"
        )
        assert {"Key": "pilot:project", "Value": "acme"} in role["Tags"]
        policy = iam.get_role_policy(RoleName="pilot-acme-github", PolicyName="pilot-deploy")
        assert policy["PolicyDocument"] == aws_policy("acme", account, "us-east-1")
        provider = iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=github_oidc.provider_arn(account)
        )
        assert provider["ClientIDList"] == ["sts.amazonaws.com"]
        workflow = tmp_path / ".github" / "workflows" / "pilot.yml"
        assert f"PILOT_AWS_ROLE_ARN: {arn}" in workflow.read_text()

        again = cli("ci", "github", "--repo", "acme/shop")  # idempotent
        assert again.code == 0 and again.out.strip() == arn
        workflow.write_text(workflow.read_text() + "# my own step\n")
        kept = cli("ci", "github", "--repo", "acme/shop", "--branch", "release")
        assert kept.code != 0 and "--force" in kept.err
        assert workflow.read_text().endswith("# my own step\n")  # nothing lost
        role = iam.get_role(RoleName="pilot-acme-github")["Role"]  # nor the trust changed
        assert role["AssumeRolePolicyDocument"] == github_oidc.trust_policy(
            account, "acme/shop", "main"
        )
        bad = cli("ci", "github", "--repo", "not a repo")
        assert bad.code == 2 and "OWNER/NAME" in bad.err

        # In the run: the token exchanged for the role's credentials; no key anywhere.
        token_url, asked = github_tokens
        env = {
            "ACTIONS_ID_TOKEN_REQUEST_URL": token_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
            "PILOT_AWS_ROLE_ARN": arn,
            "GITHUB_RUN_ID": "77",
        }
        assert oidc_exchange.in_github_actions(env)
        session = oidc_exchange.assumed_session("us-east-1", env, endpoint=url)
        assert asked[-1]["query"]["audience"] == ["sts.amazonaws.com"]
        assert asked[-1]["query"]["api-version"] == ["2.0"]
        identity = session.client("sts", endpoint_url=url).get_caller_identity()
        assert ":assumed-role/pilot-acme-github/pilot-github-77" in identity["Arn"]
        refused = {**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}
        with pytest.raises(Exception, match="id-token: write"):
            oidc_exchange.assumed_session("us-east-1", refused, endpoint=url)

        # another project of the account trusts the provider too: it stays for them
        other = github_oidc.trust_policy(account, "acme/blog", "main")
        iam.create_role(RoleName="pilot-blog-github", AssumeRolePolicyDocument=json.dumps(other))
        shared = cli("ci", "remove")
        assert shared.code == 0 and "OIDC provider" not in shared.err
        assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
        iam.delete_role(RoleName="pilot-blog-github")
        assert cli("ci", "github", "--repo", "acme/shop", "--force").code == 0

        removed = cli("ci", "remove")
        assert removed.code == 0, removed.err
        assert "IAM role pilot-acme-github" in removed.err
        assert "OIDC provider token.actions.githubusercontent.com" in removed.err
        assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="pilot-acme-github")
    finally:
        Sandbox(tmp_path / ".pilot").stop()
