"""What an ECS service's description says: whether a revision has rolled out (or failed, and
the previous one serves on), and the app's health for `status`."""

from __future__ import annotations

from typing import Any

from pilot_tui.deploy.targets.ecs.task_definition import short
from pilot_tui.deploy.targets.managed import TargetError


def rolled_out(service: dict[str, Any], arn: str, name: str) -> bool:
    """True once the service ``name`` runs ``arn`` steadily; a failed rollout is a
    TargetError."""
    deployments = service.get("deployments", [])
    failed = [
        d
        for d in deployments
        if d.get("taskDefinition") == arn and d.get("rolloutState") == "FAILED"
    ]
    if failed or service.get("taskDefinition") != arn:  # rolled back, or replaced
        why = failed[0].get("rolloutStateReason", "") if failed else "replaced"
        raise TargetError(
            f"ECS service {name}: {short(arn)} did not become "
            f"healthy ({why}); the previous revision keeps serving"
        )
    primary: dict[str, Any] = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    return bool(
        primary.get("rolloutState") == "COMPLETED"
        and service["runningCount"] >= service["desiredCount"]
    )


def judged(service: dict[str, Any], targets: tuple[int, int] | None) -> tuple[str, str]:
    """(health, detail) of a deployed service; ``targets``: (healthy, all) load balancer
    targets, or None when the load balancer reports none."""
    running, desired = service["runningCount"], service["desiredCount"]
    pending = service.get("pendingCount", 0)
    detail = (
        f"{running}/{desired} tasks running, task definition "
        f"{short(service['taskDefinition'])}{f', {pending} pending' if pending else ''}"
    )
    if targets is not None:  # only what the load balancer reports; none: no claim
        detail += f", {targets[0]}/{targets[1]} load balancer targets healthy"
    failed = [d for d in service.get("deployments", []) if d.get("rolloutState") == "FAILED"]
    if desired == 0:
        health = "stopped"
    elif failed:
        health = (
            f"unhealthy (deployment of {short(failed[0].get('taskDefinition', '?'))}"
            f" failed: {failed[0].get('rolloutStateReason', 'no reason given')})"
        )
    elif running < desired:
        health = f"unhealthy ({running}/{desired} tasks running)"
    elif targets is not None and targets[0] == 0:
        health = "unhealthy (no load balancer target passes the health check)"
    else:
        health = "healthy"
    return health, detail
