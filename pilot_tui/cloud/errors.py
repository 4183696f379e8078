"""The cloud wing's error: a cloud refused a call, or what it needs is missing.

Deploy targets raise the same class (deploy.managed.TargetError is this class), so a refused
Google call (gcp_api.ApiError) or AWS call (aws_errors) is caught wherever a target's
error is, while the cloud wing imports no target."""

from __future__ import annotations

from pilot_tui.errors import PilotError


class CloudError(PilotError):
    """The cloud refused or the target is misconfigured; the message says what and where
    (never a secret)."""

    title = "The cloud target refused"
