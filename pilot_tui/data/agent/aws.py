"""AWS's APIs with the standard library, for the agent: Signature V4 requests signed with
credentials from the environment (the sandbox's placeholders) or the Pilot Server's
instance role, through IMDSv2 (refreshed before they expire, never written anywhere).
The state bucket's calls (s3.py) and the Lambda previews' removal (lambda_previews.py)
both sign here.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pilot_tui.data.agent.wire import NETWORK_ERRORS
from pilot_tui.errors import PilotError

IMDS = "169.254.169.254"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMEOUT = 60  # seconds per request


class NoCredentials(PilotError):
    title = "No AWS credentials"


class AwsApiError(PilotError):
    """An AWS API answered with an error: its HTTP status and AWS's code for it."""

    title = "AWS API error"

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None
    expires: float | None = None  # epoch seconds


def credentials(environment: Mapping[str, str]) -> Credentials:
    """From the environment when it has keys, else the instance role's (IMDSv2)."""
    if environment.get("AWS_ACCESS_KEY_ID") and environment.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(
            environment["AWS_ACCESS_KEY_ID"],
            environment["AWS_SECRET_ACCESS_KEY"],
            environment.get("AWS_SESSION_TOKEN") or None,
        )
    try:
        token = _imds("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"})
        headers = {"X-aws-ec2-metadata-token": token}
        role = _imds("GET", "/latest/meta-data/iam/security-credentials/", headers).split()[0]
        found = json.loads(
            _imds("GET", f"/latest/meta-data/iam/security-credentials/{role}", headers)
        )
        expires = datetime.fromisoformat(found["Expiration"].replace("Z", "+00:00"))
        return Credentials(
            found["AccessKeyId"], found["SecretAccessKey"], found["Token"], expires.timestamp()
        )
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise NoCredentials(
            "no AWS credentials: the Docker host has no instance role the agent can use "
            f"(IMDSv2 at {IMDS}: {exc})"
        ) from exc


def _imds(method: str, path: str, headers: dict[str, str]) -> str:
    connection = http.client.HTTPConnection(IMDS, 80, timeout=3)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise OSError(f"{method} {path}: {response.status}")
        return body
    finally:
        connection.close()


class CachedCredentials:
    """``credentials(environment)``, asked again five minutes before they expire."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self._creds: Credentials | None = None

    def __call__(self) -> Credentials:
        creds = self._creds
        if creds is None or (creds.expires is not None and creds.expires - time.time() < 300):
            creds = self._creds = credentials(self.environment)
        return creds


def sign(
    method: str,
    host: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload_sha256: str,
    creds: Credentials,
    region: str,
    now: datetime,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` with the SigV4 ones added (x-amz-date, x-amz-content-sha256, the
    session token, Authorization). ``path`` is as unencoded; every service but S3 signs
    it encoded twice (AWS's rule)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed |= {"host": host, "x-amz-date": stamp, "x-amz-content-sha256": payload_sha256}
    if creds.token:
        signed["x-amz-security-token"] = creds.token
    names = sorted(signed)
    canonical_path = urllib.parse.quote(path, safe="/~")
    if service != "s3":
        canonical_path = urllib.parse.quote(canonical_path, safe="/~")
    canonical = "\n".join(
        [
            method,
            canonical_path,
            "&".join(
                f"{k}={v}"
                for k, v in sorted(
                    (urllib.parse.quote(k, safe="~"), urllib.parse.quote(v, safe="~"))
                    for k, v in query.items()
                )
            ),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + creds.secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


@dataclass
class AwsApi:
    """Signed calls to one region's APIs: ``endpoint`` (the sandbox's local AWS API)
    serves every service; else each its own host."""

    region: str
    environment: Mapping[str, str] = field(default_factory=dict)
    endpoint: str | None = None
    credentials: CachedCredentials = field(init=False)

    def __post_init__(self) -> None:
        self.credentials = CachedCredentials(self.environment)

    def host(self, service: str) -> tuple[bool, str]:
        """(https, host) of ``service``'s API."""
        if self.endpoint:
            parsed = urllib.parse.urlsplit(self.endpoint)
            return parsed.scheme == "https", parsed.netloc
        return True, f"{service}.{self.region}.amazonaws.com"

    def read_object(self, bucket: str, key: str) -> tuple[bytes, float] | None:
        """S3 object ``key`` of ``bucket`` and its age in seconds by S3's own clock (its
        Last-Modified against the answer's Date); None when there is none."""
        try:
            _, data, said = self.call("s3", "GET", f"/{bucket}/{key}")
        except AwsApiError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            now = parsedate_to_datetime(said["date"]).timestamp()
            written = parsedate_to_datetime(said["last-modified"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return data, 0.0  # no dates: taken as just written (it guards a moment more)
        return data, max(now - written, 0.0)

    def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers by lowercased name) of a signed request (path-style on
        S3); AwsApiError for an answer of 300 or more, PilotError when the API cannot be
        reached."""
        https, host = self.host(service)
        query = query or {}
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sign(
            method,
            host,
            path,
            query,
            headers or {},
            payload,
            self.credentials(),
            self.region,
            datetime.now(UTC),
            service,
        )
        target = urllib.parse.quote(path, safe="/~")
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        opened = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = opened(host, timeout=TIMEOUT)
        try:
            connection.request(method, target, body=body or None, headers=signed)
            response = connection.getresponse()
            data = response.read()
        except NETWORK_ERRORS as exc:
            raise PilotError(f"cannot reach {service} at {host}: {exc}") from exc
        finally:
            connection.close()
        if response.status >= 300:
            code, message = _error(data, response.getheader("x-amzn-ErrorType") or "")
            raise AwsApiError(
                f"{service} {method} {path}: {code or response.status}: {message}".rstrip(": "),
                response.status,
                code,
            )
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def json_call(self, service: str, target: str, payload: dict[str, object]) -> dict:
        """An action of a JSON-protocol API (``target``: X-Amz-Target, as
        "ResourceGroupsTaggingAPI_20170126.GetResources")."""
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        _, data, _ = self.call(
            service, "POST", "/", body=json.dumps(payload).encode(), headers=headers
        )
        return json.loads(data or b"{}")


def _error(data: bytes, header: str) -> tuple[str, str]:
    """(AWS's error code, its message) from an error answer's JSON body or header."""
    try:
        found = json.loads(data or b"{}")
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    # Lambda's body says only {"Type": "User"}: its header names the error, as
    # "Code:http://..." or "namespace#Code": the code before any ":", after any "#"
    code = str(header or found.get("__type") or found.get("code") or "")
    code = code.partition(":")[0].rpartition("#")[2]
    message = str(
        found.get("message") or found.get("Message") or data[:200].decode(errors="replace")
    )
    return code, message
