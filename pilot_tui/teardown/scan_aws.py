"""Reading an AWS account for a project's things: one reader per service, each adding what
carries the project's tag or a ``pilot-PROJECT-`` name to the scan's Finds. botocore is
imported only where its errors are caught."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pilot_tui.cloud import aws_errors
from pilot_tui.config.schema import EcsTarget, LambdaTarget, S3CloudFrontTarget
from pilot_tui.naming import PROJECT_TAG, parameter_path, prefix, project_resource
from pilot_tui.teardown.finds import Finds, app_of
from pilot_tui.teardown.things import UNOWNED_BUCKET

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_s3 import S3Client

# The target kinds (the schema's) whose destroy removes what is found here.
S3_SITE, LAMBDA, ECS = S3CloudFrontTarget.kind, LambdaTarget.kind, EcsTarget.kind
AwsClients = Callable[[str], Any]  # service name -> a boto3 client (admin), made once per service


@dataclass
class AwsScan:
    """One look through an AWS account (``aws``) for ``finds.project``'s things."""

    finds: Finds
    aws: AwsClients
    state_bucket: str | None = None
    lock_table: str | None = None

    @property
    def project(self) -> str:
        return self.finds.project

    def readers(self) -> list[Callable[[], None]]:
        """Each service's reader, the neighbours first (they decide what is whose)."""
        return [
            self.neighbours,
            self.s3,
            self.cloudfront,
            self.lambda_,
            self.ecr,
            self.ecs,
            self.balancers,
            self.ec2,
            self.rds,
            self.logs,
            self.ssm,
            self.iam,
            self.aws_state,
        ]

    def neighbours(self) -> None:
        """Projects whose names start with this one's and a hyphen (acme-dev beside acme):
        their pilot-acme-dev-* names match pilot-acme-* too. Known from their deployer
        users, state buckets and tags."""
        start = f"{self.project}-"
        names = [
            u["UserName"].removeprefix("pilot-").removesuffix("-deployer")
            for page in self.aws("iam").get_paginator("list_users").paginate()
            for u in page["Users"]
            if u["UserName"].endswith("-deployer")
        ]
        names += [
            b["Name"].removeprefix("pilot-state-")
            for b in self.aws("s3").list_buckets().get("Buckets", [])
            if b["Name"].startswith("pilot-state-")
        ]
        names += [
            t["Value"]
            for t in self.aws("ec2").describe_tags(
                Filters=[{"Name": "key", "Values": [PROJECT_TAG]}]
            )["Tags"]
        ]
        self.finds.neighbours = {n for n in names if n.startswith(start)}

    def s3(self) -> None:
        """An app's site bucket (pilot-PROJECT-APP-site) goes with its target's destroy;
        another pilot-PROJECT-* bucket goes only if it carries the project's tag (the
        state bucket is aws_state's); one with neither is listed and left alone."""
        s3 = self.aws("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            if not name.startswith(prefix(self.project)) or name == self.state_bucket:
                continue
            if name.endswith("-site"):
                self.finds.add(
                    "S3 bucket",
                    name,
                    self.finds.named,
                    app_of(self.project, name, "-site"),
                    S3_SITE,
                )
            elif _bucket_tags(s3, name).get("pilot:project") == self.project:
                self.finds.add("S3 bucket", name, self.finds.tag)  # no target's: swept
            else:
                self.finds.add(
                    UNOWNED_BUCKET,
                    name,
                    f"{self.finds.named}, but no pilot:project={self.project} tag, no app's "
                    "site and not the state bucket in pilot.toml",
                )

    def cloudfront(self) -> None:
        cloudfront = self.aws("cloudfront")
        marker = f"pilot {prefix(self.project)}"
        for page in cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                comment = str(item.get("Comment", ""))
                if comment.startswith(marker):
                    bucket = comment.removeprefix("pilot ")
                    self.finds.add(
                        "CloudFront distribution",
                        str(item["Id"]),
                        f"comment {comment!r}",
                        app_of(self.project, bucket, "-site"),
                        S3_SITE,
                    )

    def lambda_(self) -> None:
        for page in self.aws("lambda").get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                name = fn["FunctionName"]
                if name.startswith(prefix(self.project)):
                    self.finds.add(
                        "Lambda function",
                        name,
                        self.finds.named,
                        app_of(self.project, name),
                        LAMBDA,
                    )

    def ecr(self) -> None:
        for page in self.aws("ecr").get_paginator("describe_repositories").paginate():
            for repo in page.get("repositories", []):
                name = repo["repositoryName"]
                if name.startswith(prefix(self.project)):
                    app = app_of(self.project, name.removesuffix("/previews"))  # previews'
                    self.finds.add("ECR repository", name, self.finds.named, app)

    def ecs(self) -> None:
        ecs = self.aws("ecs")
        cluster = project_resource(self.project)
        clusters = ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
        if any(c.get("status") == "ACTIVE" for c in clusters):
            self.finds.add("ECS cluster", cluster, f"name {cluster}", target=ECS)
            arns = [
                a
                for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
                for a in page["serviceArns"]
            ]
            for start in range(0, len(arns), 10):
                for service in ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10]
                )["services"]:
                    if service.get("status") != "INACTIVE":
                        name = service["serviceName"]
                        self.finds.add(
                            "ECS service",
                            name,
                            f"in cluster {cluster}",
                            app_of(self.project, name),
                            ECS,
                        )
        # Families from the active revisions themselves: a family whose revisions are all
        # deregistered is gone (moto lists it as ACTIVE still).
        arns = [
            a
            for page in ecs.get_paginator("list_task_definitions").paginate(status="ACTIVE")
            for a in page["taskDefinitionArns"]
        ]
        families = {a.rsplit("/", 1)[-1].rsplit(":", 1)[0] for a in arns}
        for family in sorted(f for f in families if f.startswith(prefix(self.project))):
            self.finds.add(
                "ECS task definition", family, self.finds.named, app_of(self.project, family), ECS
            )

    def balancers(self) -> None:
        elbv2 = self.aws("elbv2")
        balancers = [
            b
            for page in elbv2.get_paginator("describe_load_balancers").paginate()
            for b in page["LoadBalancers"]
        ]
        tags = _elb_tags(elbv2, [b["LoadBalancerArn"] for b in balancers])
        for balancer in balancers:
            owner = tags.get(balancer["LoadBalancerArn"], {}).get("pilot:app", "")
            if owner.startswith(prefix(self.project)):
                self.finds.add(
                    "load balancer",
                    balancer["LoadBalancerName"],
                    f"tag pilot:app={owner}",
                    app_of(self.project, owner),
                    ECS,
                )
        for page in elbv2.get_paginator("describe_target_groups").paginate():
            for group in page["TargetGroups"]:
                name = group["TargetGroupName"]
                if name.startswith(prefix(self.project)):
                    self.finds.add(
                        "target group", name, self.finds.named, app_of(self.project, name), ECS
                    )

    def ec2(self) -> None:
        """The server's machine and network (Terraform tags them all) and the ECS apps'
        security groups, by the project's tag."""
        ec2 = self.aws("ec2")
        tagged = [{"Name": "tag:pilot:project", "Values": [self.project]}]
        for reservation in ec2.describe_instances(Filters=tagged)["Reservations"]:
            for instance in reservation["Instances"]:
                if instance.get("State", {}).get("Name") not in ("terminated", "shutting-down"):
                    self.finds.add("EC2 instance", instance["InstanceId"], self.finds.tag)
        for vpc in ec2.describe_vpcs(Filters=tagged)["Vpcs"]:
            self.finds.add("VPC", vpc["VpcId"], self.finds.tag)
        for subnet in ec2.describe_subnets(Filters=tagged)["Subnets"]:
            self.finds.add("subnet", subnet["SubnetId"], self.finds.tag)
        for gateway in ec2.describe_internet_gateways(Filters=tagged)["InternetGateways"]:
            self.finds.add("internet gateway", gateway["InternetGatewayId"], self.finds.tag)
        for table in ec2.describe_route_tables(Filters=tagged)["RouteTables"]:
            if not any(a.get("Main") for a in table.get("Associations", [])):
                self.finds.add("route table", table["RouteTableId"], self.finds.tag)
        for group in ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]:
            name = group.get("GroupName", "")
            app = app_of(self.project, name.removesuffix("-lb").removesuffix("-tasks"))
            if app and name.endswith(("-lb", "-tasks")):
                self.finds.add(
                    "app security group", f"{group['GroupId']} {name}", self.finds.tag, app, ECS
                )
            else:
                self.finds.add("security group", f"{group['GroupId']} {name}", self.finds.tag)
        for pair in ec2.describe_key_pairs().get("KeyPairs", []):
            if pair["KeyName"].startswith(prefix(self.project)):
                self.finds.add(
                    "key pair",
                    f"{pair.get('KeyPairId', '')} {pair['KeyName']}".strip(),
                    self.finds.named,
                )

    def rds(self) -> None:
        """The databases on RDS (tagged) and their subnet group (named). Final snapshots
        are kept on purpose: not listed (`server destroy` names the ones it took)."""
        rds = self.aws("rds")
        for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                tags = {t["Key"]: t["Value"] for t in db.get("TagList", [])}
                if tags.get(PROJECT_TAG) == self.project:
                    self.finds.add("RDS database", db["DBInstanceIdentifier"], self.finds.tag)
        for page in rds.get_paginator("describe_db_subnet_groups").paginate():
            for group in page["DBSubnetGroups"]:
                name = group["DBSubnetGroupName"]
                if not name.startswith(prefix(self.project)):
                    continue
                listed = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])
                owner = {t["Key"]: t["Value"] for t in listed["TagList"]}.get(PROJECT_TAG)
                if owner is None:  # untagged: the name decides, unless a neighbour's
                    self.finds.add("DB subnet group", name, self.finds.named)
                elif owner == self.project:
                    self.finds.add("DB subnet group", name, self.finds.tag)

    def logs(self) -> None:
        logs = self.aws("logs")
        for group_prefix, target in (
            (f"/aws/lambda/{prefix(self.project)}", LAMBDA),
            (f"{parameter_path(self.project)}/", ECS),
        ):
            for page in logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=group_prefix
            ):
                for group in page["logGroups"]:
                    name = group["logGroupName"]
                    app = name.removeprefix(group_prefix).split("/")[0]
                    self.finds.add("log group", name, f"name {group_prefix}*", app, target)

    def ssm(self) -> None:
        path = parameter_path(self.project)
        for page in (
            self.aws("ssm")
            .get_paginator("get_parameters_by_path")
            .paginate(Path=path, Recursive=True)
        ):
            for parameter in page["Parameters"]:
                name = parameter["Name"]
                app = name.removeprefix(path + "/").split("/")[0]
                self.finds.add("SSM parameter", name, f"path {path}/", app, ECS)

    def iam(self) -> None:
        iam = self.aws("iam")
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                name = user["UserName"]
                if name.startswith(prefix(self.project)):
                    self.finds.add("IAM user", name, self.finds.named)
                    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                        self.finds.add(
                            "access key", f"{key['AccessKeyId']} of {name}", f"a key of {name}"
                        )
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(prefix(self.project)):
                    self.finds.add("IAM role", role["RoleName"], self.finds.named)

    def aws_state(self) -> None:
        from botocore.exceptions import ClientError

        if self.state_bucket:
            try:
                self.aws("s3").head_bucket(Bucket=self.state_bucket)
                self.finds.add("state bucket", self.state_bucket, "[state] in pilot.toml")
            except ClientError:
                pass
        if self.lock_table:
            try:
                self.aws("dynamodb").describe_table(TableName=self.lock_table)
                self.finds.add("lock table", self.lock_table, "[state] in pilot.toml")
            except ClientError:
                pass


def _bucket_tags(s3: S3Client, bucket: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if aws_errors.code(exc) == "NoSuchTagSet":
            return {}
        raise
    return {t["Key"]: t["Value"] for t in tags}


def _elb_tags(elbv2: ElasticLoadBalancingv2Client, arns: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # describe_tags takes 20 at a time
        for item in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            tags[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    return tags
