"""The network around an ECS app: the region's default VPC, the app's two security groups and
its application load balancer, target group and :80 listener.

Per app: security groups `pilot-PROJECT-APP-lb` (port 80 from anywhere) and `-tasks` (the app
port from the load balancer only), and a load balancer + target group named short_name().
Each is made carrying the project tag (naming.PROJECT_TAG): the deployer's policy lets it
change only resources with that tag.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from pilot_tui.cloud.aws_errors import aws_call, unless
from pilot_tui.deploy.targets.managed import Say, TargetError
from pilot_tui.naming import project_tags, resource_name
from pilot_tui.wording import counted

NAME_LIMIT = 32  # load balancer and target group names
Wait = Callable[[str, Callable[[], bool]], None]  # until(what, check): poll, then time out


def short_name(project: str, app: str) -> str:
    """The load balancer's and target group's name: AWS allows 32 letters, digits and single
    hyphens. A longer name keeps its start plus a hash of the whole: stable and distinct."""
    full = resource_name(project, app)
    if len(full) <= NAME_LIMIT and "--" not in full:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:7]
    return re.sub("-+", "-", full)[: NAME_LIMIT - 8].rstrip("-") + "-" + digest


def until(what: str, check: Callable[[], bool], timeout: float, poll: float) -> None:
    """Poll ``check`` every ``poll`` seconds until true; a TargetError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise TargetError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def _rule(p: dict[str, Any]) -> tuple[Any, ...]:
    """An ingress rule, comparable whatever order or extra keys AWS answers with."""
    return (
        p.get("IpProtocol"),
        p.get("FromPort"),
        p.get("ToPort"),
        sorted(r["CidrIp"] for r in p.get("IpRanges", [])),
        sorted(g["GroupId"] for g in p.get("UserIdGroupPairs", [])),
    )


class Network(NamedTuple):
    subnets: list[str]  # one default subnet per availability zone
    task_group: str  # the tasks' security group
    target_group: str  # ARN, for the service's loadBalancers
    dns: str  # the load balancer's


