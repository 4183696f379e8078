"""The Google Cloud side of keyless deploys from GitHub Actions, made with the admin's
credentials by `pilot-tui ci github` and removed by `ci remove` (or `server destroy`):

- the CI account `pilot-PROJECT-ci` (identity_gcp.ci_account): granted on the site
  buckets CI deploys and the state bucket, and Cloud CDN; for the Cloud Run apps CI
  deploys what the deployer holds for them; no key: runs act as it through the pool. Not
  the deployer itself, whose key stays on laptops;
- the Workload Identity pool `pilot-PROJECT` and its provider `github`, which admits a
  push's run of Pilot's workflow on the branch of this repository only
  (gcp_wif.attribute_condition);
- one binding on the CI account: runs whose subject is that branch's, exactly.

A pool or provider deleted less than 30 days ago still holds its id: it is undeleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pilot_tui.cloud import gcp_wif
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest, Transport, gone_ok, wait_operation
from pilot_tui.cloud.gcp_iam import (
    IAM,
    account_url,
    project_url,
    with_member,
    without_members,
)
from pilot_tui.cloud.identity_gcp import GcpDeployer, ci_account, step
from pilot_tui.cloud.policy_gcp import Resources

# What the admin running `ci github` needs besides identity_gcp.ADMIN_ROLES.
POOL_ADMIN = "roles/iam.workloadIdentityPoolAdmin"
ACTIVE_WAITS = 5  # a pool just made can be missing for a moment when its provider is made


@dataclass(frozen=True)
class GcpRunsAs:
    """What a run acts as: the CI account, through the provider (its full name)."""

    provider: str
    email: str


@dataclass
class GcpGithubTrust:
    transport: Transport
    project: str
    gcp_project: str
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _number: str | None = field(default=None, repr=False)

    @property
    def pool(self) -> str:
        return gcp_wif.pool_id(self.project)

    def account(self, resources: Resources | None = None) -> GcpDeployer:
        """The CI account (granted on ``resources`` when it is ensured)."""
        return ci_account(self.transport, self.project, self.gcp_project, resources, self.sleep)

    def number(self) -> str:
        """The project's number: tokens' audiences and principals name the project by it."""
        if self._number is None:
            with step(f"read project {self.gcp_project}", self.gcp_project):
                self._number = str(
                    self.transport(ApiRequest("GET", project_url(self.gcp_project)))[
                        "projectNumber"
                    ]
                )
        return self._number

    def runs_as(self) -> GcpRunsAs:
        return GcpRunsAs(gcp_wif.provider_name(self.number(), self.pool), self.account().email)

    def ensure(self, repo: str, branch: str, resources: Resources) -> GcpRunsAs:
        """The CI account (its grants: ``resources``), the pool, its provider admitting
        Pilot's workflow on ``branch`` of ``repo``, and the account's binding to runs on
        that branch (any earlier binding of the pool's, for another branch or repository,
        replaced)."""
        needs = POOL_ADMIN
        account = self.account(resources)
        email = account.ensure()
        pool = gcp_wif.pool_url(self.gcp_project, self.pool)
        with step(f"create the workload identity pool {self.pool}", self.gcp_project, needs):
            if not self._made(gcp_wif.create_pool_request(self.gcp_project, self.project), pool):
                self._wait(self.transport(gcp_wif.enable_pool_request(self.gcp_project, self.pool)))
        with step(f"create its provider {gcp_wif.PROVIDER_ID}", self.gcp_project, needs):
            provider = gcp_wif.provider_url(self.gcp_project, self.pool)
            create = gcp_wif.create_provider_request(self.gcp_project, self.pool, repo, branch)
            for attempt in range(ACTIVE_WAITS):
                try:
                    made = self._made(create, provider)
                    break
                except ApiError as exc:  # the pool is not visible yet
                    if exc.status != 404 or attempt == ACTIVE_WAITS - 1:
                        raise
                    self.sleep(2.0 * (attempt + 1))
            if not made:  # it was there: it may admit another repository, or be disabled
                update = gcp_wif.update_provider_request(self.gcp_project, self.pool, repo, branch)
                self._wait(self.transport(update))
        member = gcp_wif.principal(self.number(), self.pool, gcp_wif.subject(repo, branch))
        with step(f"let runs on {repo}'s {branch} act as {email}", self.gcp_project):

            def bind(policy: dict[str, Any]) -> dict[str, Any] | None:
                prefixes = gcp_wif.pool_members_prefix(self.number(), self.pool)
                others = without_members(policy, lambda m: m.startswith(prefixes))
                return with_member(others or policy, (gcp_wif.WORKLOAD_USER,), member) or others

            account.edit_policy(account_url("-", email), bind)
        return self.runs_as()

    def remove(self) -> list[str]:
        """The pool's binding on the CI account, the pool with its provider, and the CI
        account (the deployer, the laptop's, stays); what was removed, as lines."""
        removed = []
        account = self.account()
        prefixes = gcp_wif.pool_members_prefix(self.number(), self.pool)
        with step(f"remove the pool's binding on {account.email}", self.gcp_project):
            dropped: list[bool] = []

            def unbind(policy: dict[str, Any]) -> dict[str, Any] | None:
                changed = without_members(policy, lambda m: m.startswith(prefixes))
                dropped.append(changed is not None)
                return changed

            try:
                account.edit_policy(account_url("-", account.email), unbind)
            except ApiError as exc:
                if exc.status != 404:  # no CI account: nothing bound on it
                    raise
            if any(dropped):
                removed.append(f"the binding that let GitHub's runs act as {account.email}")
        with step(f"look for the CI account {account.email}", self.gcp_project):
            made = gone_ok(
                self.transport, ApiRequest("GET", account_url(self.gcp_project, account.email))
            )
        if made is not None:
            account.remove()  # its project roles, then it (it has no key)
            removed.append(f"the CI account {account.email} and its roles on the project")
        # The account first: when the pool cannot be read (a role the admin lacks), what
        # could deploy is gone already.
        needs = POOL_ADMIN
        with step(f"delete the workload identity pool {self.pool}", self.gcp_project, needs):
            url = gcp_wif.pool_url(self.gcp_project, self.pool)
            found = gone_ok(self.transport, ApiRequest("GET", url))
            if found is not None and found.get("state") != "DELETED":
                gone_ok(self.transport, ApiRequest("DELETE", url))
                removed.append(
                    f"the workload identity pool {self.pool} and its provider (Google keeps "
                    "them 30 days, disabled; `ci github` undeletes them)"
                )
        return removed

    def _made(self, create: ApiRequest, url: str) -> bool:
        """Send ``create``; False when it existed (undeleted first when it was deleted)."""
        try:
            self._wait(self.transport(create))
            return True
        except ApiError as exc:
            if exc.status != 409:
                raise
        if self.transport(ApiRequest("GET", url)).get("state") == "DELETED":
            self._wait(self.transport(gcp_wif.undelete_request(url)))
        return False

    def _wait(self, operation: dict[str, Any]) -> None:
        # An operation's "done" is left out while false: it is told by its name.
        if "/operations/" in str(operation.get("name", "")):
            wait_operation(self.transport, operation, api=IAM, sleep=self.sleep, interval=1.0)
