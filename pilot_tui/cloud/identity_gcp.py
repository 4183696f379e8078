"""The GCP deployer: a service account `pilot-PROJECT-deployer` that deploys use instead
of the admin's credentials, made at setup (with the admin's credentials), with key rotation.

No IAM / Resource Manager emulator exists (only GCS has one), so every call is built as
data by pure functions (gcp_iam.py; what is granted where: policy_gcp.py) and sent
through a gcp_api.Transport; tests drive it with
a recording fake. The key goes to .pilot/keys/gcp-deployer.json (0600) and is never
printed; rotating stores the new key before deleting the others, so exactly one exists."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.cloud.clients import GCP_KEY_FILE as KEY_FILE
from pilot_tui.cloud.clients import google_transport
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.gcp_api import ApiError, Transport, every_page, exists_ok, gone_ok
from pilot_tui.cloud.gcp_iam import (
    BUCKET_POLICY,
    IAM_POLICY,
    RESOURCE_POLICY,
    STORAGE,
    PolicyApi,
    account_email,
    account_url,
    bucket_url,
    create_account_request,
    create_bucket_request,
    create_key_request,
    delete_account_request,
    delete_key_request,
    list_keys_request,
    preview_runtime_email,
    project_url,
    runtime_account_email,
    with_member,
    with_only_conditional,
    without_member,
    without_roles,
)

# Re-exported for the Cloud Run target, which reads what a service runs as from here.
from pilot_tui.cloud.gcp_iam import default_runtime_account as default_runtime_account
from pilot_tui.cloud.gcp_resources import (
    create_secret_request,
    ensure_repository,
    repository_url,
    secret_url,
    secrets_url,
)
from pilot_tui.cloud.identity_aws import IdentityError
from pilot_tui.cloud.policy_gcp import (
    ACCESSOR,
    ACT_AS,
    CI_ROLES,
    CI_RUN_ROLES,
    DEPLOYER_ROLES,
    REPOSITORY_PUSH,
    RESOURCE_ROLES,
    Resources,
    ci_state_condition,
    resources_for,
)
from pilot_tui.config.schema import PilotConfig
from pilot_tui.fsutil import atomic_write, ensure_private_dir
from pilot_tui.naming import PROJECT_LABEL, labels, resource_name

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
    # Which account: the deployer (its project roles, acting as the Cloud Run runtime
    # account, which it makes), or "ci", what CI runs act as (ci_account: CI_ROLES, and
    # when it deploys Cloud Run apps CI_RUN_ROLES and acting as the runtime account).
    role: str = "deployer"
    project_roles: tuple[str, ...] = DEPLOYER_ROLES

    @property
    def email(self) -> str:
        return account_email(self.project, self.gcp_project, self.role)

    @property
    def is_deployer(self) -> bool:
        return self.role == "deployer"

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
            made = exists_ok(
                self.transport,
                create_account_request(self.project, self.gcp_project, self.role),
            )
        with step(f"grant the deploy roles on project {self.gcp_project}", self.gcp_project):
            self.edit_policy(
                project_url(self.gcp_project),
                lambda p: with_member(p, self.project_roles, self.member),
            )
        if not self.is_deployer:
            if self.resources is not None and self.resources.cloud_run:
                self._act_as_runtime()
            else:
                self._stop_deploying_cloud_run()
            if self.resources is not None:
                self.grant_on(self.resources)
                if made is None:  # there before: an earlier `ci github` may have granted more
                    self._take_back_beyond(self.resources)
            return self.email
        self._act_as_runtime()
        self._rebind_ci()
        if self.resources is not None and self.resources.previews:
            previews = preview_runtime_email(self.project, self.gcp_project)
            with step(f"create the Cloud Run previews' account {previews}", self.gcp_project):
                exists_ok(
                    self.transport,
                    create_account_request(self.project, self.gcp_project, "preview"),
                )
            with step("let it act as the Cloud Run previews' account", self.gcp_project):
                self.edit_policy(
                    account_url("-", previews), lambda p: with_member(p, (ACT_AS,), self.member)
                )
        if self.resources is not None:
            self.grant_on(self.resources)
        return self.email

    def _act_as_runtime(self) -> None:
        """The Cloud Run runtime account (made by whichever comes first, the deployer's
        setup or `ci github`: idempotent), and this account allowed to act as it: a deploy
        names it as its revisions' account."""
        with step(f"create the Cloud Run runtime account {self.runtime()}", self.gcp_project):
            exists_ok(self.transport, create_account_request(self.project, self.gcp_project, "run"))
        with step("let it act as the Cloud Run runtime account", self.gcp_project):
            self.edit_policy(
                account_url("-", self.runtime()), lambda p: with_member(p, (ACT_AS,), self.member)
            )

    def _rebind_ci(self) -> None:
        """CI's account acting as the runtime account again when `ci github` let it deploy
        Cloud Run apps (it holds CI_RUN_ROLES on the project): a `deployer remove` took
        that binding with the account it made again here."""
        ci = f"serviceAccount:{account_email(self.project, self.gcp_project, 'ci')}"
        with step("read the project's bindings", self.gcp_project):
            policy = self.transport(IAM_POLICY.get(project_url(self.gcp_project)))
        if not any(
            b.get("role") in CI_RUN_ROLES and ci in b.get("members", [])
            for b in policy.get("bindings", [])
        ):
            return
        with step("let the CI account act as the Cloud Run runtime account", self.gcp_project):
            self.edit_policy(
                account_url("-", self.runtime()), lambda p: with_member(p, (ACT_AS,), ci)
            )

    def _stop_deploying_cloud_run(self) -> None:
        """CI's account when CI deploys no Cloud Run app (any more): its CI_RUN_ROLES and
        its binding on the runtime account go (`ci github` only ever added them)."""
        with step("drop the Cloud Run grants CI no longer needs", self.gcp_project):
            self.edit_policy(
                project_url(self.gcp_project),
                lambda p: without_roles(p, CI_RUN_ROLES, self.member),
            )
            try:
                self.edit_policy(
                    account_url("-", self.runtime()),
                    lambda p: without_roles(p, (ACT_AS,), self.member),
                )
            except ApiError as exc:
                if exc.status != 404:  # no runtime account: nothing bound on it
                    raise

    def _take_back_beyond(self, resources: Resources) -> None:
        """CI's grants that an earlier `ci github` gave and ``resources`` no longer name,
        taken back: the repository when CI pushes no image (deploys no Cloud Run app and
        none of the server's), and each of the
        project's secrets and site buckets CI deploys nothing of any more (an app taken out
        of pilot.toml, or one CI no longer deploys)."""
        gcp = self.gcp_project

        def drop(role: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
            return lambda policy: without_roles(policy, (role,), self.member)

        def unless_gone(resource: str, role: str, api: PolicyApi) -> None:
            try:
                self.edit_policy(resource, drop(role), api)
            except ApiError as exc:
                # Removed meanwhile, its API never enabled (a project of sites alone), or a
                # neighbour project's bucket this admin may not read: nothing of CI's there.
                if exc.status not in (403, 404):
                    raise

        with step("take back the grants CI no longer needs", gcp):
            if not resources.repository:
                for role in (RESOURCE_ROLES["repository"], REPOSITORY_PUSH):
                    unless_gone(
                        repository_url(gcp, resources.region, self.project), role, RESOURCE_POLICY
                    )
            named = {secret for _, secret in resources.secrets}
            for secret in self._listed(
                secrets_url(gcp), {"filter": f"labels.{PROJECT_LABEL}={self.project}"}, "secrets"
            ):
                if secret not in named:
                    unless_gone(secret_url(gcp, secret), RESOURCE_ROLES["secret"], RESOURCE_POLICY)
            prefix = resource_name(self.project, "")  # pilot-PROJECT-: its site buckets
            for bucket in self._listed(f"{STORAGE}/b", {"project": gcp, "prefix": prefix}, "items"):
                if bucket not in resources.buckets:  # (Pilot's GCS buckets there: sites')
                    unless_gone(bucket_url(bucket), RESOURCE_ROLES["bucket"], BUCKET_POLICY)

    def _listed(self, url: str, params: dict[str, str], key: str) -> list[str]:
        """The short names of what ``url`` lists under ``key``, every page."""
        try:
            items = every_page(self.transport, url, params, key)
        except ApiError as exc:
            if exc.status in (403, 404):  # its API never enabled: nothing made there
                return []
            raise
        return [str(item["name"]).rpartition("/")[2] for item in items]

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
            # CI pushing the server's apps' images alone may push, not delete (least
            # privilege); the other role an earlier `ci github` gave it is taken back.
            role, other = RESOURCE_ROLES["repository"], REPOSITORY_PUSH
            if not self.is_deployer and not resources.cloud_run:
                role, other = other, role

            def swap(policy: dict[str, Any]) -> dict[str, Any] | None:
                dropped = without_roles(policy, (other,), self.member)
                return grant(role)(dropped or policy) or dropped

            with step(
                "create the Artifact Registry repository", gcp, needs="roles/artifactregistry.admin"
            ):
                ensure_repository(self.transport, gcp, resources.region, self.project)
                self.edit_policy(
                    repository_url(gcp, resources.region, self.project),
                    swap if not self.is_deployer else grant(role),
                    RESOURCE_POLICY,
                )
        # Each secret's reader: the apps' runtime account, or for the previews' own the
        # previews' account (never the other's).
        runtime = f"serviceAccount:{self.runtime()}"
        previews = f"serviceAccount:{preview_runtime_email(self.project, gcp)}"
        secrets = [(app, secret, runtime, "") for app, secret in resources.secrets] + [
            (app, secret, previews, "the previews of ") for app, secret in resources.preview_secrets
        ]
        for app, secret, reader, whose in secrets:
            with step(
                f"create secret {secret} for {whose}app {app}",
                gcp,
                needs="roles/secretmanager.admin",
            ):
                exists_ok(
                    self.transport,
                    create_secret_request(gcp, secret, labels(self.project, app)),
                )
                self.edit_policy(
                    secret_url(gcp, secret),
                    grant(RESOURCE_ROLES["secret"], reader),
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
                    self._state_grant(resources.state_bucket, grant(RESOURCE_ROLES["state"])),
                    BUCKET_POLICY,
                )

    def _state_grant(
        self, bucket: str, whole: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
        """The change granting the state bucket: ``whole`` for the deployer (`db backup`
        and `db restore` run with it); for a CI run's account what runs use of it alone
        (policy_gcp.ci_state_condition), an earlier `ci github`'s whole grant taken back."""
        if self.is_deployer:
            return whole
        role, condition = RESOURCE_ROLES["state"], ci_state_condition(bucket)
        return lambda policy: with_only_conditional(policy, role, self.member, condition)

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

    def remove(self, keys_dir: Path | None = None) -> None:
        """Its bindings (project and runtime account), the account (and so its keys), the
        Cloud Run runtime account setup made with it, the local key file. Bindings first:
        once the account is gone they only linger."""

        def drop(policy: dict[str, Any]) -> dict[str, Any] | None:
            return without_member(policy, self.member)

        with step(f"remove the bindings of {self.email}", self.gcp_project):
            self.edit_policy(project_url(self.gcp_project), drop)
            try:  # the deployer acts as it, and CI's account when it deploys Cloud Run
                self.edit_policy(account_url("-", self.runtime()), drop)
            except ApiError as exc:
                if exc.status != 404:  # no runtime account: nothing bound on it
                    raise
        with step(f"delete service account {self.email}", self.gcp_project):
            gone_ok(self.transport, delete_account_request(self.gcp_project, self.email))
        if not self.is_deployer:
            return  # no key, and the runtime account is the deployer's to remove
        with step(f"delete the Cloud Run runtime account {self.runtime()}", self.gcp_project):
            gone_ok(self.transport, delete_account_request(self.gcp_project, self.runtime()))
        previews = preview_runtime_email(self.project, self.gcp_project)
        with step(f"delete the Cloud Run previews' account {previews}", self.gcp_project):
            gone_ok(self.transport, delete_account_request(self.gcp_project, previews))
        if keys_dir is not None:
            (keys_dir / KEY_FILE).unlink(missing_ok=True)


def ci_account(
    transport: Transport,
    project: str,
    gcp_project: str,
    resources: Resources | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> GcpDeployer:
    """The account GitHub Actions runs act as (`pilot-tui ci github`): pilot-PROJECT-ci,
    with CI_ROLES and its grants on ``resources`` (policy_gcp.ci_resources) only; no key.
    When it deploys Cloud Run apps (``resources.cloud_run``) it also gets CI_RUN_ROLES and
    may act as their runtime account. Not the deployer: that one also makes the runtime
    and previews' accounts and holds a key, which a CI run never needs."""
    runs = resources is not None and resources.cloud_run
    return GcpDeployer(
        transport,
        project,
        gcp_project,
        resources=resources,
        sleep=sleep,
        role="ci",
        project_roles=CI_ROLES + (CI_RUN_ROLES if runs else ()),
    )


# -- what setup and deploys call -------------------------------------------------------
def wants_gcp_deployer(config: PilotConfig) -> bool:
    """The server is on GCP, or an app is."""
    return config.server.home == "gcp" or any(a.target.cloud == "gcp" for a in config.apps)


def setup_gcp_deployer(
    config: PilotConfig, root: Path, state_dir: Path, *, transport: Transport | None = None
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
