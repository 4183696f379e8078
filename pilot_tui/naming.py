"""The names and tags of what Pilot makes in a cloud account, in one place.

Everything a project makes is named ``pilot-PROJECT`` or ``pilot-PROJECT-APP[-...]`` and,
on AWS, tagged ``pilot:project = PROJECT``; on Google Cloud it is labelled. The deployer's
least-privilege policies (cloud/policy_aws.py, cloud/policy_gcp.py) allow only these
names and this tag, and `pilot-tui destroy` finds leftovers by them: a name changed here
changes what the deployer may touch, so every maker and every policy reads them from here.
"""

from __future__ import annotations

from typing import TypedDict

from pilot_tui.config.schema import EcsTarget, LambdaTarget

# The tag every AWS resource Pilot makes carries (value: project.name). Where AWS cannot
# scope a policy by name (security groups, distributions, load balancers), the deployer's
# policy allows only resources with this tag, and writing it only while creating them.
PROJECT_TAG = "pilot:project"
# What a preview's labels (containers) or tags (a Lambda preview function) say: whose
# preview, its name, when it expires (previews.py).
PREVIEW_OF = "pilot.preview-of"
PREVIEW = "pilot.preview"
PREVIEW_EXPIRES = "pilot.preview-expires"
# Google Cloud labels (keys allow no ":"), on secrets and repositories.
PROJECT_LABEL = "pilot-project"
APP_LABEL = "pilot-app"
# A preview's, as Google Cloud labels (keys allow no "."): a Cloud Run preview's service.
GCP_PREVIEW_OF = "pilot-preview-of"
GCP_PREVIEW = "pilot-preview"
GCP_PREVIEW_EXPIRES = "pilot-preview-expires"

SECRET_ID_MAX = 255  # Secret Manager's limit on secret ids
CLOUD_RUN_SERVICE_MAX = 49  # Cloud Run's limit on service names
GCP_ACCOUNT_MAX = 30  # IAM's limit on service account ids


class Tag(TypedDict):
    """One AWS tag, in the Key/Value form (what the boto3 stubs call TagTypeDef)."""

    Key: str
    Value: str


def project_tags(project: str) -> list[Tag]:
    """The tags of a resource Pilot makes, in the Key/Value form most AWS APIs take."""
    return [{"Key": PROJECT_TAG, "Value": project}]


def labels(project: str, app: str | None = None) -> dict[str, str]:
    """The Google Cloud labels of a resource of ``project`` (and of one app)."""
    return {PROJECT_LABEL: project, **({APP_LABEL: app} if app is not None else {})}


def project_resource(project: str) -> str:
    """What the project has one of: its ECS cluster, Artifact Registry repository, SSH key."""
    return f"pilot-{project}"


def prefix(project: str) -> str:
    """The start of every per-app name of ``project`` (what the deployer's policy allows)."""
    return f"pilot-{project}-"


def image_repository(project: str, app: str) -> str:
    """The repository an app's images are tagged in on the Docker host (tag: content hash)."""
    return f"pilot/{project}-{app}".lower()


APP_IMAGE = {"pilot": "app"}  # every image Pilot builds for an app (a wrapper's too)


def image_labels(project: str, app: str) -> dict[str, str]:
    """The labels of an image Pilot builds for ``app`` (a preview: APP--NAME): whose it is,
    since two projects' repositories can share a name (acme's blog-web, acme-blog's web).
    A wrapping image built FROM it (Lambda's adapter) inherits them."""
    return {**APP_IMAGE, "pilot.project": project, "pilot.app": app}


def resource_name(project: str, app: str) -> str:
    """The name every cloud resource of an app carries (the deployer's policy allows only
    resources named pilot-PROJECT-*)."""
    return f"pilot-{project}-{app}"


def preview_repository(project: str, app: str) -> str:
    """The ECR repository of an app's previews' images, beside the app's own: ECR grants a
    repository, not a tag, so a pull request's role may push here and never to the app's.
    A path under the app's name (no app's name holds "/"), which the deployer's grant on
    pilot-PROJECT-* covers."""
    return f"{resource_name(project, app)}/previews"


def site_bucket(project: str, app: str) -> str:
    """A static site's bucket (S3 and GCS allow 63 characters)."""
    return f"{resource_name(project, app)}-site"[:63].rstrip("-")


def secret_id(project: str, app: str, name: str) -> str:
    """A Cloud Run app's secret in Secret Manager. Ids allow letters, digits, - and _;
    lower case and - like Pilot's other names."""
    return f"pilot-{project}-{app}-{name}".lower().replace("_", "-")[:SECRET_ID_MAX]


def preview_secret_id(project: str, app: str, name: str) -> str:
    """The Secret Manager secret of ``app``'s previews for secret ``name``, shared by them
    (each preview's release pins its own version). It starts as the app's own do (so `app
    destroy` takes it) and holds "_", which secret_id never gives: no app's own secret can
    have its id."""
    named = name.lower().replace("_", "-")
    return f"{secret_id(project, app, '')}preview_{named}"[:SECRET_ID_MAX]


def parameter_path(project: str, app: str | None = None) -> str:
    """The Parameter Store path of an ECS app's secrets, also its CloudWatch log group."""
    return f"/pilot/{project}" + (f"/{app}" if app is not None else "")


# What of the state bucket a CI run reads and writes: the release history, the leases and
# the deploy requests (shared_history, lease_rules, server_queue), never the Terraform
# state or the databases' backups beside them (policy_aws.ci_policy, policy_gcp).
CI_STATE_PREFIXES = ("pilot/releases/", "pilot/locks/", "pilot/deploys/")


def state_bucket(project: str, configured: str | None = None) -> str:
    """The state bucket: the one [state] names, else pilot-state-PROJECT."""
    return configured or f"pilot-state-{project}"


def lock_table(bucket: str) -> str:
    """The DynamoDB lock table beside an S3 state bucket."""
    return f"{bucket}-lock"


def deployer_user(project: str) -> str:
    """The AWS deployer's IAM user."""
    return f"pilot-{project}-deployer"


def preview_execution_role(project: str) -> str:
    """The role Lambda previews run as when `ci github` made it: their own logs only (a
    pull request's code runs as it; the apps' role may write any log group)."""
    return f"pilot-{project}-lambda-previews"[:64]


def execution_roles(project: str) -> dict[str, str]:
    """The execution roles setup makes (an admin), which deploys may only pass on, by the
    target kind (the schema's) that runs as each."""
    return {
        LambdaTarget.kind: f"pilot-{project}-lambda"[:64],
        EcsTarget.kind: f"pilot-{project}-ecs-exec"[:64],
    }


def gcp_account_id(project: str, role: str = "deployer") -> str:
    """A Google service account Pilot makes: the deployer, or "run" (Cloud Run apps)."""
    return f"pilot-{project}-{role}"[:GCP_ACCOUNT_MAX].rstrip("-")
