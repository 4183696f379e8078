"""In a GitHub Actions run: the run's OIDC token, exchanged with STS for the short-lived
credentials of the role `pilot-tui ci github` made (no access key anywhere).

GitHub hands a job that may (``permissions: id-token: write``) two variables: the URL to
ask for a token and a bearer token to ask with. ``in_github_actions`` says whether this
process is such a job with a role to assume (``PILOT_AWS_ROLE_ARN``, set by the workflow).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.github_oidc import AUDIENCE, ROLE_ENV

if TYPE_CHECKING:
    import boto3

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
SESSION_SECONDS = 3600


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get(REQUEST_URL) and env.get(REQUEST_TOKEN) and env.get(ROLE_ENV))


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
    role = env[ROLE_ENV]
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
            f"AWS refused this run the role {role} ({redact.text(str(exc))[:200]}): was it "
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
