"""`pilot-tui ci github|remove`: the IAM trust for keyless deploys from GitHub Actions and
the workflow that uses it (cloud/github_oidc.py, cloud/identity_github.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pilot_tui.cli.ci_trusts import (
    AwsCiTrust,
    GcpCiTrust,
    RepositoryNotMade,
    home_refusal,
    subject_refusal,
    trust_for,
    workflow_cloud,
)
from pilot_tui.cli.common import error, load_valid, say
from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import from_ci
from pilot_tui.deploy.targets import on_docker_host
from pilot_tui.deploy.worker_container import refusal as worker_refusal
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, PilotError
from pilot_tui.fsutil import atomic_write
from pilot_tui.naming import preview_execution_role
from pilot_tui.project import Project
from pilot_tui.wording import plural

CLOUD_NAMES = {"aws": "AWS", "gcp": "Google Cloud"}


def github(ns: argparse.Namespace) -> int:
    from pilot_tui import redact
    from pilot_tui.cloud import github_oidc

    if not github_oidc.REPO.fullmatch(ns.repo):
        error(f"--repo {ns.repo!r} is not OWNER/NAME (as in github.com/OWNER/NAME)")
        return EXIT_INVALID
    refused = github_oidc.branch_refusal(ns.branch)
    if refused is not None:
        error(refused)
        return EXIT_INVALID
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    try:
        from_ci.check_state(config)
    except from_ci.CiError as exc:
        error(str(exc))
        return EXIT_INVALID
    cloud = from_ci.ci_cloud(config)
    refused = home_refusal(cloud, config) or subject_refusal(cloud, ns.repo, ns.branch)
    if refused is not None:
        error(refused)
        return EXIT_INVALID
    apps = from_ci.ci_apps(config)
    reserved = apps.reserved()
    if reserved:
        error(
            f"{plural(len(reserved), 'secret')} {', '.join(reserved)} cannot come from the "
            "repository's secrets: a "
            "GitHub Actions job has these names already, they would sit beside the role's "
            "credentials, or (PREVIEW_...) they name a preview's values; rename them in "
            "pilot.toml"
        )
        return EXIT_INVALID
    if not apps.deployed:
        error(
            "no app of pilot.toml can be deployed from CI: "
            + ("; ".join(f"{name}: {why}" for name, why in apps.left) or "it has none yet")
        )
        return EXIT_INVALID
    project = Project(pf.path)
    path = project.root / github_oidc.WORKFLOW
    try:
        trust = trust_for(cloud, config, project)
    except Exception as exc:  # no credentials, or none that sign in
        error(f"cannot sign in to {CLOUD_NAMES[cloud]}: {redact.clip(str(exc), 300)}")
        say(f"hint: {(GcpCiTrust if cloud == 'gcp' else AwsCiTrust).credentials_hint}")
        return EXIT_FAILED
    rolled_back = _rolled_back_by_runs(config, apps.deployed)
    try:
        runs_as = trust.runs_as()
        pulls = (
            github_oidc.PreviewJobs(trust.preview_runs_as(), apps.previewed, apps.preview_secrets)
            if apps.previewed
            else None
        )
        text = github_oidc.workflow(
            ns.repo,
            ns.branch,
            runs_as,
            ns.install,
            apps.deployed,
            apps.secrets,
            _pruned_by_runs(config, apps.previewed),
            pulls,
            rolled_back,
            [config.notify.webhook_env] if config.notify.webhook_env else [],
        )
    except Exception as exc:  # the account said no: nothing made or written
        error(f"{trust.what} could not be made: {redact.clip(str(exc), 300)}")
        return EXIT_FAILED
    # Before the trust changes: a refused file leaves the trust as the old one is.
    if path.is_file() and path.read_text(encoding="utf-8") != text and not ns.force:
        error(f"{path} exists and differs from Pilot's: add --force to replace it")
        _say_how_it_differs(path.read_text(encoding="utf-8"), text)
        return EXIT_INVALID
    try:  # the bucket first: the CI account is granted on it (on Google Cloud)
        shared = _share_history(config, project, apps.deployed)
    except Exception as exc:  # the bucket refused: no trust made, no workflow written
        said = str(exc) if isinstance(exc, PilotError) else redact.clip(str(exc), 300)
        error(f"the release history could not be shared in the state bucket: {said}")
        return EXIT_FAILED
    try:
        trust.ensure(ns.repo, ns.branch, apps.previewed if pulls is not None else [])
    except RepositoryNotMade as exc:  # said as the repository's, not the trust's
        error(str(exc))
        return EXIT_FAILED
    except Exception as exc:  # the account said no: the workflow is not written
        error(f"{trust.what} could not be made: {redact.clip(str(exc), 300)}")
        return EXIT_FAILED
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    print(trust.identity())
    sys.stderr.write(
        f"{trust.made(ns.repo, ns.branch)}\n"
        f"wrote {_shown(path, project)}: commit it; pushes to that branch deploy "
        f"{', '.join(apps.deployed)}, with no stored key.\n"
    )
    for name, why in apps.left:
        sys.stderr.write(f"not {name}: {why}; deploy it from here\n")
    on_server = on_docker_host(a for a in config.apps if a.name in apps.deployed)
    if on_server:
        from pilot_tui.deploy.server_images import server_images

        images = server_images(config)
        where = (
            "the CI worker on the Pilot Server (server.ci_worker; your next deploy from here "
            "starts it there, once `pilot-tui server up` has granted it)"
            if config.server.ci_worker
            else "`pilot-tui server worker`, left running where this .pilot/ is"
            + (
                ""
                if worker_refusal(config) is not None
                else " (or on the Pilot Server itself: pilot-tui config set server.ci_worker true)"
            )
            + ","  # (walk: a comma missing before "releases it")
        )
        sys.stderr.write(
            f"{', '.join(on_server)} {'runs' if len(on_server) == 1 else 'run'} on the Pilot "
            f"Server, which a run cannot reach: a run pushes the image to {images.where} and "
            "leaves a "
            f"deploy request in the state bucket, and {where} releases it with the secrets "
            "held here (none go to GitHub or the bucket)\n"
        )
    if rolled_back:
        sys.stderr.write(
            f"to roll {', '.join(rolled_back)} back from GitHub: the Actions tab's \"Run "
            f'workflow" on {ns.branch}, or gh workflow run pilot.yml --repo {ns.repo} '
            f"-f app={rolled_back[0]} [-f release=vN] (empty: the release before the live "
            "one)\n"
        )
    unrolled = [name for name in apps.deployed if name not in rolled_back]
    if unrolled:
        sys.stderr.write(
            f"{', '.join(unrolled)} {'is' if len(unrolled) == 1 else 'are'} rolled back from "
            "here only: a run has none of the secrets' versions their releases ran with\n"
        )
    if pulls is not None:
        sys.stderr.write(
            f"made the role {pulls.runs_as.env[github_oidc.ROLE_ENV]}: only {ns.repo}'s "
            "pull requests' runs may assume it, and it may make and remove previews only "
            "(their own functions and their images' own ECR repositories, never an app's); "
            "each pull request gets previews of "
            f"{', '.join(apps.previewed)} named pr-NUMBER, removed when it is closed (a "
            "fork's pull requests get none: GitHub "
            "gives their runs no token)\n"
        )
        _say_where_previews_go(config, apps.previewed, ns.repo, ns.branch)
    for name, why in apps.unpreviewable:
        sys.stderr.write(f"{name} gets no previews of pull requests: {why}\n")
    from pilot_tui.naming import state_bucket

    sys.stderr.write(
        f"the runs record their releases in the state bucket {state_bucket(config.project.name)}\n"
    )
    for name in shared:
        sys.stderr.write(f"shared this machine's release history of {name} for the runs\n")
    if config.server.home == "sandbox":
        sys.stderr.write(
            "note: this is the sandbox: its AWS account is simulated on this machine, so the "
            "roles exist only here and a GitHub run cannot assume them; the workflow works once "
            'the project is on AWS (server.home = "aws") and `ci github` has run again\n'
        )
    if apps.secrets:
        sys.stderr.write(
            "the workflow passes each secret from the repository's secret of the same name; "
            "set them once:\n"
        )
        for name in apps.secrets:
            sys.stderr.write(f"  gh secret set {name} --repo {ns.repo}\n")
    if pulls is not None and apps.preview_secrets:
        sys.stderr.write(
            "a preview never gets the app's secrets: each comes from the repository's "
            "secret PREVIEW_NAME, left unset in the preview when there is none:\n"
        )
        for name in apps.preview_secrets:
            sys.stderr.write(f"  gh secret set PREVIEW_{name} --repo {ns.repo}\n")
    return EXIT_OK


def _rolled_back_by_runs(config: PilotConfig, deployed: list[str]) -> list[str]:
    """Of ``deployed``, the apps a run may roll back: the server's (its worker holds the
    versions of their secrets) and those with no secrets (each release's secrets' version
    stays on the machine that made it: a run has none of them)."""
    on_server = on_docker_host(config.apps)
    return [
        app.name
        for app in config.apps
        if app.name in deployed and (app.name in on_server or not app.secrets)
    ]


def _say_how_it_differs(yours: str, ours: str, most: int = 40) -> None:
    """The lines --force would change in the workflow, as a diff (its first ``most``):
    edits of your own are seen before they are replaced (found walking)."""
    import difflib

    lines = list(
        difflib.unified_diff(
            yours.splitlines(), ours.splitlines(), "yours", "Pilot's", n=1, lineterm=""
        )
    )
    for line in lines[:most]:
        sys.stderr.write(f"  {line}\n")
    if len(lines) > most:
        sys.stderr.write(f"  ... and {len(lines) - most} more lines\n")


def _say_where_previews_go(
    config: PilotConfig, previewed: list[str], repo: str, branch: str
) -> None:
    """Who removes which apps' expired previews, and what a pull request's preview of a
    Docker host app gets there."""
    pruned = _pruned_by_runs(config, previewed)
    if pruned:
        sys.stderr.write(
            f"every hour a scheduled run removes the expired previews of "
            f"{', '.join(pruned)} (GitHub schedules it on the default branch: "
            f"the role admits {branch})\n"
        )
    kept = [name for name in previewed if name not in pruned]
    if kept:
        sys.stderr.write(
            f"the previews of {', '.join(kept)} run on the Pilot Server: its worker makes "
            "and removes them, with the previews' secrets held there "
            "(.pilot/secrets/previews), and its agent removes those past their TTL; "
            "a pull request's code runs there, beside the apps\n"
        )
        copied = [
            f"{db.name} ({', '.join(a for a in db.apps if a in kept)})"
            for db in config.databases
            if db.preview == "copy-of-latest-backup" and any(a in kept for a in db.apps)
        ]
        if copied:
            sys.stderr.write(
                "warning: each pull request's preview gets a copy of the latest backup of "
                f"{', '.join(copied)}: anyone who may open one in {repo} reads that "
                'data; set the database\'s preview = "empty" to give them none\n'
            )


def _pruned_by_runs(config: PilotConfig, previewed: list[str]) -> list[str]:
    """Of ``previewed``, the apps whose expired previews the hourly run removes: not the
    Docker host's, which the run cannot reach (the server's agent removes those)."""
    on_server = on_docker_host(a for a in config.apps if a.name in previewed)
    return [name for name in previewed if name not in on_server]


def _share_history(config: PilotConfig, project: Project, apps: list[str]) -> list[str]:
    """Make the state bucket (with the admin's credentials: a run's role may not) and put
    this machine's history of each of ``apps`` there when it has none yet, so a run's first
    deploy continues it; the apps whose history went up."""
    from pilot_tui.deploy import history
    from pilot_tui.deploy.shared_history import shared_history

    shared = shared_history(config, project.state_dir, project.root, start=True)
    if shared is None:
        return []
    if shared.create is not None:
        shared.create()
    put = []
    for app in apps:
        if history.load(project.state_dir, app) and not shared.has(app):
            shared.seen[app] = ""  # written only while still absent (a run may record first)
            shared.push(project.state_dir, app)
            put.append(app)
    return put


def remove(ns: argparse.Namespace) -> int:
    from pilot_tui import redact
    from pilot_tui.cloud import github_oidc

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    project = Project(pf.path)
    path = project.root / github_oidc.WORKFLOW
    written = path.read_text(encoding="utf-8") if path.is_file() else None
    cloud = workflow_cloud(written, config)
    # Undoing needs the cloud only: not the home `ci github` wanted (it may have moved).
    refused = home_refusal(cloud, config) if cloud == "gcp" else None
    if refused is not None:
        error(refused)
        return EXIT_INVALID
    running: list[str] = []
    keep: list[str] = []
    try:
        trust = trust_for(cloud, config, project)
    except Exception as exc:  # no credentials, or none that sign in
        error(f"cannot sign in to {CLOUD_NAMES[cloud]}: {redact.clip(str(exc), 300)}")
        say(f"hint: {(GcpCiTrust if cloud == 'gcp' else AwsCiTrust).credentials_hint}")
        return EXIT_FAILED
    what = trust.what
    try:
        if isinstance(trust, AwsCiTrust):
            try:
                running = _running_as_previews_role(trust, config)
            except Exception as exc:  # not known: the role stays, rather than break previews
                running = [
                    f"(unknown: the functions could not be listed: {redact.clip(str(exc), 120)})"
                ]
            keep = [preview_execution_role(config.project.name)] if running else []
            removed = trust.trust.remove(keep)
            try:  # (after the roles: a refusal here is said as its own, roles removed)
                removed += _servers_previews_repositories(trust, config)
            except Exception as exc:
                say(
                    "warning: the previews' ECR repositories of the server's apps were not "
                    f"deleted: {redact.clip(str(exc), 200)}"
                )
        else:
            assert isinstance(trust, GcpCiTrust)
            removed = trust.trust.remove()
    except Exception as exc:
        error(f"{what} could not be removed: {redact.clip(str(exc), 300)}")
        return EXIT_FAILED
    if running:
        say(
            f"kept IAM role {keep[0]}: the previews {', '.join(running)} run as it (without "
            "it they would fail); remove them (pilot-tui preview destroy APP NAME) or deploy "
            "them again from here, then `ci remove` again"
        )
    for line in removed:
        sys.stderr.write(f"removed {line}\n")
    if not removed:
        sys.stderr.write("nothing to remove\n")
    elif cloud == "gcp":
        sys.stderr.write(
            "a run that had the CI account's access token keeps it until it expires (an "
            "hour at most): Google revokes none on removal\n"
        )
    if written is not None:
        sys.stderr.write(f"{_shown(path, project)} is left for you to delete and commit\n")
    return EXIT_OK


def _servers_previews_repositories(trust: AwsCiTrust, config: PilotConfig) -> list[str]:
    """The previews' ECR repositories of the server's apps, deleted: `ci github` made them
    for pull requests' runs alone (the worker's engine keeps the images of the previews
    running). An image app's stay: a preview deployed from a machine pushes there too,
    and `app destroy` or `server destroy` deletes them."""
    from pilot_tui.deploy.registry import delete_ecr_repository
    from pilot_tui.deploy.targets import on_docker_host
    from pilot_tui.naming import preview_repository

    ecr = trust.aws.client("ecr")
    names = [preview_repository(config.project.name, app) for app in on_docker_host(config.apps)]
    return [f"ECR repository {name}" for name in names if delete_ecr_repository(ecr, name)]


def _running_as_previews_role(trust: AwsCiTrust, config: PilotConfig) -> list[str]:
    """The functions that run as the role `ci github` made for previews (their names)."""
    from pilot_tui.naming import prefix

    role = f":role/{preview_execution_role(config.project.name)}"
    pages = trust.aws.client("lambda").get_paginator("list_functions").paginate()
    return [
        f["FunctionName"]
        for page in pages
        for f in page["Functions"]
        if f["FunctionName"].startswith(prefix(config.project.name)) and f["Role"].endswith(role)
    ]


def _shown(path: Path, project: Project) -> str:
    return str(path.relative_to(project.root))
