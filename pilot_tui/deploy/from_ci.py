"""What a deploy from CI (a GitHub Actions run holding no key) can do, decided from
pilot.toml alone: `pilot-tui ci github` writes a workflow that deploys these apps with
these secrets, and a run refuses what would go wrong there.

- The release history must be shared (``state.backend = "s3"``): a runner's .pilot/ goes
  with its job, and with it the record a rollback, the next deploy and teammates need.
- An app CI deploys needs no Docker host: a runner reaches no Pilot Server (it holds no
  SSH key or TLS certificate, and the server admits only ``allowed_cidrs``), and its
  credentials are the AWS role's. Zip Lambdas and S3 sites without a build command
  deploy; container images are built on the Docker host and stay with the laptop.
- Each secret of those apps comes from the repository's secret of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.errors import EXIT_INVALID, PilotError


class CiError(PilotError):
    title = "Not from CI"
    exit_code = EXIT_INVALID


LOCAL_STATE = (
    'state.backend is "local": a CI runner\'s .pilot/ is gone when its job ends, and with '
    "it the release history rollbacks and the next deploy read"
)
SHARED_STATE_HINT = (
    "share it first: pilot-tui config set state.backend s3 (the state bucket is made by "
    "the next `pilot-tui server up` or deploy)"
)


@dataclass(frozen=True)
class CiApps:
    """The apps a CI run deploys, those it leaves to the laptop (with why) and the secret
    names the workflow passes from the repository's secrets."""

    deployed: list[str]
    left: list[tuple[str, str]]
    secrets: list[str]


def why_not(app: AppSettings) -> str | None:
    """Why a CI run cannot deploy ``app``, or None when it can."""
    from pilot_tui.deploy.targets import target_for

    if app.target.cloud is None:
        return "it runs on the Docker host, which a CI run cannot reach"
    if app.target.cloud != "aws":
        return f"it runs on {app.target.cloud.upper()}, and a CI run holds AWS credentials only"
    if target_for(app).needs_docker():
        return "it is built on the Docker host, which a CI run cannot reach"
    return None


def ci_apps(config: PilotConfig) -> CiApps:
    deployed: list[str] = []
    left: list[tuple[str, str]] = []
    secrets: set[str] = set()
    for app in config.apps:
        reason = why_not(app)
        if reason is None:
            deployed.append(app.name)
            secrets.update(app.secrets)
        else:
            left.append((app.name, reason))
    return CiApps(deployed, left, sorted(secrets))


def check_state(config: PilotConfig) -> None:
    """CiError when a CI run's releases would be recorded on the runner only."""
    if config.state.backend == "local":
        raise CiError(LOCAL_STATE, hint=SHARED_STATE_HINT)


def check_run(config: PilotConfig, apps: list[str] | None) -> None:
    """In a CI run: CiError when its releases would be lost with the runner, or when one of
    ``apps`` (None: all) cannot be deployed from there."""
    check_state(config)
    for app in config.apps:
        if apps is not None and app.name not in apps:
            continue
        reason = why_not(app)
        if reason is not None:
            raise CiError(
                f"app {app.name!r} cannot be deployed from CI: {reason}",
                hint="deploy it from a machine with the project's .pilot/; "
                "`pilot-tui ci github --force` writes the workflow for the apps CI can deploy",
            )
