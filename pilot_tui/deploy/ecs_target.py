"""AWS ECS on Fargate: one service per app behind its own application load balancer, in the
region's default VPC (no VPC of Pilot's own to pay for or to clean up).

Shared by a project's ECS apps: the cluster `pilot-PROJECT` and the task execution role
`pilot-PROJECT-ecs-exec` (removed with the last app). Per app: a log group, two security
groups, a load balancer + target group + listener, a task definition family and the service.
A revision is a task definition ARN, so a rollback is one update_service.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pilot_tui.deploy.managed import (
    LogLine,
    Revision,
    Say,
    TargetError,
    TargetStatus,
    aws_clients,
    resource_name,
)

EXEC_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
LOG_RETENTION_DAYS = 30
NAME_LIMIT = 32  # load balancer and target group names


def short_name(project: str, app: str) -> str:
    """The load balancer's and target group's name: AWS allows 32 letters, digits and single
    hyphens. A longer name keeps its start plus a hash of the whole: stable and distinct."""
    full = resource_name(project, app)
    if len(full) <= NAME_LIMIT and "--" not in full:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:7]
    return re.sub("-+", "-", full)[:NAME_LIMIT - 8].rstrip("-") + "-" + digest


@contextmanager
def _aws(what: str) -> Iterator[None]:
    """botocore's errors as TargetError naming ``what`` and AWS's error code (the message
    never includes the request, so never credentials)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise TargetError(f"{what}: AWS answered {error.get('Code', 'an error')}: "
                          f"{error.get('Message', '')}".rstrip(": ")) from exc
    except BotoCoreError as exc:
        raise TargetError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _unless(codes: tuple[str, ...], call: Callable[..., Any], **args: Any) -> Any:
    """call(**args), or None when AWS answers with one of ``codes`` (usually: not there)."""
    from botocore.exceptions import ClientError

    try:
        return call(**args)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in codes:
            return None
        raise


