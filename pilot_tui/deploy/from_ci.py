"""What a deploy from CI (a GitHub Actions run holding no key) can do, decided from
pilot.toml alone: `pilot-tui ci github` writes a workflow that deploys these apps with
these secrets, and a run refuses what would go wrong there.

- The release history must be in the project's state bucket (S3 or GCS): a runner's
  .pilot/ goes with its job, and with it the record a rollback, the next deploy and
  teammates need. A run reads and writes it or fails (engine.Deployer.shared_required).
  The bucket's cloud is the one the runs act on (ci_cloud): an AWS role, or the GCP CI
  account through a workload identity pool.
- An app CI deploys runs in the cloud the run holds credentials for. What needs building
  (an image, a site's build command) is built on the runner's own Docker engine
  (host.runner_engine) and pushed with the run's credentials.
- A runner reaches no Pilot Server (it holds no SSH key or TLS certificate, and the
  server admits only ``allowed_cidrs``): an app on the Docker host is deployed by a request
  in the state bucket, its image pushed to ECR or Artifact Registry (server_images.py),
  which the worker releases
  (server_queue.py); its other commands (rollback, previews) stay with the laptop.
- A pull request's preview is deployed by the previews' role, which may make previews of
  the Lambdas (on AWS), an image app's pushed to its previews' own repository.
- Each secret of those apps comes from the repository's secret of the same name, except
  names the job's environment has already (GitHub's, AWS credentials, the role's).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.server_images import CLOUD_OF_BACKEND, ci_cloud
from pilot_tui.errors import EXIT_INVALID, PilotError

# (ci_cloud lives in server_images, which targets may import; from_ci may not be)
__all__ = ["CLOUD_OF_BACKEND", "ci_cloud"]


class CiError(PilotError):
    title = "Not from CI"
    exit_code = EXIT_INVALID


def shared_state_hint(config: PilotConfig) -> str:
    """How to share the release history: in the bucket of the cloud the project is on."""
    backend = "gcs" if config.server.home == "gcp" else "s3"
    return (
        f"share it first: pilot-tui config set state.backend {backend}, then `pilot-tui ci "
        "github` again (it makes the state bucket and shares this machine's release history)"
    )


# Names a job's environment has already, or GitHub's own: never an app's secret there.
RESERVED_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_", "AWS_", "GOOGLE_", "CLOUDSDK_")
RESERVED = frozenset(
    {"CI", "PILOT_AWS_ROLE_ARN", "PILOT_GCP_WORKLOAD_PROVIDER", "PILOT_GCP_SERVICE_ACCOUNT"}
    | {"HOME", "PATH"}
)


@dataclass(frozen=True)
class CiApps:
    """The apps a CI run deploys, those it leaves to the laptop (with why) and the secret
    names the workflow passes from the repository's secrets."""

    deployed: list[str]
    left: list[tuple[str, str]]
    secrets: list[str]
    # Of ``deployed``, those whose target runs previews: each pull request's, and pruned
    # hourly.
    previewed: list[str]
    # The secret names of ``previewed``: a preview's from the repository's PREVIEW_NAME.
    preview_secrets: list[str] = dataclasses.field(default_factory=list)
    # Of ``deployed``, those whose kind runs previews but that can have no pr-NUMBER one
    # (a two-letter name on the Docker host...), with why.
    unpreviewable: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def reserved(self) -> list[str]:
        """The secret names a workflow cannot pass: GitHub's, the job's own variables,
        cloud credentials beside the run's own, and PREVIEW_X (a preview's X in CI: the same
        variable would be an app's value and a preview's)."""
        return [
            s
            for s in self.secrets
            if s in RESERVED or s.startswith((*RESERVED_PREFIXES, "PREVIEW_"))
        ]


def why_not(app: AppSettings, cloud: str = "aws", *, deploying: bool = False) -> str | None:
    """Why a CI run acting on ``cloud`` cannot deploy ``app`` (``deploying``: a deploy or
    rollback of it, a deploy of a preview, or a preview's removal: what the worker takes;
    not another command), or None when it can. An app of the Docker host
    is deployed through the Pilot Server's worker (server_queue.py), its image pushed to
    the registry of ``cloud`` (server_images.py)."""
    target = app.target
    if target.cloud is None:
        if not deploying:  # (found walking: said as if CI did not deploy it at all)
            return (
                "it runs on the Docker host, which a CI run cannot reach: the server's worker "
                "takes its deploys, rollbacks and previews alone, not this command"
            )
    elif target.cloud != cloud:
        return (
            f"it runs on {target.cloud.upper()}, and a CI run holds {cloud.upper()} "
            "credentials only (the cloud of the state bucket)"
        )
    if app.build.kind == "buildpacks":
        return "it is built with buildpacks, whose `pack` a CI runner does not have"
    return None