@dataclass
class Balancer:
    """One app's security groups and load balancer in the default VPC."""

    # boto3 clients, untyped here: the stubs' tag shapes differ by service (ELB and EC2 make
    # Value optional), so naming.project_tags' one Key/Value form would not fit them all.
    ec2: Any
    elbv2: Any
    project: str
    app: str
    region: str
    wait: Wait
    name: str = field(init=False)  # security groups: NAME-lb, NAME-tasks
    short: str = field(init=False)  # load balancer and target group (32 characters)

    def __post_init__(self) -> None:
        self.name, self.short = (
            resource_name(self.project, self.app),
            short_name(self.project, self.app),
        )

    def ensure(self, port: int, health_path: str, say: Say) -> Network:
        """Create what is missing, bring rules and health check up to date."""
        vpc, subnets = self._network()
        lb_group = self._ensure_group(f"{self.name}-lb", vpc, 80, {"CidrIp": "0.0.0.0/0"}, say)
        # Tasks have public addresses (no NAT in the default VPC): only the LB may reach them.
        task_group = self._ensure_group(f"{self.name}-tasks", vpc, port, {"GroupId": lb_group}, say)
        target, dns = self._ensure_balancer(vpc, subnets, lb_group, port, health_path, say)
        return Network(subnets, task_group, target, dns)

    def dns(self) -> str | None:
        """The load balancer's DNS name; None when there is none."""
        found = unless(
            ("LoadBalancerNotFound",), self.elbv2.describe_load_balancers, Names=[self.short]
        )
        return str(found["LoadBalancers"][0]["DNSName"]) if found else None

    def targets(self, uses: list[dict[str, Any]]) -> tuple[int, int] | None:
        """(healthy, registered) targets of the target groups in a service's loadBalancers;
        None when none are registered (ECS registers running tasks; the sandbox runs none)."""
        for use in uses:
            found = unless(
                ("TargetGroupNotFound",),
                self.elbv2.describe_target_health,
                TargetGroupArn=use["targetGroupArn"],
            )
            states = [
                t["TargetHealth"]["State"]
                for t in (found or {}).get("TargetHealthDescriptions", [])
            ]
            if states:
                return sum(s == "healthy" for s in states), len(states)
        return None

    def _network(self) -> tuple[str, list[str]]:
        """The default VPC and one default subnet per availability zone."""
        with aws_call(f"default VPC in {self.region}"):
            vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])[
                "Vpcs"
            ]
            if not vpcs:
                raise TargetError(
                    f"app {self.app}: AWS region {self.region} has no default VPC, which ECS "
                    "apps run in; create it with `aws ec2 create-default-vpc --region "
                    f"{self.region}` or set another aws.region in pilot.toml"
                )
            vpc = str(vpcs[0]["VpcId"])
            subnets = self.ec2.describe_subnets(
                Filters=[
                    {"Name": "vpc-id", "Values": [vpc]},
                    {"Name": "default-for-az", "Values": ["true"]},
                ]
            )["Subnets"]
        zones = {s["AvailabilityZone"]: str(s["SubnetId"]) for s in subnets}
        if len(zones) < 2:  # an application load balancer needs two zones
            raise TargetError(
                f"app {self.app}: the default VPC {vpc} in {self.region} has default subnets in "
                f"{counted(len(zones), 'availability zone')}, a load balancer needs 2; add one "
                "with `aws ec2 create-default-subnet --availability-zone ZONE`"
            )
        return vpc, [zones[z] for z in sorted(zones)]

    def _ensure_group(
        self, name: str, vpc: str, port: int, source: dict[str, str], say: Say
    ) -> str:
        """The security group ``name`` allowing exactly TCP ``port`` from ``source``; its id.
        Rules left from an earlier port are revoked."""
        wanted: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
        wanted["IpRanges" if "CidrIp" in source else "UserIdGroupPairs"] = [source]
        with aws_call(f"security group {name}"):
            found = self.ec2.describe_security_groups(
                Filters=[
                    {"Name": "group-name", "Values": [name]},
                    {"Name": "vpc-id", "Values": [vpc]},
                ]
            )["SecurityGroups"]
            if found:
                group, rules = str(found[0]["GroupId"]), found[0].get("IpPermissions", [])
            else:
                group, rules = (
                    str(
                        self.ec2.create_security_group(
                            GroupName=name,
                            Description=f"Pilot {self.name}",
                            VpcId=vpc,
                            TagSpecifications=[
                                {
                                    "ResourceType": "security-group",
                                    "Tags": project_tags(self.project),
                                }
                            ],
                        )["GroupId"]
                    ),
                    [],
                )
                say(f"created security group {name} ({group})")
            stale = [r for r in rules if _rule(r) != _rule(wanted)]
            if stale:
                self.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=stale)
            if len(stale) == len(rules):  # the wanted rule is not among them
                self.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[wanted])
        return group

    def _ensure_balancer(
        self, vpc: str, subnets: list[str], group: str, port: int, health_path: str, say: Say
    ) -> tuple[str, str]:
        """(target group ARN, load balancer DNS name); a listener on :80 forwards to it."""
        balancer = self._load_balancer(subnets, group, say)
        target = self._target_group(vpc, port, health_path, say)
        self._listener(str(balancer["LoadBalancerArn"]), target, say)
        return target, str(balancer["DNSName"])

    def _load_balancer(self, subnets: list[str], group: str, say: Say) -> dict[str, Any]:
        name = self.short
        with aws_call(f"load balancer {name}"):
            found = unless(
                ("LoadBalancerNotFound",), self.elbv2.describe_load_balancers, Names=[name]
            )
            if found:
                return dict(found["LoadBalancers"][0])
            balancer = self.elbv2.create_load_balancer(
                Name=name,
                Subnets=subnets,
                SecurityGroups=[group],
                Type="application",
                Scheme="internet-facing",
                IpAddressType="ipv4",
                Tags=project_tags(self.project),
            )["LoadBalancers"][0]
            say(f"created load balancer {name} ({balancer['DNSName']})")
        return dict(balancer)

    def _target_group(self, vpc: str, port: int, health_path: str, say: Say) -> str:
        """The target group's ARN, its health check set to ``health_path``."""
        name = self.short
        health = {
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPath": health_path,
            "Matcher": {"HttpCode": "200-299"},
        }
        with aws_call(f"target group {name}"):
            found = unless(
                ("TargetGroupNotFound",), self.elbv2.describe_target_groups, Names=[name]
            )
            if found:
                target = str(found["TargetGroups"][0]["TargetGroupArn"])
                self.elbv2.modify_target_group(TargetGroupArn=target, **health)
                return target
            target = str(
                self.elbv2.create_target_group(
                    Name=name,
                    Protocol="HTTP",
                    Port=port,
                    VpcId=vpc,
                    TargetType="ip",
                    HealthCheckIntervalSeconds=15,
                    Tags=project_tags(self.project),
                    **health,
                )["TargetGroups"][0]["TargetGroupArn"]
            )
            # 300s by default: every deploy would wait that long for the old tasks.
            self.elbv2.modify_target_group_attributes(
                TargetGroupArn=target,
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
            )
            say(f"created target group {name} (port {port}, health check {health_path})")
        return target

    def _listener(self, balancer: str, target: str, say: Say) -> None:
        """A listener on :80 forwarding to ``target``, unless the balancer has one."""
        name = self.short
        with aws_call(f"listener :80 of {name}"):
            listeners = self.elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
            if not any(item["Port"] == 80 for item in listeners):
                self.elbv2.create_listener(
                    LoadBalancerArn=balancer,
                    Protocol="HTTP",
                    Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": target}],
                    Tags=project_tags(self.project),
                )
                say(f"created listener :80 on {name}")

    # -- removal (once the service's tasks are gone: they hold the target group and groups)
    def destroy(self, did: Say) -> None:
        self._destroy_balancer(did)
        for name in (f"{self.name}-tasks", f"{self.name}-lb"):  # tasks' refers to the LB's
            with aws_call(f"security group {name}"):
                for group in self.ec2.describe_security_groups(
                    Filters=[{"Name": "group-name", "Values": [name]}]
                )["SecurityGroups"]:
                    # A deleted load balancer's network interfaces linger for a while.
                    self.wait(
                        f"security group {name} to be unused",
                        partial(self._delete_group, group["GroupId"]),
                    )
                    did(f"deleted security group {name} ({group['GroupId']})")

    def _delete_group(self, group: str) -> bool:
        """True once deleted; False while something still uses it."""
        return (
            unless(("DependencyViolation",), self.ec2.delete_security_group, GroupId=group)
            is not None
        )

    def _destroy_balancer(self, did: Say) -> None:
        name = self.short
        with aws_call(f"load balancer {name}"):
            found = unless(
                ("LoadBalancerNotFound",), self.elbv2.describe_load_balancers, Names=[name]
            )
            for balancer in (found or {}).get("LoadBalancers", []):
                arn = balancer["LoadBalancerArn"]
                for listener in self.elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
                    self.elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
                    did(f"deleted listener :{listener['Port']} of {name}")
                self.elbv2.delete_load_balancer(LoadBalancerArn=arn)
                did(f"deleted load balancer {name}")
                self.wait(f"load balancer {name} to go", lambda: self.dns() is None)
        with aws_call(f"target group {name}"):
            found = unless(
                ("TargetGroupNotFound",), self.elbv2.describe_target_groups, Names=[name]
            )
            for target in (found or {}).get("TargetGroups", []):
                self.elbv2.delete_target_group(TargetGroupArn=target["TargetGroupArn"])
                did(f"deleted target group {name}")
