"""In a GitHub Actions run: the run's OIDC token, exchanged for the short-lived
credentials `pilot-tui ci github` set up (no access key or key file anywhere): on AWS with
STS for the role's, on Google Cloud with Google's STS for a federated token and that for
the deployer service account's access token (gcp_wif.py).

GitHub hands a job that may (``permissions: id-token: write``) two variables: the URL to
ask for a token and a bearer token to ask with. ``in_github_actions`` says whether this
process is such a job with something to act as (``PILOT_AWS_ROLE_ARN``, or
``PILOT_GCP_WORKLOAD_PROVIDER`` and ``PILOT_GCP_SERVICE_ACCOUNT``, set by the workflow).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.github_oidc import AUDIENCE, GCP_ACCOUNT_ENV, GCP_PROVIDER_ENV, ROLE_ENV

if TYPE_CHECKING:
    import boto3
    from google.auth.credentials import Credentials

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
SESSION_SECONDS = 3600


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(
        env.get(REQUEST_URL) and env.get(REQUEST_TOKEN) and (env.get(ROLE_ENV) or gcp_in(env))
    )


def gcp_in(env: Mapping[str, str]) -> bool:
    """Whether the workflow names the provider and account a run acts as on Google Cloud."""
    return bool(env.get(GCP_PROVIDER_ENV) and env.get(GCP_ACCOUNT_ENV))


def google_in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return in_github_actions(env) and gcp_in(env)


def github_token(env: Mapping[str, str] | None = None, audience: str = AUDIENCE) -> str:
    """The run's OIDC token for ``audience`` (a JWT), from GitHub's token service."""
    import urllib.error  # here: a deploy asks whether it runs in CI, not for a token
    import urllib.request

    env = os.environ if env is None else env
    url = env[REQUEST_URL]
    where = urllib.parse.urlparse(url)
    if where.scheme != "https" and where.hostname not in ("127.0.0.1", "localhost"):
        raise CloudError(f"{REQUEST_URL} is not an https address: no token is asked for there")
    separator = "&" if urllib.parse.urlparse(url).query else "?"
    request = urllib.request.Request(
        f"{url}{separator}audience={urllib.parse.quote(audience)}",
        headers={"Authorization": f"bearer {env[REQUEST_TOKEN]}", "Accept": "application/json"},
    )
    redact.register([env[REQUEST_TOKEN]])
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            value = json.loads(answer.read())["value"]
    except urllib.error.HTTPError as exc:
        raise CloudError(
            f"GitHub refused the run's OIDC token (HTTP {exc.code}): does the workflow give "
            "the job `permissions: id-token: write`?"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise CloudError(f"the run's OIDC token could not be had: {exc}") from exc
    redact.register([value])
    return str(value)


def assumed_session(
    region: str,
    env: Mapping[str, str] | None = None,
    endpoint: str | None = None,
) -> boto3.Session:
    """A session with the role's short-lived credentials, for this run."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    env = os.environ if env is None else env
    role = env.get(ROLE_ENV)
    if not role:
        raise CloudError(
            f"this run was given no AWS role ({ROLE_ENV} is not set): the workflow "
            "`pilot-tui ci github` wrote for this project acts on Google Cloud only"
        )
    token = github_token(env)
    run = env.get("GITHUB_RUN_ID", "run")
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint)
    try:
        answer = sts.assume_role_with_web_identity(
            RoleArn=role,
            RoleSessionName=f"pilot-github-{run}"[:64],
            WebIdentityToken=token,
            DurationSeconds=SESSION_SECONDS,
        )
    except (BotoCoreError, ClientError) as exc:
        raise CloudError(
            f"AWS refused this run the role {role} ({redact.clip(str(exc), 200)}): was it "
            "pushed to the branch `pilot-tui ci github` named, in that repository?"
        ) from exc
    credentials = answer["Credentials"]
    redact.register([credentials["SecretAccessKey"], credentials["SessionToken"]])
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


_google: dict[tuple[str, str], Credentials] = {}


def google_credentials(
    env: Mapping[str, str] | None = None,
    *,
    sts_url: str | None = None,
    iam_credentials: str | None = None,
) -> Credentials:
    """Credentials acting as the deployer service account for this run: google-auth's own
    external-account flow, given GitHub's token for the provider (made once per process,
    refreshed by google-auth as they expire). ``sts_url`` / ``iam_credentials``: Google's
    endpoints (only tests point them elsewhere)."""
    from google.auth import identity_pool

    from pilot_tui.cloud import gcp_wif
    from pilot_tui.cloud.gcp_api import SCOPE

    env = os.environ if env is None else env
    if not gcp_in(env):
        raise CloudError(
            f"this run was given no Google Cloud identity ({GCP_PROVIDER_ENV} and "
            f"{GCP_ACCOUNT_ENV} are not set): the workflow `pilot-tui ci github` wrote for "
            "this project acts on AWS only"
        )
    provider, email = env[GCP_PROVIDER_ENV], env[GCP_ACCOUNT_ENV]
    known = _google.get((provider, email))
    if known is not None:
        return known
    wanted = gcp_wif.audience(provider)

    class GithubToken(identity_pool.SubjectTokenSupplier):
        def get_subject_token(self, context: object, request: object) -> str:
            return github_token(env, audience=wanted)

    made = identity_pool.Credentials(
        audience=f"//iam.googleapis.com/{provider}",
        subject_token_type="urn:ietf:params:oauth:token-type:jwt",
        token_url=sts_url or gcp_wif.STS_URL,
        subject_token_supplier=GithubToken(),
        service_account_impersonation_url=gcp_wif.impersonation_url(
            email, iam_credentials or gcp_wif.IAM_CREDENTIALS
        ),
        scopes=[SCOPE],
    )
    _google[(provider, email)] = made
    return made


def google_refresh(credentials: Credentials) -> None:
    """Fetch the access token now, so a refusal is said as Pilot's (with what to check),
    not as a library's traceback halfway through a deploy."""
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials.refresh(Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CloudError(
            f"Google refused this run the deployer's access ({redact.clip(str(exc), 240)}): "
            "was it a push's run of .github/workflows/pilot.yml on the branch `pilot-tui ci "
            "github` named, in that repository (its name spelled as GitHub does)?"
        ) from exc
    token = getattr(credentials, "token", None)
    if token:
        redact.register([token])
