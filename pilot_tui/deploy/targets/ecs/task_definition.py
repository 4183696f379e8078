"""An ECS app's task definition as data: one Fargate container listening on $PORT, its
environment (secrets only as references to their SSM parameters), its logs in CloudWatch."""

from __future__ import annotations

from typing import Any


def short(arn: str) -> str:
    """family:revision of a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


def container(
    app: str,
    image: str,
    port: int,
    env: dict[str, str],
    secrets: dict[str, str],
    logs: tuple[str, str, str],
) -> dict[str, Any]:
    """The container's definition; ``secrets`` {NAME: parameter ARN} leave ``env``;
    ``logs`` is (log group, region, stream prefix: the release)."""
    group, region, release = logs
    # PORT: the app must listen where the load balancer sends.
    environment = {k: v for k, v in env.items() if k not in secrets} | {"PORT": str(port)}
    return {
        "name": app,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        # ECS fetches these at task start: anyone may describe the definition, no value.
        **(
            {"secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())]}
            if secrets
            else {}
        ),
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": group,
                "awslogs-region": region,
                "awslogs-stream-prefix": release,
            },
        },
    }