def ci_apps(config: PilotConfig) -> CiApps:
    """What a CI run of ``config`` deploys; the secrets include the notification webhook's
    variable (its URL holds a token)."""
    from pilot_tui.deploy.targets import target_for

    deployed: list[str] = []
    left: list[tuple[str, str]] = []
    secrets: set[str] = set()
    cloud = ci_cloud(config)
    for app in config.apps:
        reason = why_not(app, cloud, deploying=True)
        if reason is None:
            deployed.append(app.name)
            if app.target.cloud is not None:  # the worker has a server app's own
                secrets.update(app.secrets)
        else:
            left.append((app.name, reason))
    if deployed and config.notify.webhook_env:
        secrets.add(config.notify.webhook_env)
    # On Google Cloud the runs' trust admits the branch's pushes only: no pull request's
    # (Cloud Run authorizes making a service on its location, not its name). On AWS the
    # previews' role pushes an image app's previews' images to their own repository.
    previewing = [
        app
        for app in config.apps
        if app.name in deployed
        and target_for(app).previews_refused is None
        and app.previews.max > 0  # (none at all: each preview would be refused)
        and cloud == "aws"
    ]
    # Each would be refused by every pull request's run: no job (found walking).
    unpreviewable = [(app.name, why) for app in previewing if (why := _no_pr_previews(config, app))]
    previewed = [app for app in previewing if app.name not in dict(unpreviewable)]
    return CiApps(
        deployed,
        left,
        sorted(secrets),
        [app.name for app in previewed],
        # (a Docker host app's preview gets the worker's own previews' secrets)
        sorted({name for app in previewed if app.target.cloud is not None for name in app.secrets}),
        unpreviewable,
    )


def _no_pr_previews(config: PilotConfig, app: AppSettings) -> str | None:
    """Why ``app`` can have no preview named pr-NUMBER (the deploy's own refusal), or
    None."""
    from pilot_tui.deploy.engine import preview_name
    from pilot_tui.deploy.previews import PreviewError

    try:
        preview_name(config, app, "pr-1")
    except PreviewError as exc:
        return str(exc)
    return None


def check_state(config: PilotConfig) -> None:
    """CiError unless a CI run's releases reach the state bucket its role may write."""
    from pilot_tui.naming import state_bucket

    backend = config.state.backend
    if backend == "local":
        raise CiError(
            'state.backend is "local": a CI runner\'s .pilot/ goes with its job, and with it '
            "the release history rollbacks and the next deploy read",
            hint=shared_state_hint(config),
        )
    if backend not in CLOUD_OF_BACKEND:
        raise CiError(
            f'state.backend is "{backend}": a CI run shares its history in the state bucket '
            'of the cloud it acts on (state.backend = "s3" or "gcs")'
        )
    default = state_bucket(config.project.name)
    if config.state.bucket not in (None, default):
        raise CiError(
            f"state.bucket is {config.state.bucket!r}: a CI run may write the release "
            f"history to {default} only (the deployer's grants name it)",
            hint="unset state.bucket to use the project's own",
        )
    if config.server.engine != "pilot":
        raise CiError(
            f'server.engine is "{config.server.engine}": CI deploys use Pilot\'s own engine'
        )


def unreachable(
    config: PilotConfig, names: set[str] | None, *, deploying: bool = False
) -> list[tuple[str, str]]:
    """(app, why) for each app of ``names`` (None: every app) a CI run cannot act on
    (``deploying``: deploy, through the worker for the Docker host's)."""
    cloud = ci_cloud(config)
    return [
        (app.name, reason)
        for app in config.apps
        if (names is None or app.name in names)
        and (reason := why_not(app, cloud, deploying=deploying))
    ]


def check_reach(config: PilotConfig, owners: set[str] | None, *, deploying: bool = False) -> None:
    """CiError when a CI run's command is about an app it cannot reach (``owners``: the
    apps named, previews as their apps; None: every app), before anything is opened."""
    refused = unreachable(config, owners, deploying=deploying)
    if refused:
        named = "; ".join(f"{name}: {reason}" for name, reason in refused)
        raise CiError(
            f"this CI run cannot act on {named}",
            hint="name the apps CI deploys (the workflow `ci github` writes does); run the "
            "rest from a machine with the project's .pilot/",
        )


def check_run(config: PilotConfig, apps: list[str]) -> None:
    """In a CI run: CiError when its releases would be lost with the runner, or when one of
    ``apps`` cannot be deployed from there (or a preview of it)."""
    check_state(config)
    # (a Docker host app's preview too: through the worker, as its deploy)
    if refused := unreachable(config, set(apps), deploying=True):
        name, reason = refused[0]
        raise CiError(
            f"app {name!r} cannot be deployed from CI: {reason}",
            hint="deploy it from a machine with the project's .pilot/; "
            "`pilot-tui ci github --force` writes the workflow for the apps CI can deploy",
        )


SUMMARY_ENV = "GITHUB_STEP_SUMMARY"  # the file a step's Markdown summary is appended to


def summarize(app: str, release: str, url: str, env: Mapping[str, str] | None = None) -> None:
    """In a GitHub Actions step, a line of its run's summary page: the release of ``app``
    and where it answers (a pull request's preview is found there). Nothing elsewhere, and
    a summary that cannot be written never fails the deploy it reports."""
    env = os.environ if env is None else env
    path = env.get(SUMMARY_ENV)
    if not path:
        return
    where = f"<{url}>" if url else "no address"
    try:
        with Path(path).open("a", encoding="utf-8") as summary:
            summary.write(f"- `{app}` {release} is live: {where}\n")
    except OSError:
        pass
