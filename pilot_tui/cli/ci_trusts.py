"""What `pilot-tui ci github` sets up in each cloud, one class per cloud chosen in one
place (``trust_for``): the trust a run acts through, what the workflow names, and what is
said once it is made. The state bucket's cloud decides (from_ci.ci_cloud)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pilot_tui import redact
from pilot_tui.cloud import github_oidc
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import PilotError
from pilot_tui.project import Project

if TYPE_CHECKING:
    from pilot_tui.cloud.clients import Aws
    from pilot_tui.cloud.identity_github import GithubTrust
    from pilot_tui.cloud.identity_github_gcp import GcpGithubTrust


class RepositoryNotMade(PilotError):
    """A previews' image repository `ci github` could not make (before any trust)."""

    title = "ECR repository not made"


class CiTrust:
    """One cloud's trust for GitHub's runs, made with the admin's credentials."""

    what: ClassVar[str]  # named when it cannot be made or removed
    credentials_hint: ClassVar[str]

    def runs_as(self) -> github_oidc.RunsAs:
        raise NotImplementedError

    def preview_runs_as(self) -> github_oidc.RunsAs:
        raise NotImplementedError

    def ensure(self, repo: str, branch: str, previewed: list[str]) -> None:
        raise NotImplementedError

    def identity(self) -> str:
        """What the runs act as, printed for scripts."""
        raise NotImplementedError

    def made(self, repo: str, branch: str) -> str:
        """What was made, and who may use it."""
        raise NotImplementedError


@dataclass
class AwsCiTrust(CiTrust):
    trust: GithubTrust
    aws: Aws  # the admin's, to look at what runs as the previews' role
    region: str
    config: PilotConfig
    repositories: list[str] = field(default_factory=list)  # the previews' ones ensured
    what: ClassVar[str] = "the IAM role"
    credentials_hint: ClassVar[str] = (
        "this needs your own AWS credentials: pilot-tui credentials, or aws.profile in pilot.toml"
    )

    def runs_as(self) -> github_oidc.RunsAs:
        return github_oidc.aws_role(self.trust.arn(), self.region)

    def preview_runs_as(self) -> github_oidc.RunsAs:
        return github_oidc.aws_role(self.trust.preview_arn(), self.region)

    def ensure(self, repo: str, branch: str, previewed: list[str]) -> None:
        """The previews' repository of each image app of ``previewed`` (which the pull
        requests' role may push to but neither make nor let Lambda pull from), then the
        roles."""
        from pilot_tui.deploy.registry import ensure_ecr_repository
        from pilot_tui.deploy.targets import on_docker_host, target_for
        from pilot_tui.naming import preview_repository

        images = [
            a.name for a in self.config.apps if a.name in previewed and target_for(a).needs_docker()
        ]
        servers = on_docker_host(a for a in self.config.apps if a.name in previewed)
        project = self.config.project.name
        self.trust.check_previews(previewed, images, servers)  # before a repository is made
        self.repositories = []
        for app in images:
            repository = preview_repository(project, app)
            try:
                ensure_ecr_repository(
                    self.aws.client("ecr"), repository, project, lambda_pulls=app not in servers
                )
            except Exception as exc:  # said as the repository's, not the role's
                raise RepositoryNotMade(
                    f"the ECR repository of {app}'s previews' images, {repository}, could not "
                    f"be made: {redact.clip(str(exc), 300)}"
                ) from exc
            self.repositories.append(
                f"{repository} (the deploy worker pulls from it)"
                if app in servers
                else f"{repository} (Lambda may pull from it)"
            )
        self.trust.ensure(repo, branch, previewed, images, servers)

    def identity(self) -> str:
        return self.trust.arn()

    def made(self, repo: str, branch: str) -> str:
        images = "".join(
            f"\nthe pull requests' previews push their images to ECR repository {name}"
            for name in self.repositories
        )
        return (
            f"made the role {self.trust.arn()}: only runs on {repo}'s {branch} may assume it "
            "(not its pull requests, another branch or a tag), and it may do what the "
            "deployer may, but of the state bucket only the release history, the leases "
            "and the deploy requests (never the Terraform state or a backup)." + images
        )


