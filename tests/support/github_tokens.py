"""GitHub Actions' OIDC token service, standing in (nothing of GitHub's runs here): a local
HTTP server on 127.0.0.1 handing a JWT signed by a local key (HS256) to a caller with the
run's request token, as GitHub's does to a job with `id-token: write`. moto's
AssumeRoleWithWebIdentity checks neither the signature nor the trust's conditions
(tests/unit/test_github_oidc.py proves the conditions as data)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.local_http import QuietHandler, serving

KEY = b"local-stand-in-for-githubs-signing-key"
REQUEST_TOKEN = "ghs-request-token-for-the-test"
ISSUER = "https://token.actions.githubusercontent.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, str]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


@dataclass
class TokenService:
    url: str  # ACTIONS_ID_TOKEN_REQUEST_URL
    asked: list[dict] = field(default_factory=list)  # every request it got
    sub: str = "repo:acme/shop:ref:refs/heads/main"  # the run's subject
    # The run's ref and event when its subject does not say them (a job with an
    # environment: its subject names the environment, not the branch it runs on).
    ref: str | None = None
    event: str | None = None

    def env(self, role_arn: str) -> dict[str, str]:
        """The variables a GitHub Actions job of the workflow has."""
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
            "PILOT_AWS_ROLE_ARN": role_arn,
            "GITHUB_ACTIONS": "true",
            "GITHUB_RUN_ID": "77",
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_WORKFLOW": "pilot",
            "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        }

    def gcp_env(self, provider: str, email: str) -> dict[str, str]:
        """The variables a job of a workflow acting on Google Cloud has."""
        env = self.env("")
        del env["PILOT_AWS_ROLE_ARN"]
        return {
            **env,
            "PILOT_GCP_WORKLOAD_PROVIDER": provider,
            "PILOT_GCP_SERVICE_ACCOUNT": email,
        }


@pytest.fixture
def github_tokens() -> Iterator[TokenService]:
    """GitHub's token service, standing in, on 127.0.0.1; stopped afterwards."""
    service = TokenService("")

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            service.asked.append({"auth": self.headers.get("Authorization"), "query": query})
            if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                self.send_response(403)
                self.end_headers()
                return
            # GitHub's tokens name the repository and ref apart from the subject too
            repository = service.sub.split(":")[1]
            pushed = ":ref:" in service.sub or service.event == "push"
            ref = service.ref or (
                service.sub.split(":ref:", 1)[1] if ":ref:" in service.sub else "refs/pull/7/merge"
            )
            token = jwt(
                {
                    "iss": ISSUER,
                    "aud": query["audience"][0],
                    "sub": service.sub,
                    "repository": repository,
                    "ref": ref,
                    "event_name": "push" if pushed else "pull_request",
                    "workflow_ref": f"{repository}/.github/workflows/pilot.yml@{ref}",
                }
            )
            body = json.dumps({"value": token}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        service.url = f"{url}/token?api-version=2.0"
        yield service