def _short(arn: str) -> str:
    """family:revision of a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


def _rule(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"),
            sorted(r["CidrIp"] for r in p.get("IpRanges", [])),
            sorted(g["GroupId"] for g in p.get("UserIdGroupPairs", [])))


@dataclass
class EcsService:
    ecs: Any
    ec2: Any
    elbv2: Any
    iam: Any
    logs_client: Any
    project: str
    app: str
    settings: Any  # config.schema.EcsTarget
    region: str
    wait: bool = True  # wait for tasks to run; off in the sandbox, where moto runs none
    timeout: float = 900.0
    poll: float = 5.0
    kind: str = field(default="ecs", init=False)
    # Names the deployer's policy allows: pilot-PROJECT-*, cluster pilot-PROJECT, /pilot/...
    name: str = field(init=False)  # service, task definition family, security groups
    cluster: str = field(init=False)
    role: str = field(init=False)
    log_group: str = field(init=False)
    balancer: str = field(init=False)  # load balancer and target group (32 characters)

    def __post_init__(self) -> None:
        self.name = resource_name(self.project, self.app)
        self.cluster, self.role = f"pilot-{self.project}", f"pilot-{self.project}-ecs-exec"
        self.log_group = f"/pilot/{self.project}/{self.app}"
        self.balancer = short_name(self.project, self.app)

    # -- deploy --------------------------------------------------------------------------
    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        self._ensure_cluster(say)
        role_arn = self._ensure_role(say)
        self._ensure_log_group(say)
        vpc, subnets = self._network()
        lb_group = self._ensure_group(f"{self.name}-lb", vpc, 80, {"CidrIp": "0.0.0.0/0"}, say)
        # Tasks have public addresses (no NAT in the default VPC): only the LB may reach them.
        task_group = self._ensure_group(f"{self.name}-tasks", vpc, self.settings.port,
                                        {"GroupId": lb_group}, say)
        target_group, dns = self._ensure_balancer(vpc, subnets, lb_group, say)
        arn = self._register(image, env, release, role_arn)
        say(f"task definition {_short(arn)}")
        self._ensure_service(arn, subnets, task_group, target_group, say)
        self._settle(arn, say)
        return self._revision(arn, dns)

    def _ensure_cluster(self, say: Say) -> None:
        with _aws(f"ECS cluster {self.cluster}"):
            if self._cluster_active():
                return
            self.ecs.create_cluster(clusterName=self.cluster,
                                    tags=[{"key": "pilot:project", "value": self.project}])
        say(f"created cluster {self.cluster}")

    def _cluster_active(self) -> bool:  # a deleted cluster stays visible as INACTIVE
        found = self.ecs.describe_clusters(clusters=[self.cluster]).get("clusters", [])
        return any(c.get("status") == "ACTIVE" for c in found)

    def _ensure_role(self, say: Say) -> str:
        with _aws(f"IAM role {self.role}"):
            role = _unless(("NoSuchEntity",), self.iam.get_role, RoleName=self.role)
            if role is None:
                role = self.iam.create_role(
                    RoleName=self.role, AssumeRolePolicyDocument=json.dumps(TRUST),
                    Description=f"Pilot: ECS pulls images and writes logs for {self.project}",
                    Tags=[{"Key": "pilot:project", "Value": self.project}])
                say(f"created task execution role {self.role}")
            self.iam.attach_role_policy(RoleName=self.role, PolicyArn=EXEC_POLICY)  # idempotent
            return str(role["Role"]["Arn"])

    def _ensure_log_group(self, say: Say) -> None:
        # Create-and-tolerate rather than describe: the deployer may create, not list.
        with _aws(f"log group {self.log_group}"):
            if _unless(("ResourceAlreadyExistsException",), self.logs_client.create_log_group,
                       logGroupName=self.log_group, tags={"pilot:project": self.project}):
                self.logs_client.put_retention_policy(logGroupName=self.log_group,
                                                      retentionInDays=LOG_RETENTION_DAYS)
                say(f"created log group {self.log_group} ({LOG_RETENTION_DAYS} days)")

    def _network(self) -> tuple[str, list[str]]:
        """The default VPC and one default subnet per availability zone."""
        with _aws(f"default VPC in {self.region}"):
            vpcs = self.ec2.describe_vpcs(
                Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
            if not vpcs:
                raise TargetError(
                    f"app {self.app}: AWS region {self.region} has no default VPC, which ECS "
                    "apps run in; create it with `aws ec2 create-default-vpc --region "
                    f"{self.region}` or set another aws.region in pilot.toml")
            vpc = str(vpcs[0]["VpcId"])
            subnets = self.ec2.describe_subnets(Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        zones = {s["AvailabilityZone"]: str(s["SubnetId"]) for s in subnets}
        if len(zones) < 2:  # an application load balancer needs two zones
            raise TargetError(
                f"app {self.app}: the default VPC {vpc} in {self.region} has default subnets in "
                f"{len(zones)} availability zone(s), a load balancer needs 2; add one with "
                "`aws ec2 create-default-subnet --availability-zone ZONE`")
        return vpc, [zones[z] for z in sorted(zones)]

    def _ensure_group(self, name: str, vpc: str, port: int, source: dict[str, str],
                      say: Say) -> str:
        """The security group ``name`` allowing exactly TCP ``port`` from ``source``; its id.
        Rules left from an earlier port are revoked."""
        wanted: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        wanted["IpRanges" if "CidrIp" in source else "UserIdGroupPairs"] = [source]
        with _aws(f"security group {name}"):
            found = self.ec2.describe_security_groups(Filters=[
                {"Name": "group-name", "Values": [name]},
                {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
            if found:
                group, rules = str(found[0]["GroupId"]), found[0].get("IpPermissions", [])
            else:
                group, rules = str(self.ec2.create_security_group(
                    GroupName=name, Description=f"Pilot {self.name}", VpcId=vpc,
                    TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                        {"Key": "pilot:project", "Value": self.project}]}])["GroupId"]), []
                say(f"created security group {name} ({group})")
            stale = [r for r in rules if _rule(r) != _rule(wanted)]
            if stale:
                self.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=stale)
            if len(stale) == len(rules):  # the wanted rule is not among them
                self.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[wanted])
        return group

    def _ensure_balancer(self, vpc: str, subnets: list[str], group: str,
                         say: Say) -> tuple[str, str]:
        """(target group ARN, load balancer DNS name); a listener on :80 forwards to it."""
        name = self.balancer
        with _aws(f"load balancer {name}"):
            found = _unless(("LoadBalancerNotFound",), self.elbv2.describe_load_balancers,
                            Names=[name])
            balancer = found["LoadBalancers"][0] if found else None
            if balancer is None:
                balancer = self.elbv2.create_load_balancer(
                    Name=name, Subnets=subnets, SecurityGroups=[group], Type="application",
                    Scheme="internet-facing", IpAddressType="ipv4",
                    Tags=[{"Key": "pilot:app", "Value": self.name}])["LoadBalancers"][0]
                say(f"created load balancer {name} ({balancer['DNSName']})")
        health = {"HealthCheckProtocol": "HTTP", "HealthCheckPath": self.settings.health_path,
                  "Matcher": {"HttpCode": "200-299"}}
        with _aws(f"target group {name}"):
            found = _unless(("TargetGroupNotFound",), self.elbv2.describe_target_groups,
                            Names=[name])
            if found:
                target = str(found["TargetGroups"][0]["TargetGroupArn"])
                self.elbv2.modify_target_group(TargetGroupArn=target, **health)
            else:
                target = str(self.elbv2.create_target_group(
                    Name=name, Protocol="HTTP", Port=self.settings.port, VpcId=vpc,
                    TargetType="ip", HealthCheckIntervalSeconds=15, **health,
                )["TargetGroups"][0]["TargetGroupArn"])
                # 300s by default: every deploy would wait that long for the old tasks.
                self.elbv2.modify_target_group_attributes(TargetGroupArn=target, Attributes=[
                    {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
                say(f"created target group {name} (port {self.settings.port}, health check "
                    f"{self.settings.health_path})")
        with _aws(f"listener :80 of {name}"):
            listeners = self.elbv2.describe_listeners(
                LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
            if not any(item["Port"] == 80 for item in listeners):
                self.elbv2.create_listener(
                    LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": target}])
                say(f"created listener :80 on {name}")
        return target, str(balancer["DNSName"])

    def _register(self, image: str, env: dict[str, str], release: str, role: str) -> str:
        port = self.settings.port
        environment = {**env, "PORT": str(port)}  # the app must listen where the LB sends
        container = {
            "name": self.app, "image": image, "essential": True,
            "portMappings": [{"containerPort": port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group, "awslogs-region": self.region,
                "awslogs-stream-prefix": release}}}
        with _aws(f"task definition {self.name}"):
            made = self.ecs.register_task_definition(
                family=self.name, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                cpu=str(self.settings.cpu), memory=str(self.settings.memory),
                executionRoleArn=role, containerDefinitions=[container],
                tags=[{"key": "pilot:release", "value": release}])
        return str(made["taskDefinition"]["taskDefinitionArn"])

    def _ensure_service(self, arn: str, subnets: list[str], group: str, target: str,
                        say: Say) -> None:
        common: dict[str, Any] = {
            "taskDefinition": arn, "desiredCount": self.settings.desired_count,
            # The default VPC has no NAT: without a public address no image could be pulled.
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": subnets, "securityGroups": [group], "assignPublicIp": "ENABLED"}},
            "loadBalancers": [{"targetGroupArn": target, "containerName": self.app,
                               "containerPort": self.settings.port}],
            "healthCheckGracePeriodSeconds": 60,
            # A revision that never gets healthy fails the deploy; the previous one serves on.
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}}}
        with _aws(f"ECS service {self.name}"):
            if self._service() is None:
                self.ecs.create_service(cluster=self.cluster, serviceName=self.name,
                                        launchType="FARGATE", **common)
                say(f"created service {self.name} in cluster {self.cluster}")
            else:
                self.ecs.update_service(cluster=self.cluster, service=self.name, **common)
                say(f"updated service {self.name} to {_short(arn)}")

    def _service(self) -> dict[str, Any] | None:
        """The service unless missing or deleted (INACTIVE services stay visible a while)."""
        found = _unless(("ClusterNotFoundException",), self.ecs.describe_services,
                        cluster=self.cluster, services=[self.name])
        services = (found or {}).get("services", [])
        return next((dict(s) for s in services if s.get("status") != "INACTIVE"), None)

    def _settle(self, arn: str, say: Say) -> None:
        """Wait until the service runs ``arn`` steadily; a failed rollout is a TargetError."""
        if not self.wait or self.settings.desired_count == 0:
            say("not waiting for tasks to start")
            return
        say(f"waiting for {self.settings.desired_count} task(s) of {_short(arn)} to be healthy")

        def settled() -> bool:
            with _aws(f"ECS service {self.name}"):
                service = self._service()
            if service is None:
                raise TargetError(f"ECS service {self.name} disappeared during the deploy")
            deployments = service.get("deployments", [])
            failed = [d for d in deployments
                      if d.get("taskDefinition") == arn and d.get("rolloutState") == "FAILED"]
            if failed or service.get("taskDefinition") != arn:  # rolled back, or replaced
                why = failed[0].get("rolloutStateReason", "") if failed else "replaced"
                raise TargetError(f"ECS service {self.name}: {_short(arn)} did not become "
                                  f"healthy ({why}); the previous revision keeps serving")
            primary: dict[str, Any] = next(
                (d for d in deployments if d.get("status") == "PRIMARY"), {})
            return bool(primary.get("rolloutState") == "COMPLETED"
                        and service["runningCount"] >= service["desiredCount"])

        self._until(f"ECS service {self.name} to run {_short(arn)}", settled)

    def _until(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while not check():
            if time.monotonic() >= deadline:
                raise TargetError(f"timed out after {self.timeout:.0f}s waiting for {what}")
            time.sleep(self.poll)

    def _dns(self) -> str | None:
        found = _unless(("LoadBalancerNotFound",), self.elbv2.describe_load_balancers,
                        Names=[self.balancer])
        return str(found["LoadBalancers"][0]["DNSName"]) if found else None

    def _revision(self, arn: str, dns: str | None) -> Revision:
        s = self.settings
        return Revision(ref=arn, url=f"http://{dns}/" if dns else "-",
                        detail=f"task definition {_short(arn)}: {s.desired_count} Fargate "
                               f"task(s) of {s.cpu} CPU units, {s.memory} MB")

    # -- rollback, status, logs ----------------------------------------------------------
    def activate(self, ref: str, say: Say) -> Revision:
        with _aws(f"task definition {ref}"):
            found = _unless(("ClientException", "InvalidParameterException"),
                            self.ecs.describe_task_definition, taskDefinition=ref)
        if found is None:
            raise TargetError(f"task definition {ref} does not exist (deregistered?)")
        if found["taskDefinition"]["family"] != self.name:
            raise TargetError(f"task definition {ref} is not one of app {self.app}'s "
                              f"(family {self.name})")
        with _aws(f"ECS service {self.name}"):
            if self._service() is None:
                raise TargetError(f"app {self.app} is not deployed on ECS (no service "
                                  f"{self.name} in cluster {self.cluster})")
            self.ecs.update_service(cluster=self.cluster, service=self.name, taskDefinition=ref)
            say(f"service {self.name} now runs {_short(ref)}")
        self._settle(ref, say)
        with _aws(f"load balancer {self.balancer}"):
            return self._revision(ref, self._dns())

    def status(self) -> TargetStatus:
        with _aws(f"ECS service {self.name}"):
            service = self._service()
            if service is None:
                return TargetStatus("not deployed", "-")
            dns, targets = self._dns(), self._targets(service)
        running, desired = service["runningCount"], service["desiredCount"]
        pending = service.get("pendingCount", 0)
        detail = f"{running}/{desired} tasks running, task definition " \
                 f"{_short(service['taskDefinition'])}{f', {pending} pending' if pending else ''}"
        if targets is not None:  # only what the load balancer reports; none: no claim
            detail += f", {targets[0]}/{targets[1]} load balancer targets healthy"
        failed = [d for d in service.get("deployments", []) if d.get("rolloutState") == "FAILED"]
        if desired == 0:
            health = "stopped"
        elif failed:
            health = f"unhealthy (deployment of {_short(failed[0].get('taskDefinition', '?'))}" \
                     f" failed: {failed[0].get('rolloutStateReason', 'no reason given')})"
        elif running < desired:
            health = f"unhealthy ({running}/{desired} tasks running)"
        elif targets is not None and targets[0] == 0:
            health = "unhealthy (no load balancer target passes the health check)"
        else:
            health = "healthy"
        return TargetStatus(health, f"http://{dns}/" if dns else "-", detail)

    def _targets(self, service: dict[str, Any]) -> tuple[int, int] | None:
        """(healthy, registered) targets of the service's target group; None when none are
        registered (ECS registers running tasks; the sandbox runs none)."""
        for balancer in service.get("loadBalancers", []):
            found = _unless(("TargetGroupNotFound",), self.elbv2.describe_target_health,
                            TargetGroupArn=balancer["targetGroupArn"])
            states = [t["TargetHealth"]["State"]
                      for t in (found or {}).get("TargetHealthDescriptions", [])]
            if states:
                return sum(s == "healthy" for s in states), len(states)
        return None

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        # Without ``since``: the last hour, else day, else all that is kept, until enough.
        now = time.time()
        lines: list[LogLine] | None = []
        for start in [since] if since is not None else [now - 3600, now - 86400, None]:
            lines = self._read(start)
            if lines is None or len(lines) >= limit:  # None: no log group (yet, or any more)
                break
        return iter(lines[-limit:] if lines and limit > 0 else [])

    def _read(self, start: float | None) -> list[LogLine] | None:
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"logGroupName": self.log_group}
        if start is not None:
            args["startTime"] = int(start * 1000)
        lines = []
        with _aws(f"log group {self.log_group}"):
            try:
                for page in self.logs_client.get_paginator("filter_log_events").paginate(**args):
                    lines += [LogLine(e["timestamp"] / 1000, str(e["message"]).rstrip("\n"),
                                      str(e.get("logStreamName", ""))) for e in page["events"]]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return None
                raise
        return sorted(lines, key=lambda line: line.timestamp)  # stable: stream order kept

    # -- removal -------------------------------------------------------------------------
    def destroy(self, say: Say) -> list[str]:
        done: list[str] = []

        def did(line: str) -> None:
            done.append(line)
            say(line)

        with _aws(f"ECS service {self.name}"):
            service = self._service()
            if service is not None and service.get("status") == "ACTIVE":  # not DRAINING yet
                if service.get("desiredCount"):
                    self.ecs.update_service(cluster=self.cluster, service=self.name,
                                            desiredCount=0)
                self.ecs.delete_service(cluster=self.cluster, service=self.name, force=True)
                did(f"deleted service {self.name}")
            # Draining tasks still hold the target group and the security groups.
            self._until(f"service {self.name} to drain", lambda: self._service() is None)
        with _aws(f"task definitions {self.name}"):
            arns = [a for page in self.ecs.get_paginator("list_task_definitions").paginate(
                        familyPrefix=self.name, status="ACTIVE")
                    for a in page["taskDefinitionArns"]
                    if _short(a).rsplit(":", 1)[0] == self.name]  # a prefix matches -api2 too
            for arn in arns:
                self.ecs.deregister_task_definition(taskDefinition=arn)
            if arns:
                did(f"deregistered task definitions {', '.join(_short(a) for a in arns)}")
        self._destroy_balancer(did)
        for name in (f"{self.name}-tasks", f"{self.name}-lb"):  # tasks' refers to the LB's
            with _aws(f"security group {name}"):
                for group in self.ec2.describe_security_groups(
                        Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]:
                    # A deleted load balancer's network interfaces linger for a while.
                    self._until(f"security group {name} to be unused",
                                partial(self._delete_group, group["GroupId"]))
                    did(f"deleted security group {name} ({group['GroupId']})")
        with _aws(f"log group {self.log_group}"):
            if _unless(("ResourceNotFoundException",), self.logs_client.delete_log_group,
                       logGroupName=self.log_group) is not None:
                did(f"deleted log group {self.log_group}")
        self._destroy_shared(did, say)
        if not done:
            say(f"nothing left to remove for app {self.app} on ECS")
        return done

    def _delete_group(self, group: str) -> bool:
        """True once deleted; False while something still uses it."""
        return _unless(("DependencyViolation",), self.ec2.delete_security_group,
                       GroupId=group) is not None

    def _destroy_balancer(self, did: Say) -> None:
        name = self.balancer
        with _aws(f"load balancer {name}"):
            found = _unless(("LoadBalancerNotFound",), self.elbv2.describe_load_balancers,
                            Names=[name])
            for balancer in (found or {}).get("LoadBalancers", []):
                arn = balancer["LoadBalancerArn"]
                for listener in self.elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
                    self.elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
                    did(f"deleted listener :{listener['Port']} of {name}")
                self.elbv2.delete_load_balancer(LoadBalancerArn=arn)
                did(f"deleted load balancer {name}")
                self._until(f"load balancer {name} to go", lambda: self._dns() is None)
        with _aws(f"target group {name}"):
            found = _unless(("TargetGroupNotFound",), self.elbv2.describe_target_groups,
                            Names=[name])
            for target in (found or {}).get("TargetGroups", []):
                self.elbv2.delete_target_group(TargetGroupArn=target["TargetGroupArn"])
                did(f"deleted target group {name}")

    def _destroy_shared(self, did: Say, say: Say) -> None:
        """The cluster and execution role go with the project's last ECS service."""
        with _aws(f"ECS cluster {self.cluster}"):
            active, others = self._cluster_active(), []
            if active:
                arns = [a for page in self.ecs.get_paginator("list_services").paginate(
                    cluster=self.cluster) for a in page["serviceArns"]]
                for start in range(0, len(arns), 10):  # describe takes 10 at a time
                    others += [s["serviceName"] for s in self.ecs.describe_services(
                        cluster=self.cluster, services=arns[start:start + 10])["services"]
                        if s.get("status") != "INACTIVE" and s["serviceName"] != self.name]
            if others:
                say(f"kept cluster {self.cluster} and role {self.role}: still used by "
                    f"{', '.join(sorted(others))}")
                return
            if active:
                self.ecs.delete_cluster(cluster=self.cluster)
                did(f"deleted cluster {self.cluster}")
        with _aws(f"IAM role {self.role}"):
            attached = _unless(("NoSuchEntity",), self.iam.list_attached_role_policies,
                               RoleName=self.role)
            if attached is not None:
                for policy in attached["AttachedPolicies"]:
                    self.iam.detach_role_policy(RoleName=self.role, PolicyArn=policy["PolicyArn"])
                self.iam.delete_role(RoleName=self.role)
                did(f"deleted role {self.role}")


def open_ecs(config: Any, state_dir: Path, root: Path, app: Any) -> EcsService:
    """The ECS target of ``app`` with clients from aws_clients (sandbox, deployer, profile)."""
    make = aws_clients(config, state_dir)
    return EcsService(
        ecs=make("ecs"), ec2=make("ec2"), elbv2=make("elbv2"), iam=make("iam"),
        logs_client=make("logs"), project=config.project.name, app=app.name,
        settings=app.target, region=config.aws.region,
        wait=config.server.home != "sandbox")  # moto records services, never starts tasks
