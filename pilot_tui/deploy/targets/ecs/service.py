"""AWS ECS on Fargate: one service per app behind its own application load balancer, in the
region's default VPC (no VPC of Pilot's own to pay for or to clean up; see network.py).

Shared by a project's ECS apps: the cluster `pilot-PROJECT` and the task execution role
`pilot-PROJECT-ecs-exec` (removed with the last app). Per app: a log group, the network of
network.Balancer, a task definition family, the service, and one SSM SecureString
parameter per secret, `/pilot/PROJECT/APP/NAME`, which the task definition only refers to
(parameters.py, task_definition.py); rollout.py reads what a service description says.
A revision is a task definition ARN, so a rollback is one update_service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.cloud.aws_errors import aws_call, unless
from pilot_tui.cloud.errors import CloudError
from pilot_tui.cloud.identity_aws import ensure_execution_role
from pilot_tui.config.schema import AppSettings, EcsTarget, PilotConfig
from pilot_tui.deploy.context import CancelToken
from pilot_tui.deploy.targets import managed_watch
from pilot_tui.deploy.targets.base import target_settings
from pilot_tui.deploy.targets.cloudwatch_logs import read_logs
from pilot_tui.deploy.targets.ecs.network import Balancer, Network, until
from pilot_tui.deploy.targets.ecs.parameters import SecretParameters
from pilot_tui.deploy.targets.ecs.rollout import judged, rolled_out
from pilot_tui.deploy.targets.ecs.task_definition import container, short
from pilot_tui.deploy.targets.managed import (
    LogLine,
    Probe,
    Revision,
    Say,
    TargetError,
    TargetStatus,
    aws_clients,
)
from pilot_tui.naming import (
    PROJECT_TAG,
    execution_roles,
    parameter_path,
    project_resource,
    resource_name,
)
from pilot_tui.wording import counted, plural

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_ssm import SSMClient

LOG_RETENTION_DAYS = 30


@dataclass
class EcsService:
    ecs: Any  # untyped: task_definition.container builds its definition as a plain dict
    ec2: Any  # untyped like Balancer's (network.py): the stubs' tag shapes differ by service
    elbv2: Any
    iam: IAMClient
    logs_client: CloudWatchLogsClient
    ssm: SSMClient
    project: str
    app: str
    settings: EcsTarget
    region: str
    secret_names: tuple[str, ...] = ()  # env vars whose values go to SSM, not the definition
    wait: bool = True  # wait for tasks to run; off in the sandbox, where moto runs none
    timeout: float = 900.0
    poll: float = 5.0
    kind: str = field(default="ecs", init=False)
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)  # stops long waits
    # Names the deployer's policy allows: pilot-PROJECT-*, cluster pilot-PROJECT, /pilot/...
    name: str = field(init=False)  # service, task definition family
    cluster: str = field(init=False)
    role: str = field(init=False)
    log_group: str = field(init=False)
    parameters: str = field(init=False)  # the SSM path of the app's secrets
    balancer: Balancer = field(init=False)
    secrets: SecretParameters = field(init=False)

    def __post_init__(self) -> None:
        self.name = resource_name(self.project, self.app)
        self.cluster = project_resource(self.project)
        self.role = execution_roles(self.project)["ecs"]
        self.log_group = self.parameters = parameter_path(self.project, self.app)
        self.balancer = Balancer(
            self.ec2, self.elbv2, self.project, self.app, self.region, self._until
        )
        self.secrets = SecretParameters(
            self.ssm, self.iam, self.project, self.region, self.role, self.parameters
        )

    # -- deploy --------------------------------------------------------------------------
    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        self._ensure_cluster(say)
        role_arn = self._ensure_role(say)
        self._ensure_log_group(say)
        network = self.balancer.ensure(self.settings.port, self.settings.health_path, say)
        secrets = self.secrets.store(self.secret_names, env, role_arn, say)
        arn = self._register(image, env, secrets, release, role_arn)
        say(f"task definition {short(arn)}")
        self._ensure_service(arn, network, say)
        self._settle(arn, say)
        return self._revision(arn, network.dns)

    def _ensure_cluster(self, say: Say) -> None:
        with aws_call(f"ECS cluster {self.cluster}"):
            if self._cluster_active():
                return
            self.ecs.create_cluster(
                clusterName=self.cluster, tags=[{"key": PROJECT_TAG, "value": self.project}]
            )
        say(f"created cluster {self.cluster}")

    def _cluster_active(self) -> bool:  # a deleted cluster stays visible as INACTIVE
        found = self.ecs.describe_clusters(clusters=[self.cluster]).get("clusters", [])
        return any(c.get("status") == "ACTIVE" for c in found)

    def _ensure_role(self, say: Say) -> str:
        with aws_call(f"IAM role {self.role}"):
            arn, created = ensure_execution_role(self.iam, self.project, "ecs")
        if created:
            say(f"created task execution role {self.role}")
        return arn

    def _ensure_log_group(self, say: Say) -> None:
        # Create-and-tolerate rather than describe: the deployer may create, not list.
        with aws_call(f"log group {self.log_group}"):
            if unless(
                ("ResourceAlreadyExistsException",),
                self.logs_client.create_log_group,
                logGroupName=self.log_group,
                tags={PROJECT_TAG: self.project},
            ):
                self.logs_client.put_retention_policy(
                    logGroupName=self.log_group, retentionInDays=LOG_RETENTION_DAYS
                )
                say(f"created log group {self.log_group} ({LOG_RETENTION_DAYS} days)")

    def _register(
        self, image: str, env: dict[str, str], secrets: dict[str, str], release: str, role: str
    ) -> str:
        with aws_call(f"task definition {self.name}"):
            made = self.ecs.register_task_definition(
                family=self.name,
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu=str(self.settings.cpu),
                memory=str(self.settings.memory),
                executionRoleArn=role,
                containerDefinitions=[
                    container(
                        self.app,
                        image,
                        self.settings.port,
                        env,
                        secrets,
                        (self.log_group, self.region, release),
                    )
                ],
                tags=[
                    {"key": PROJECT_TAG, "value": self.project},
                    {"key": "pilot:release", "value": release},
                ],
            )
        return str(made["taskDefinition"]["taskDefinitionArn"])

    def _ensure_service(self, arn: str, network: Network, say: Say) -> None:
        common: dict[str, Any] = {
            "taskDefinition": arn,
            "desiredCount": self.settings.desired_count,
            # The default VPC has no NAT: without a public address no image could be pulled.
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": network.subnets,
                    "securityGroups": [network.task_group],
                    "assignPublicIp": "ENABLED",
                }
            },
            "loadBalancers": [
                {
                    "targetGroupArn": network.target_group,
                    "containerName": self.app,
                    "containerPort": self.settings.port,
                }
            ],
            "healthCheckGracePeriodSeconds": 60,
            # A revision that never gets healthy fails the deploy; the previous one serves on.
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}
            },
        }
        with aws_call(f"ECS service {self.name}"):
            if self._service() is None:
                self.ecs.create_service(
                    cluster=self.cluster, serviceName=self.name, launchType="FARGATE", **common
                )
                say(f"created service {self.name} in cluster {self.cluster}")
            else:
                self.ecs.update_service(cluster=self.cluster, service=self.name, **common)
                say(f"updated service {self.name} to {short(arn)}")

    def _service(self) -> dict[str, Any] | None:
        """The service unless missing or deleted (INACTIVE services stay visible a while)."""
        found = unless(
            ("ClusterNotFoundException",),
            self.ecs.describe_services,
            cluster=self.cluster,
            services=[self.name],
        )
        services = (found or {}).get("services", [])
        return next((dict(s) for s in services if s.get("status") != "INACTIVE"), None)

    def _settle(self, arn: str, say: Say) -> None:
        """Wait until the service runs ``arn`` steadily; a failed rollout is a TargetError."""
        if not self.wait or self.settings.desired_count == 0:
            say("not waiting for tasks to start")
            return
        tasks = counted(self.settings.desired_count, "task")
        say(f"waiting for {tasks} of {short(arn)} to be healthy")

        def settled() -> bool:
            with aws_call(f"ECS service {self.name}"):
                service = self._service()
            if service is None:
                raise TargetError(f"ECS service {self.name} disappeared during the deploy")
            return rolled_out(service, arn, self.name)

        self._until(f"ECS service {self.name} to run {short(arn)}", settled)

    def _until(self, what: str, check: Callable[[], bool]) -> None:
        def checked() -> bool:
            self.cancel.check(f"cancelled while waiting for {what}")  # stop waiting now
            return check()

        until(what, checked, self.timeout, self.poll)  # read now: tests shorten the timeout

    def _revision(self, arn: str, dns: str | None) -> Revision:
        s = self.settings
        return Revision(
            ref=arn,
            url=f"http://{dns}/" if dns else "-",
            detail=f"task definition {short(arn)}: {s.desired_count} Fargate "
            f"{plural(s.desired_count, 'task')} of {s.cpu} CPU units, {s.memory} MB",
        )

    # -- rollback, status, logs ----------------------------------------------------------
    def activate(self, ref: str, say: Say, *, wait: bool = True) -> Revision:
        with aws_call(f"task definition {ref}"):
            found = unless(
                ("ClientException", "InvalidParameterException"),
                self.ecs.describe_task_definition,
                taskDefinition=ref,
            )
        if found is None:
            raise TargetError(f"task definition {ref} does not exist (deregistered?)")
        if found["taskDefinition"]["family"] != self.name:
            raise TargetError(
                f"task definition {ref} is not one of app {self.app}'s (family {self.name})"
            )
        with aws_call(f"ECS service {self.name}"):
            if self._service() is None:
                raise TargetError(
                    f"app {self.app} is not deployed on ECS (no service "
                    f"{self.name} in cluster {self.cluster})"
                )
            self.ecs.update_service(cluster=self.cluster, service=self.name, taskDefinition=ref)
            say(f"service {self.name} now runs {short(ref)}")
        if wait:
            self._settle(ref, say)
        with aws_call(f"load balancer {self.balancer.short}"):
            return self._revision(ref, self.balancer.dns())

    def probe(self, path: str, revision: str | None = None) -> Probe | None:
        """A GET of ``path`` through the load balancer, as a visitor asks it (what the
        service runs answers). A task definition that does not run has no address of its
        own: asked for one, no verdict. None in the sandbox: nothing answers there."""
        if not self.wait or self.settings.desired_count == 0:
            return None  # the sandbox (moto runs no task), or no task: nothing answers
        if revision is not None:
            return Probe(None, f"{short(revision)} has no address of its own")
        try:
            with aws_call(f"load balancer {self.balancer.short}"):
                dns = self.balancer.dns()
        except CloudError as exc:
            return Probe(None, redact.clip(str(exc), 160))
        if not dns:
            return Probe(None, f"load balancer {self.balancer.short} has no address")
        return managed_watch.http_probe(f"http://{dns}{path}")

    def serving(self) -> str | None:
        try:
            with aws_call(f"ECS service {self.name}"):
                service = self._service()
        except CloudError:  # unknown: the caller decides on its own record
            return None
        return str(service["taskDefinition"]) if service else None

    def status(self) -> TargetStatus:
        with aws_call(f"ECS service {self.name}"):
            service = self._service()
            if service is None:
                return TargetStatus("not deployed", "-")
            dns = self.balancer.dns()
            targets = self.balancer.targets(service.get("loadBalancers", []))
        health, detail = judged(service, targets)
        return TargetStatus(health, f"http://{dns}/" if dns else "-", detail)

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        return iter(read_logs(self.logs_client, self.log_group, since, limit))

    # -- removal -------------------------------------------------------------------------
    def destroy(self, say: Say) -> list[str]:
        done: list[str] = []

        def did(line: str) -> None:
            done.append(line)
            say(line)

        with aws_call(f"ECS service {self.name}"):
            service = self._service()
            if service is not None and service.get("status") == "ACTIVE":  # not DRAINING yet
                if service.get("desiredCount"):
                    self.ecs.update_service(cluster=self.cluster, service=self.name, desiredCount=0)
                self.ecs.delete_service(cluster=self.cluster, service=self.name, force=True)
                did(f"deleted service {self.name}")
            # Draining tasks still hold the target group and the security groups.
            self._until(f"service {self.name} to drain", lambda: self._service() is None)
        self._deregister_definitions(did)
        self.balancer.destroy(did)
        with aws_call(f"log group {self.log_group}"):
            if (
                unless(
                    ("ResourceNotFoundException",),
                    self.logs_client.delete_log_group,
                    logGroupName=self.log_group,
                )
                is not None
            ):
                did(f"deleted log group {self.log_group}")
        self.secrets.destroy(did)
        self._destroy_shared(did, say)
        if not done:
            say(f"nothing left to remove for app {self.app} on ECS")
        return done

    def _deregister_definitions(self, did: Say) -> None:
        with aws_call(f"task definitions {self.name}"):
            arns = [
                a
                for page in self.ecs.get_paginator("list_task_definitions").paginate(
                    familyPrefix=self.name, status="ACTIVE"
                )
                for a in page["taskDefinitionArns"]
                if short(a).rsplit(":", 1)[0] == self.name
            ]  # a prefix matches -api2 too
            for arn in arns:
                self.ecs.deregister_task_definition(taskDefinition=arn)
            if arns:
                did(f"deregistered task definitions {', '.join(short(a) for a in arns)}")

    def _destroy_shared(self, did: Say, say: Say) -> None:
        """The cluster goes with the project's last ECS service (the execution role stays:
        it belongs to setup)."""
        with aws_call(f"ECS cluster {self.cluster}"):
            active, others = self._cluster_active(), []
            if active:
                arns = [
                    a
                    for page in self.ecs.get_paginator("list_services").paginate(
                        cluster=self.cluster
                    )
                    for a in page["serviceArns"]
                ]
                for start in range(0, len(arns), 10):  # describe takes 10 at a time
                    others += [
                        s["serviceName"]
                        for s in self.ecs.describe_services(
                            cluster=self.cluster, services=arns[start : start + 10]
                        )["services"]
                        if s.get("status") != "INACTIVE" and s["serviceName"] != self.name
                    ]
            if others:
                say(f"kept cluster {self.cluster}: still used by {', '.join(sorted(others))}")
                return
            if active:
                self.ecs.delete_cluster(cluster=self.cluster)
                did(f"deleted cluster {self.cluster}")
        say(
            f"kept role {self.role}: setup made it, and `pilot-tui deployer remove` removes "
            "it with the deployer"
        )


def open_ecs(config: PilotConfig, state_dir: Path, root: Path, app: AppSettings) -> EcsService:
    """The ECS target of ``app`` with clients from aws_clients (sandbox, deployer, profile)."""
    make = aws_clients(config, state_dir)
    return EcsService(
        ecs=make("ecs"),
        ec2=make("ec2"),
        elbv2=make("elbv2"),
        iam=make("iam"),
        logs_client=make("logs"),
        ssm=make("ssm"),
        project=config.project.name,
        app=app.name,
        settings=target_settings(app, EcsTarget),
        region=config.aws.region,
        secret_names=tuple(app.secrets),
        wait=config.server.home != "sandbox",
    )  # moto records services, never starts tasks