@dataclass
class GcpCiTrust(CiTrust):
    trust: GcpGithubTrust
    config: PilotConfig
    state_dir: Path | None = None  # where the deployer's key is, when setup made one
    what: ClassVar[str] = "the workload identity pool"
    credentials_hint: ClassVar[str] = (
        "this needs your own Google credentials (gcp.credentials in pilot.toml, or "
        "Application Default Credentials: gcloud auth application-default login) with "
        "roles/iam.workloadIdentityPoolAdmin besides the deployer's setup roles"
    )

    def runs_as(self) -> github_oidc.RunsAs:
        runs = self.trust.runs_as()
        return github_oidc.gcp_account(runs.provider, runs.email)

    def preview_runs_as(self) -> github_oidc.RunsAs:
        raise AssertionError("no previews from CI on Google Cloud (from_ci.ci_apps)")

    def ensure(self, repo: str, branch: str, previewed: list[str]) -> None:
        from pilot_tui.cloud.policy_gcp import ci_resources
        from pilot_tui.deploy.from_ci import ci_apps

        deployed = ci_apps(self.config).deployed
        resources = ci_resources(self.config, deployed)
        self.trust.ensure(repo, branch, resources)
        self._deployer_pulls(deployed)

    def _deployer_pulls(self, deployed: list[str]) -> None:
        """The deployer granted the repository CI pushes the server's apps' images to: the
        worker pulls them with its key (without one, with the admin's credentials, which
        need no grant). Setup grants it for Cloud Run apps alone, so a project whose CI
        pushes nothing has no repository made for it."""
        from pilot_tui.cloud.clients import GCP_KEY_FILE
        from pilot_tui.cloud.identity_gcp import GcpDeployer
        from pilot_tui.cloud.policy_gcp import Resources, ci_pushed_server_apps

        pushed = [a for a in ci_pushed_server_apps(self.config) if a.name in deployed]
        if not pushed or self.state_dir is None:
            return
        if not (self.state_dir / "keys" / GCP_KEY_FILE).is_file():
            return
        trust, region = self.trust, self.config.gcp.region
        deployer = GcpDeployer(trust.transport, trust.project, trust.gcp_project)
        deployer.grant_on(Resources(region, repository=True))

    def identity(self) -> str:
        return self.trust.runs_as().email

    def made(self, repo: str, branch: str) -> str:
        runs = self.trust.runs_as()
        return (
            f"made the workload identity pool {self.trust.pool} with a provider for "
            f"{repo}'s runs: only a push's run of the workflow on its {branch} may act as "
            f"{runs.email} (not its pull requests, another workflow, branch or tag), with "
            "no key; that account may deploy the apps CI deploys (a Cloud Run app as the "
            "deployer may: run.admin on the project, its image, secrets and runtime "
            "account; a Pilot Server app's image pushed to the project's Artifact Registry "
            "repository) and write the release history, the leases and the deploy requests "
            "(never the state bucket's Terraform state or a backup)."
        )


def trust_for(cloud: str, config: PilotConfig, project: Project) -> CiTrust:
    """The project's trust in ``cloud``, with the admin's credentials (the sandbox's local
    AWS API in the sandbox, started when stopped)."""
    if cloud == "gcp":
        from pilot_tui.cloud.clients import google_transport
        from pilot_tui.cloud.identity_github_gcp import GcpGithubTrust

        assert config.gcp.project, "checked by home_refusal"
        transport = google_transport(config, project.root, role="admin")
        github_gcp = GcpGithubTrust(transport, config.project.name, config.gcp.project)
        return GcpCiTrust(github_gcp, config, project.state_dir)
    from pilot_tui.cloud.clients import project_aws
    from pilot_tui.cloud.identity_github import GithubTrust

    sandbox = config.server.home == "sandbox"
    aws = project_aws(config, project.state_dir, sandbox=sandbox, start=True)
    assert aws is not None  # started above
    account = aws.client("sts").get_caller_identity()["Account"]
    github = GithubTrust(aws.client("iam"), config.project.name, account, config.aws.region)
    return AwsCiTrust(github, aws, config.aws.region, config)


def subject_refusal(cloud: str, repo: str, branch: str) -> str | None:
    """Why runs on ``branch`` of ``repo`` cannot be admitted in ``cloud``, or None (asked
    before signing in: nothing to fix there first)."""
    from pilot_tui.cloud import gcp_wif

    subject = gcp_wif.subject(repo, branch)
    if cloud == "gcp" and len(subject.encode()) > gcp_wif.SUBJECT_MAX:
        return (
            f"the runs' subject {subject!r} is longer than the {gcp_wif.SUBJECT_MAX} "
            "bytes Google keeps of it: use a shorter branch name"
        )
    return None


def home_refusal(cloud: str, config: PilotConfig) -> str | None:
    """Why runs cannot act on ``cloud`` from this project's home, or None."""
    home = config.server.home
    if cloud == "aws" and home not in ("aws", "sandbox"):
        return (
            f'the state bucket is on AWS, but server.home is "{home}": keyless CI deploys '
            'on AWS are set up with server.home = "aws" (or the sandbox)'
        )
    if cloud == "gcp" and home == "sandbox":
        return (
            "the sandbox has no Google IAM to make a workload identity pool in: keyless CI "
            'deploys on Google Cloud are set up with server.home = "gcp"'
        )
    if cloud == "gcp" and not config.gcp.project:
        return "keyless CI deploys on Google Cloud need gcp.project in pilot.toml"
    return None


def workflow_cloud(text: str | None, config: PilotConfig) -> str:
    """The cloud a written workflow's runs act on (the one `ci remove` undoes), else the
    state bucket's."""
    from pilot_tui.deploy.from_ci import ci_cloud

    if text is not None and github_oidc.GCP_PROVIDER_ENV in text:
        return "gcp"
    if text is not None and github_oidc.ROLE_ENV in text:
        return "aws"
    if config.state.backend not in ("s3", "gcs") and config.server.home == "gcp":
        return "gcp"
    return ci_cloud(config)
