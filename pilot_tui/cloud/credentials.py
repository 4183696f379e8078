"""Find cloud credentials on this machine and check them live.

AWS: environment variables, profiles in ~/.aws/credentials and ~/.aws/config (SSO ones
marked), validated with STS GetCallerIdentity. Google: GOOGLE_APPLICATION_CREDENTIALS,
gcloud's Application Default Credentials, and gcp.credentials from pilot.toml, validated with
a google-cloud-storage call on the project. Only names and paths are ever shown; key material
is never read into messages.
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.cloud import aws_errors
from pilot_tui.cloud.clients import emulator_aws, emulator_gcs, key_gcs, profile_aws
from pilot_tui.config.schema import PilotConfig


@dataclass(frozen=True)
class Found:
    """A credential source: which cloud, what it is called, where it comes from."""

    cloud: str  # aws | gcp
    name: str  # a profile name, or a file path for Google
    source: str
    sso: bool = False


@dataclass(frozen=True)
class Checked:
    ok: bool
    message: str  # the identity when ok, else what is wrong and how to fix it
    identity: str = ""


def _aws_files(env: Mapping[str, str], home: Path) -> tuple[Path, Path]:
    creds = Path(env.get("AWS_SHARED_CREDENTIALS_FILE", home / ".aws" / "credentials"))
    config = Path(env.get("AWS_CONFIG_FILE", home / ".aws" / "config"))
    return creds.expanduser(), config.expanduser()


def find_aws(env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Found]:
    env = os.environ if env is None else env
    home = home or Path.home()
    found: list[Found] = []
    if env.get("AWS_ACCESS_KEY_ID"):
        found.append(Found("aws", "(environment)", "AWS_ACCESS_KEY_ID and friends"))
    creds_file, config_file = _aws_files(env, home)
    seen: set[str] = set()
    for path, prefix in ((creds_file, ""), (config_file, "profile ")):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in parser.sections():
            name = section[len(prefix) :] if section.startswith(prefix) else section
            if prefix and not section.startswith(prefix) and section != "default":
                continue  # [sso-session x] and friends are not profiles
            sso = any(k.startswith("sso_") for k in parser[section])
            if name not in seen:
                seen.add(name)
                found.append(Found("aws", name, str(path), sso))
    return found


def check_aws(
    profile: str | None, region: str, endpoint_url: str | None = None, sandbox: bool = False
) -> Checked:
    """STS GetCallerIdentity with ``profile`` (None: the default chain; ``sandbox``: the
    local AWS API's placeholder credentials)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ProfileNotFound,
        SSOTokenLoadError,
        TokenRetrievalError,
    )

    who = f'profile "{profile}"' if profile else "the default credentials"
    try:
        aws = (
            emulator_aws(region, endpoint_url)
            if sandbox
            else profile_aws(profile, region, endpoint_url)
        )
        ident = aws.client("sts").get_caller_identity()
    except ProfileNotFound:
        return Checked(
            False,
            f"{who} does not exist; create it with `aws configure --profile "
            f"{profile}` or fix aws.profile",
        )
    except NoCredentialsError:
        return Checked(
            False, f"no AWS credentials found for {who}; run `aws configure` or `aws sso login`"
        )
    except (SSOTokenLoadError, TokenRetrievalError):
        return Checked(
            False, f"the SSO session of {who} has expired; run `aws sso login --profile {profile}`"
        )
    except ClientError as exc:
        code = aws_errors.code(exc)
        hint = {
            "ExpiredToken": "the session token has expired; get a new one",
            "InvalidClientTokenId": "the access key id is not valid (deleted or mistyped)",
            "SignatureDoesNotMatch": "the secret access key does not match the key id",
        }
        return Checked(False, f"{who}: {hint.get(code, exc.response['Error'].get('Message'))}")
    except BotoCoreError as exc:
        return Checked(False, f"{who}: cannot reach AWS ({exc})")
    return Checked(True, f"account {ident['Account']}, {ident['Arn']}", ident["Arn"])


def find_gcp(
    env: Mapping[str, str] | None = None, home: Path | None = None, configured: Path | None = None
) -> list[Found]:
    env = os.environ if env is None else env
    home = home or Path.home()
    found: list[Found] = []
    if configured is not None:
        found.append(Found("gcp", str(configured), "gcp.credentials in pilot.toml"))
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        found.append(
            Found("gcp", env["GOOGLE_APPLICATION_CREDENTIALS"], "GOOGLE_APPLICATION_CREDENTIALS")
        )
    adc = (
        Path(env.get("CLOUDSDK_CONFIG", home / ".config" / "gcloud"))
        / "application_default_credentials.json"
    )
    if adc.is_file():
        found.append(Found("gcp", str(adc), "gcloud auth application-default login"))
    return found


def key_file_problem(path: Path) -> str | None:
    """What is wrong with a service-account key file, without echoing its contents."""
    if not path.is_file():
        return f"{path} does not exist"
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path} is not a JSON key file"
    if not isinstance(data, dict) or data.get("type") not in ("service_account", "authorized_user"):
        return f"{path} is not a Google service-account or user credentials file"
    if data.get("type") == "service_account" and not data.get("private_key"):
        return f"{path} has no private key"
    return None


