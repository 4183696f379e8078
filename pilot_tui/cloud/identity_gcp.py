"""The GCP deployer: a service account `pilot-PROJECT-deployer` that deploys use instead
of the admin's credentials, made at setup (with the admin's credentials), with key rotation.

No IAM / Resource Manager emulator exists (only GCS has one), so every call is built as
data by the pure functions below and sent through a gcp_api.Transport; tests drive it with
a recording fake. The key goes to .pilot/keys/gcp-deployer.json (0600) and is never
printed; rotating stores the new key before deleting the others, so exactly one exists."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pilot_tui import redact
from pilot_tui.cloud.clients import GCP_KEY_FILE as KEY_FILE
from pilot_tui.cloud.clients import google_transport
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest, Transport, exists_ok, gone_ok
from pilot_tui.cloud.gcp_resources import (
    create_secret_request,
    ensure_repository,
    repository_url,
    secret_url,
)
from pilot_tui.cloud.identity_aws import IdentityError
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.naming import gcp_account_id, labels, secret_id, site_bucket, state_bucket

IAM = "https://iam.googleapis.com/v1/"
CRM = "https://cloudresourcemanager.googleapis.com/v1/"
# Project-level roles, only for what setup cannot name: the rest is granted on each
# resource (RESOURCE_ROLES), which setup makes from pilot.toml with the admin's credentials.
DEPLOYER_ROLES = (
    # Metadata only (no secret value): `app destroy` lists the app's secrets by label.
    "roles/secretmanager.viewer",
    # A Cloud Run service is made by its first deploy, so it cannot be named at setup;
    # run.developer cannot call setIamPolicy on it for the allUsers invoker binding (a
    # project policy refuses allUsers). run.admin adds only that: IAM on Cloud Run resources.
    "roles/run.admin",
    # Backend buckets, URL maps, addresses, certificates, proxies, forwarding rules.
    "roles/compute.loadBalancerAdmin",
    "roles/logging.viewer",  # `pilot-tui logs` for Cloud Run apps
)
# On one resource each: the project's Artifact Registry repository (push, delete images),
# each Cloud Run secret (add versions, let the runtime account read it, delete it), each
# site bucket (upload, make it public through bucket IAM, delete it) and the state bucket
# (release history). An app or secret added later needs setup again (`pilot-tui deployer
# create --cloud gcp`): the deployer can create no bucket or secret of its own.
RESOURCE_ROLES = {
    "repository": "roles/artifactregistry.repoAdmin",
    "secret": "roles/secretmanager.admin",
    "bucket": "roles/storage.admin",
    "state": "roles/storage.objectAdmin",
}
ACCESSOR = "roles/secretmanager.secretAccessor"
STORAGE = "https://storage.googleapis.com/storage/v1"
# Granted on the Cloud Run runtime account only, not the project: project-wide it would let
# the deployer act as (deploy code running as) any service account, the admin's included.
ACT_AS = "roles/iam.serviceAccountUser"
NEEDS_SETUP = (
    "setup makes it with an admin's credentials: run `pilot-tui deployer create "
    "--cloud gcp` (or `pilot-tui server up`) after adding an app or a secret"
)
# What the admin running setup needs (named when Google answers 403).
ADMIN_ROLES = (
    "roles/iam.serviceAccountAdmin, roles/iam.serviceAccountKeyAdmin and "
    "roles/resourcemanager.projectIamAdmin"
)
SET_ATTEMPTS = 6  # a new account takes seconds to be visible to setIamPolicy


# -- requests as data ------------------------------------------------------------------
def account_email(project: str, gcp_project: str, role: str = "deployer") -> str:
    return f"{gcp_account_id(project, role)}@{gcp_project}.iam.gserviceaccount.com"


def runtime_account_email(project: str, gcp_project: str) -> str:
    """What the project's Cloud Run services run as: an account of their own with no role
    but reading their secrets (the default compute account is an editor of the project)."""
    return account_email(project, gcp_project, "run")


def accounts_url(gcp_project: str) -> str:
    return f"{IAM}projects/{gcp_project}/serviceAccounts"


def account_url(gcp_project: str, email: str) -> str:
    return f"{accounts_url(gcp_project)}/{email}"


def project_url(gcp_project: str) -> str:
    return f"{CRM}projects/{gcp_project}"


def create_account_request(project: str, gcp_project: str, role: str = "deployer") -> ApiRequest:
    what = {
        "deployer": ("Pilot deployer", "used by deploys (least privilege)"),
        "run": ("Pilot Cloud Run apps", "what the Cloud Run apps run as"),
    }[role]
    return ApiRequest(
        "POST",
        accounts_url(gcp_project),
        body={
            "accountId": gcp_account_id(project, role),
            "serviceAccount": {
                "displayName": f"{what[0]} of {project}",
                "description": f"Made by pilot-tui setup; {what[1]}",
            },
        },
    )


def delete_account_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest("DELETE", account_url(gcp_project, email))


def create_key_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{account_url(gcp_project, email)}/keys",
        body={"privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE"},
    )


def list_keys_request(gcp_project: str, email: str) -> ApiRequest:
    return ApiRequest(
        "GET", f"{account_url(gcp_project, email)}/keys", params={"keyTypes": "USER_MANAGED"}
    )


def delete_key_request(key_name: str) -> ApiRequest:
    """``key_name`` as the API returns it: projects/P/serviceAccounts/E/keys/ID."""
    return ApiRequest("DELETE", IAM + key_name)


def get_policy_request(resource_url: str) -> ApiRequest:
    """Version 3 so conditional bindings come back whole (a set of a version-1 read of a
    policy with conditions would be refused)."""
    return ApiRequest(
        "POST", f"{resource_url}:getIamPolicy", body={"options": {"requestedPolicyVersion": 3}}
    )


def set_policy_request(resource_url: str, policy: dict[str, Any]) -> ApiRequest:
    """``policy`` carries the etag read with it: a concurrent change makes this a 409."""
    return ApiRequest("POST", f"{resource_url}:setIamPolicy", body={"policy": policy})


def get_resource_policy_request(resource_url: str) -> ApiRequest:
    """Artifact Registry and Secret Manager read a policy with GET (v1)."""
    return ApiRequest(
        "GET", f"{resource_url}:getIamPolicy", params={"options.requestedPolicyVersion": 3}
    )


def get_bucket_policy_request(bucket_url: str) -> ApiRequest:
    return ApiRequest("GET", f"{bucket_url}/iam", params={"optionsRequestedPolicyVersion": 3})


def set_bucket_policy_request(bucket_url: str, policy: dict[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", f"{bucket_url}/iam", body=policy)


class PolicyApi(NamedTuple):
    """How one kind of resource reads and writes its IAM policy."""

    get: Callable[[str], ApiRequest]
    set: Callable[[str, dict[str, Any]], ApiRequest]


IAM_POLICY = PolicyApi(get_policy_request, set_policy_request)  # projects, accounts
RESOURCE_POLICY = PolicyApi(get_resource_policy_request, set_policy_request)
BUCKET_POLICY = PolicyApi(get_bucket_policy_request, set_bucket_policy_request)


def bucket_url(bucket: str) -> str:
    return f"{STORAGE}/b/{bucket}"


def create_bucket_request(gcp_project: str, bucket: str, location: str) -> ApiRequest:
    """A site bucket as gcs_site.GcsSite makes it: uniform access, served as a website."""
    return ApiRequest(
        "POST",
        f"{STORAGE}/b",
        params={"project": gcp_project},
        body={
            "name": bucket,
            "location": location,
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}},
            "website": {"mainPageSuffix": "index.html", "notFoundPage": "404.html"},
        },
    )


@dataclass(frozen=True)
class Resources:
    """What deploys will use that setup can name now, from pilot.toml."""

    region: str
    repository: bool = False  # a Cloud Run app: the project's Artifact Registry repository
    secrets: tuple[tuple[str, str], ...] = ()  # (app, Secret Manager id) of Cloud Run apps
    buckets: tuple[str, ...] = ()  # GCS site buckets
    state_bucket: str | None = None  # state.backend = "gcs": release history lives there


def resources_for(config: Any) -> Resources:
    project, runs = config.project.name, [a for a in config.apps if a.target.kind == "cloud-run"]
    return Resources(
        config.gcp.region,
        repository=bool(runs),
        secrets=tuple(
            (a.name, secret_id(project, a.name, n)) for a in runs for n in sorted(set(a.secrets))
        ),
        buckets=tuple(
            site_bucket(project, a.name) for a in config.apps if a.target.kind == "gcs-cdn"
        ),
        state_bucket=state_bucket(project, config.state.bucket)
        if config.state.backend == "gcs"
        else None,
    )


def default_runtime_account(project_number: str) -> str:
    """What Cloud Run services run as when they name no account (Pilot's do not)."""
    return f"{project_number}-compute@developer.gserviceaccount.com"


# -- policies --------------------------------------------------------------------------
def with_member(policy: dict[str, Any], roles: Iterable[str], member: str) -> dict[str, Any] | None:
    """``policy`` with ``member`` in each of ``roles``, or None when it is already there.
    Other bindings, conditional ones of the same role included, are kept as they are."""
    bindings = [dict(b) for b in policy.get("bindings", [])]
    changed = False
    for role in roles:
        plain = next((b for b in bindings if b.get("role") == role and "condition" not in b), None)
        if plain is None:
            bindings.append({"role": role, "members": [member]})
        elif member not in plain.get("members", []):
            plain["members"] = [*plain.get("members", []), member]
        else:
            continue
        changed = True
    return {**policy, "bindings": bindings} if changed else None


def without_member(policy: dict[str, Any], member: str) -> dict[str, Any] | None:
    """``policy`` with ``member`` gone from every binding (also as the deleted:...?uid=
    form IAM gives it once the account is deleted), or None when it was in none."""

    def gone(m: str) -> bool:
        return m == member or m.startswith(f"deleted:{member}?uid=")

    bindings, changed = [], False
    for binding in policy.get("bindings", []):
        members = [m for m in binding.get("members", []) if not gone(m)]
        changed |= len(members) != len(binding.get("members", []))
        if members:  # an empty binding is refused
            bindings.append({**binding, "members": members})
    return {**policy, "bindings": bindings} if changed else None


@contextmanager
def step(what: str, gcp_project: str, needs: str = ADMIN_ROLES) -> Iterator[None]:
    """An API failure as an IdentityError naming the step (never a token or a key: the
    token travels in a header, and ApiError's message is masked by redact)."""
    try:
        yield
    except ApiError as exc:
        hint = ""
        if exc.status in (401, 403):
            hint = f"; the credentials setup runs with need {needs} on {gcp_project}"
        elif "key creation is not allowed" in exc.api_message.lower():
            hint = "; the organization policy iam.disableServiceAccountKeyCreation forbids keys"
        raise IdentityError(
            redact.text(f"{what}: HTTP {exc.status}: {exc.api_message}{hint}")
        ) from exc
    except CloudError as exc:  # network, credentials: no HTTP status
        raise IdentityError(redact.text(f"{what}: {exc}")) from exc


# -- the deployer ----------------------------------------------------------------------
@dataclass
class GcpDeployer:
    transport: Transport
    project: str
    gcp_project: str
    runtime_account: str | None = None  # None: runtime_account_email (Pilot's own)
    resources: Resources | None = None  # what ensure() makes and grants the deployer on
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @property
    def email(self) -> str:
        return account_email(self.project, self.gcp_project)

    @property
    def member(self) -> str:
        return f"serviceAccount:{self.email}"

    def runtime(self) -> str:
        if self.runtime_account is None:
            self.runtime_account = runtime_account_email(self.project, self.gcp_project)
        return self.runtime_account

    def edit_policy(
        self,
        resource_url: str,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        api: PolicyApi = IAM_POLICY,
    ) -> None:
        """Read, change, write back with the etag read. A 409 (someone changed the policy
        since) reads again, once; a 400 for an account IAM does not see yet waits."""
        conflicts = 0
        for attempt in range(SET_ATTEMPTS):
            wanted = change(self.transport(api.get(resource_url)))
            if wanted is None:
                return
            try:
                self.transport(api.set(resource_url, wanted))
                return
            except ApiError as exc:
                if exc.status == 409 and conflicts == 0:
                    conflicts += 1
                elif (
                    exc.status == 400
                    and "does not exist" in exc.api_message
                    and attempt < SET_ATTEMPTS - 1
                ):
                    self.sleep(2.0 * (attempt + 1))
                else:
                    raise

    def ensure(self) -> str:
        """The account (idempotent: 409 = it exists) and its bindings; its email."""
        with step(f"create service account {self.email}", self.gcp_project):
            exists_ok(self.transport, create_account_request(self.project, self.gcp_project))
        with step(f"grant the deploy roles on project {self.gcp_project}", self.gcp_project):
            self.edit_policy(
                project_url(self.gcp_project), lambda p: with_member(p, DEPLOYER_ROLES, self.member)
            )
        with step(f"create the Cloud Run runtime account {self.runtime()}", self.gcp_project):
            exists_ok(self.transport, create_account_request(self.project, self.gcp_project, "run"))
        with step("let it act as the Cloud Run runtime account", self.gcp_project):
            self.edit_policy(
                account_url("-", self.runtime()), lambda p: with_member(p, (ACT_AS,), self.member)
            )
        if self.resources is not None:
            self.grant_on(self.resources)
        return self.email

    def grant_on(self, resources: Resources) -> None:
        """Make each resource setup can name (idempotent: 409 = it exists) and grant the
        deployer its role on that resource alone; the runtime account reads the secrets."""

        def grant(role: str, *more: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
            def change(policy: dict[str, Any]) -> dict[str, Any] | None:
                changed = None
                for member, roles in ((self.member, (role,)), *((m, (ACCESSOR,)) for m in more)):
                    changed = with_member(changed or policy, roles, member) or changed
                return changed

            return change

        gcp = self.gcp_project
        if resources.repository:
            with step(
                "create the Artifact Registry repository", gcp, needs="roles/artifactregistry.admin"
            ):
                ensure_repository(self.transport, gcp, resources.region, self.project)
                self.edit_policy(
                    repository_url(gcp, resources.region, self.project),
                    grant(RESOURCE_ROLES["repository"]),
                    RESOURCE_POLICY,
                )
        runtime = f"serviceAccount:{self.runtime()}"
        for app, secret in resources.secrets:
            with step(
                f"create secret {secret} for app {app}", gcp, needs="roles/secretmanager.admin"
            ):
                exists_ok(
                    self.transport,
                    create_secret_request(gcp, secret, labels(self.project, app)),
                )
                self.edit_policy(
                    secret_url(gcp, secret),
                    grant(RESOURCE_ROLES["secret"], runtime),
                    RESOURCE_POLICY,
                )
        for bucket in resources.buckets:
            with step(f"create bucket {bucket}", gcp, needs="roles/storage.admin"):
                exists_ok(
                    self.transport, create_bucket_request(gcp, bucket, resources.region.upper())
                )
                self.edit_policy(bucket_url(bucket), grant(RESOURCE_ROLES["bucket"]), BUCKET_POLICY)
        if resources.state_bucket:
            with step(
                f"grant the deployer the state bucket {resources.state_bucket}",
                gcp,
                needs="roles/storage.admin",
            ):
                self.edit_policy(
                    bucket_url(resources.state_bucket),
                    grant(RESOURCE_ROLES["state"]),
                    BUCKET_POLICY,
                )

    def rotate(self, keys_dir: Path) -> str:
        """A new key, stored 0600, then every other user-managed key deleted; its id."""
        with step(f"create a key for {self.email}", self.gcp_project):
            made = self.transport(create_key_request(self.gcp_project, self.email))
        try:
            data = base64.b64decode(made["privateKeyData"], validate=True)
            private_key = str(json.loads(data)["private_key"])
            key_id = str(made["name"]).rsplit("/", 1)[1]
        except (KeyError, IndexError, TypeError, ValueError):
            # from None: the undecodable answer may hold the key; it stays out of tracebacks
            raise IdentityError(f"the key made for {self.email} was not a key file") from None
        redact.register([private_key, json.dumps(private_key)[1:-1]])  # as text, as JSON
        path = ensure_private_dir(keys_dir) / KEY_FILE
        if path.exists():
            path.chmod(0o600)  # atomic_write keeps an existing file's mode
        atomic_write(path, data, mode=0o600)
        with step(f"delete the older keys of {self.email}", self.gcp_project):
            listed = self.transport(list_keys_request(self.gcp_project, self.email))
            for key in listed.get("keys", []):  # stored first: a failure leaves a usable key
                if str(key["name"]).rsplit("/", 1)[1] != key_id:
                    gone_ok(self.transport, delete_key_request(key["name"]))
        return key_id

    def remove(self, keys_dir: Path) -> None:
        """Its bindings (project and runtime account), the account (and so its keys), the
        Cloud Run runtime account setup made with it, the local key file. Bindings first:
        once the account is gone they only linger."""

        def drop(policy: dict[str, Any]) -> dict[str, Any] | None:
            return without_member(policy, self.member)

        with step(f"remove the bindings of {self.email}", self.gcp_project):
            self.edit_policy(project_url(self.gcp_project), drop)
            try:
                self.edit_policy(account_url("-", self.runtime()), drop)
            except ApiError as exc:
                if exc.status != 404:  # no runtime account: nothing bound on it
                    raise
        with step(f"delete service account {self.email}", self.gcp_project):
            gone_ok(self.transport, delete_account_request(self.gcp_project, self.email))
        with step(f"delete the Cloud Run runtime account {self.runtime()}", self.gcp_project):
            gone_ok(self.transport, delete_account_request(self.gcp_project, self.runtime()))
        (keys_dir / KEY_FILE).unlink(missing_ok=True)


# -- what setup and deploys call -------------------------------------------------------
def wants_gcp_deployer(config: Any) -> bool:
    """The server is on GCP, or an app is."""
    from pilot_tui.config.schema import GCP_TARGETS

    return config.server.home == "gcp" or any(a.target.kind in GCP_TARGETS for a in config.apps)


def setup_gcp_deployer(
    config: Any, root: Path, state_dir: Path, *, transport: Transport | None = None
) -> tuple[str, str | None]:
    """Run by setup with the admin's credentials (gcp.credentials): the account, its
    bindings, the resources pilot.toml names (each with the deployer's grant on it: the
    repository, the Cloud Run apps' secrets, the site buckets), the Cloud Run runtime
    account, and a key when none is stored yet. (email, new key id or None)."""
    if config.server.home == "sandbox":
        raise IdentityError(
            "the GCP deployer cannot be made in the sandbox: there is no IAM "
            'emulator; set server.home = "gcp" to make it on Google Cloud'
        )
    gcp_project = config.gcp.project
    if not gcp_project:
        raise IdentityError("the GCP deployer needs gcp.project in pilot.toml")
    if transport is None:
        with step("sign in with gcp.credentials", gcp_project):
            transport = google_transport(config, root, role="admin")
    deployer = GcpDeployer(
        transport, config.project.name, gcp_project, resources=resources_for(config)
    )
    email = deployer.ensure()
    keys = state_dir / "keys"
    key_id = None if (keys / KEY_FILE).is_file() else deployer.rotate(keys)
    return email, key_id
