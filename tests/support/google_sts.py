"""Google's Security Token Service and IAM Credentials API, standing in (no Google service
runs here): a local HTTP server on 127.0.0.1 that takes a GitHub token (from
tests/support/github_tokens.py, checked against its local key) for a federated token, as
sts.googleapis.com does for a workload identity provider, and that for a service account's
access token, as iamcredentials.googleapis.com's generateAccessToken does. Each step
admits what its check says (the test gives it gcp_wif's evaluation of what Pilot made:
the provider at STS, the deployer's binding at generateAccessToken), and every request is
recorded. It also echoes a bearer token back at /echo, to show what a transport sends, and
stands in for Google's OAuth token endpoint a service-account key names (its token_uri:
key_file), answering ACCESS for a signed assertion: the assertion's claims are recorded
(who signed in), its signature is not checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest

from tests.support.github_tokens import KEY
from tests.support.local_http import QuietHandler, serving

FEDERATED = "federated-token-from-the-stand-in"
ACCESS = "ya29.access-token-of-the-deployer-from-the-stand-in"


def _claims(token: str) -> dict[str, str] | None:
    """The claims of a JWT signed with the stand-in GitHub's key, else None."""
    try:
        head, body, signature = token.split(".")
        wanted = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        if not hmac.compare_digest(wanted, given):
            return None
        return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    except ValueError:
        return None


@dataclass
class GoogleSts:
    url: str  # the base: STS at /v1/token, IAM Credentials at /v1/projects/...
    # STS: does the provider take this token (claims, plus the audience STS was asked for)?
    provider_admits: Callable[[dict[str, str]], bool] = lambda claims: True
    # generateAccessToken: may the federated identity of these claims act as the account
    # (its email, from the path)?
    binding_admits: Callable[[dict[str, str], str], bool] = lambda claims, email: True
    asked: list[dict] = field(default_factory=list)
    federated: dict[str, dict[str, str]] = field(default_factory=dict)  # token -> claims

    @property
    def sts_url(self) -> str:
        return f"{self.url}/v1/token"

    @property
    def iam_credentials(self) -> str:
        return f"{self.url}/v1/"


@pytest.fixture
def google_sts() -> Iterator[GoogleSts]:
    service = GoogleSts("")

    class Handler(QuietHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/echo":
                self._answer(200, {"authorization": self.headers.get("Authorization")})
            else:
                self._answer(404, {"error": {"message": "no such path"}})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            auth = self.headers.get("Authorization")
            if self.path == "/oauth2/token":  # a service-account key's sign-in
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                assertion = form.get("assertion", "").split(".")
                body = assertion[1] if len(assertion) == 3 else ""
                claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)) or "{}")
                service.asked.append({"path": self.path, "form": form, "claims": claims})
                if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                    self._answer(400, {"error": "unsupported_grant_type"})
                    return
                self._answer(
                    200, {"access_token": ACCESS, "expires_in": 3600, "token_type": "Bearer"}
                )
                return
            if self.path == "/v1/token":
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                service.asked.append({"path": self.path, "form": form, "auth": auth})
                claims = _claims(form.get("subject_token", ""))
                if (
                    form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange"
                    or form.get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt"
                    or claims is None
                    or not service.provider_admits(
                        {**claims, "sts_audience": form.get("audience", "")}
                    )
                ):
                    self._answer(
                        400,
                        {
                            "error": "invalid_grant",
                            "error_description": "The given credential is rejected by the "
                            "attribute condition.",
                        },
                    )
                    return
                token = f"{FEDERATED}-{len(service.federated)}"
                service.federated[token] = claims
                self._answer(
                    200,
                    {
                        "access_token": token,
                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )
                return
            body = json.loads(raw or "{}")
            service.asked.append({"path": self.path, "body": body, "auth": auth})
            claims = service.federated.get((auth or "").removeprefix("Bearer "))
            email = self.path.removeprefix("/v1/projects/-/serviceAccounts/").partition(":")[0]
            if (
                self.path.endswith(":generateAccessToken")
                and claims is not None
                and service.binding_admits(claims, email)
            ):
                self._answer(200, {"accessToken": ACCESS, "expireTime": "2099-01-01T00:00:00Z"})
            else:
                self._answer(403, {"error": {"message": "Permission 'getAccessToken' denied"}})

    with serving(Handler) as url:
        service.url = f"{url}"
        yield service


def key_file(path, email: str, token_uri: str) -> str:
    """A service-account key file for ``email`` at ``path``, a fresh RSA key in it, whose
    sign-in goes to ``token_uri`` (the stand-in's /oauth2/token); its path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": email.partition("@")[2].partition(".")[0],
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": email,
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    path.chmod(0o600)
    return str(path)