CHECK_TIMEOUT = 10.0


def check_gcp(
    project: str | None, key_file: Path | None, *, api_endpoint: str | None = None
) -> Checked:
    """A google-cloud-storage call on ``project`` (a local endpoint takes no credentials)."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc

    if key_file is not None:
        problem = key_file_problem(key_file)
        if problem:
            return Checked(False, problem)
    try:
        if api_endpoint:
            client = emulator_gcs(api_endpoint, project or "sandbox")
        else:
            client = key_gcs(project, key_file)
        # One attempt, not the library's two minutes of retries: a person is waiting.
        list(client.list_buckets(max_results=1, timeout=CHECK_TIMEOUT, retry=None))
    except ValueError as exc:  # a truncated or edited private key
        where = key_file or "the application default credentials"
        return Checked(
            False,
            f"{where}: the key cannot be read ({redact.clip(str(exc), 60)}); "
            "download a new key for the service account",
        )
    except aexc.TransportError:
        return Checked(
            False,
            "cannot reach Google to get a token (no network, or a proxy "
            "blocks oauth2.googleapis.com)",
        )
    except aexc.DefaultCredentialsError:
        return Checked(
            False,
            "no Google credentials found; run `gcloud auth "
            "application-default login` or set gcp.credentials to a key file",
        )
    except aexc.RefreshError as exc:
        return Checked(
            False,
            f"the credentials could not get a token (expired, revoked or no "
            f"network): {redact.clip(str(exc), 120)}",
        )
    except gexc.Forbidden:
        return Checked(
            False,
            f"missing permission on project {project}: grant the account "
            "storage.buckets.list (e.g. roles/storage.admin)",
        )
    except gexc.NotFound:
        return Checked(False, f"project {project} was not found; check gcp.project")
    except (gexc.GoogleAPIError, OSError) as exc:
        return Checked(False, f"cannot reach Google Cloud Storage: {redact.clip(str(exc), 160)}")
    return Checked(True, f"project {project or 'sandbox'}: storage reachable")


@dataclass(frozen=True)
class Row:
    """One credential in a report: found where, checked how, used by pilot.toml or not."""

    cloud: str
    name: str
    source: str
    ok: bool
    configured: bool
    message: str


def credential_report(
    cfg: PilotConfig, home: str, project_root: Path, *, stop_started: bool = False
) -> list[Row]:
    """Everything found on this machine, each checked live; in the sandbox, the emulators
    (started if needed) stand in for the clouds. Used by the CLI and the app alike; with
    ``stop_started`` (the CLI's one-off check) emulators this check started, none running
    before it, are stopped after it (found walking: a read-only check left two servers
    running). The app stops the ones it started at its exit."""
    rows: list[Row] = []

    def add(found: Found | tuple[str, str, str], result: Checked, configured: bool) -> None:
        cloud, name, source = (
            found
            if isinstance(found, tuple)
            else (found.cloud, f"{found.name} (sso)" if found.sso else found.name, found.source)
        )
        rows.append(Row(cloud, name, source, result.ok, configured, result.message))

    if home == "sandbox":
        from pilot_tui.cloud.sandbox import Sandbox
        from pilot_tui.project import STATE_DIR

        sandbox = Sandbox(project_root / STATE_DIR)
        none_before = not sandbox.running()
        emulators, started = sandbox.ensure()
        aws_url, gcs_url = emulators["aws"].url, emulators["gcs"].url
        stop = stop_started and started and none_before
        # Never silently: say the check started them (they hold nothing yet).
        said = ""
        if started:
            said = "; the sandbox's emulators were stopped: started them for this check" + (
                ", and stopped them after it" if stop else " (`pilot-tui sandbox stop` stops them)"
            )
        try:
            checks = (
                ("aws", aws_url, check_aws(None, cfg.aws.region, aws_url, sandbox=True)),
                ("gcp", gcs_url, check_gcp("sandbox", None, api_endpoint=gcs_url)),
            )
        finally:  # (review: a check that raised left them running)
            if stop:
                sandbox.stop()
        for cloud, url, checked in checks:
            add((cloud, "sandbox", url), replace(checked, message=checked.message + said), True)
    for found in find_aws():
        profile = None if found.name == "(environment)" else found.name
        configured = home == "aws" and (
            found.name == (cfg.aws.profile or "default")
            or (profile is None and not cfg.aws.profile)
        )
        add(found, check_aws(profile, cfg.aws.region), configured)
    if home == "aws" and not any(r.configured for r in rows if r.cloud == "aws"):
        add(
            ("aws", cfg.aws.profile or "(default chain)", "pilot.toml"),
            check_aws(cfg.aws.profile, cfg.aws.region),
            True,
        )
    key = (
        (project_root / Path(cfg.gcp.credentials).expanduser()).resolve()
        if cfg.gcp.credentials
        else None
    )
    for found in find_gcp(configured=key):
        configured = home == "gcp" and (key is None or Path(found.name) == key)
        add(found, check_gcp(cfg.gcp.project, Path(found.name)), configured)
    if home == "gcp" and not any(r.configured for r in rows if r.cloud == "gcp"):
        add(("gcp", "(application default)", "pilot.toml"), check_gcp(cfg.gcp.project, None), True)
    return rows
