"""Taking a project down: everything Pilot made for it, listed first, then removed in order.

``scan`` asks the clouds (and this machine's Docker, in the sandbox) what carries the
project's tag or a ``pilot-PROJECT-`` name, not only what Terraform's state or .pilot/ record;
``inventory`` (pure) turns what was found plus the Terraform destroy plan into one ordered
list of Things (kind, name, how it was found, the step that removes it). The CLI and the
Server screen show that list, ask once, and ``execute`` removes it step by step:

1. apps: each app's managed target's own destroy (sites, functions, services, images);
2. containers: the apps' containers on this machine's Docker (the sandbox) and the proxy,
   then the private `pilot` network they joined;
3. deployer: the IAM user, its access keys and the execution roles setup made;
4. server: Terraform destroys what its state holds;
5. state: the state bucket and lock table (kept with ``keep_state``);
6. local: .pilot/ records of live things (releases, outputs, deployer keys).

Afterwards ``scan`` runs again: what it still finds is what remains.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pilot_tui.cloud import aws_errors
from pilot_tui.naming import PROJECT_TAG, deployer_user, parameter_path, prefix, project_resource

UNOWNED_BUCKET = "S3 bucket, not provably Pilot's"
STEPS = ("apps", "containers", "deployer", "server", "state", "local")
STEP_TITLES = {
    "apps": "apps (each target's own destroy)",
    "containers": "containers on this machine's Docker",
    "deployer": "the deployer identity",
    "server": "the Pilot Server (Terraform)",
    "state": "the state bucket and lock table",
    "local": "local records in .pilot/",
}
Say = Callable[[str], None]


@dataclass(frozen=True)
class Thing:
    """One thing Pilot made: ``found`` says how it was found (a tag, a name, Terraform
    state, a file); ``app``/``target`` name the app it belongs to, when one does."""

    kind: str
    name: str
    found: str
    app: str = ""
    target: str = ""

    @property
    def step(self) -> str:
        return KIND_STEPS[self.kind]

    def describe(self) -> str:
        owner = f"app {self.app}; " if self.app else ""
        return f"{self.kind} {self.name} ({owner}{self.found})"


KIND_STEPS = {
    "S3 bucket": "apps",
    UNOWNED_BUCKET: "apps",  # listed, never removed (Inventory.unowned)
    "CloudFront distribution": "apps",
    "Lambda function": "apps",
    "ECR repository": "apps",
    "ECS cluster": "apps",
    "ECS service": "apps",
    "ECS task definition": "apps",
    "load balancer": "apps",
    "target group": "apps",
    "app security group": "apps",
    "log group": "apps",
    "SSM parameter": "apps",
    "GCS bucket": "apps",
    "Cloud Run service": "apps",
    "container": "containers",
    "Docker network": "containers",
    "IAM user": "deployer",
    "access key": "deployer",
    "IAM role": "deployer",
    "GCP service account": "deployer",
    "Terraform resource": "server",
    "EC2 instance": "server",
    "VPC": "server",
    "subnet": "server",
    "internet gateway": "server",
    "route table": "server",
    "security group": "server",
    "key pair": "server",
    "state bucket": "state",
    "lock table": "state",
    "local record": "local",
}


@dataclass
class Inventory:
    """What a destroy removes, in order, and what it keeps (``--keep-state``)."""

    remove: list[Thing]
    keep: list[Thing] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be listed, and why
    # Named like the project's but with nothing to show Pilot made it (no tag, not the
    # state bucket, not a site's): listed and left alone, never deleted on a name alone.
    unowned: list[Thing] = field(default_factory=list)

    @property
    def has_state(self) -> bool:
        """A state bucket or lock table is listed: there is a keep-state choice to make."""
        return any(t.step == "state" for t in [*self.remove, *self.keep])

    def keeping_state(self, keep_state: bool) -> Inventory:
        """The same list with the state bucket and lock table kept or removed: the choice
        `server destroy --keep-state` makes, and the Server screen's confirmation."""
        every = sorted([*self.remove, *self.keep], key=_order)
        keep = [t for t in every if keep_state and t.step == "state"]
        return Inventory(
            [t for t in every if t not in keep], keep, list(self.problems), list(self.unowned)
        )

    def unowned_lines(self) -> list[str]:
        """Each thing left alone, why, and how its owner can remove it."""
        return [
            f"Kept, not Pilot's to remove: S3 bucket {t.name} ({t.found}). If it is "
            f"this project's, remove it yourself: aws s3 rb s3://{t.name} --force "
            "(a versioned bucket needs every object version deleted first)"
            for t in self.unowned
        ]

    def by_step(self) -> list[tuple[str, list[Thing]]]:
        return [
            (step, [t for t in self.remove if t.step == step])
            for step in STEPS
            if any(t.step == step for t in self.remove)
        ]


def inventory(
    found: Iterable[Thing],
    planned: Iterable[str],
    state_ids: dict[str, str],
    *,
    keep_state: bool,
    problems: Iterable[str] = (),
) -> Inventory:
    """The ordered list of what goes: ``found`` by a scan, ``planned`` the addresses of
    Terraform's destroy plan, ``state_ids`` {address: id} of its state (a resource found by
    its tag whose id Terraform holds is Terraform's to remove, listed once)."""
    terraform = [Thing("Terraform resource", address, "Terraform state") for address in planned]
    held = set(state_ids.values()) - {""}
    rest = [t for t in found if not (t.step == "server" and held & set(t.name.split()))]
    rest = [
        t
        if t.step != "server"
        else Thing(t.kind, t.name, f"{t.found}; not in Terraform state", t.app, t.target)
        for t in rest
    ]
    everything = sorted(_unique([*rest, *terraform]), key=_order)
    keep = [t for t in everything if keep_state and t.step == "state"]
    unowned = [t for t in everything if t.kind == UNOWNED_BUCKET]
    return Inventory(
        [t for t in everything if t not in keep and t not in unowned],
        keep,
        list(problems),
        unowned,
    )


def _order(thing: Thing) -> tuple[int, str, str, str]:
    return (STEPS.index(thing.step), thing.app, thing.kind, thing.name)


def _unique(things: list[Thing]) -> list[Thing]:
    seen: set[tuple[str, str]] = set()
    out = []
    for thing in things:
        if (thing.kind, thing.name) not in seen:
            seen.add((thing.kind, thing.name))
            out.append(thing)
    return out


# -- names ---------------------------------------------------------------------------------
def app_of(project: str, name: str, suffix: str = "") -> str:
    """The app a ``pilot-PROJECT-APP[suffix]`` name belongs to ("" when none)."""
    if not name.startswith(prefix(project)):
        return ""
    rest = name[len(prefix(project)) :]
    return rest[: -len(suffix)] if suffix and rest.endswith(suffix) else rest


# -- scanning the clouds -------------------------------------------------------------------
@dataclass
class Scan:
    """Where to look: clients made once, each None when that place is not in use."""

    project: str
    aws: Callable[[str], Any] | None = None  # service name -> a boto3 client (admin)
    gcs: Any = None  # a google-cloud-storage client
    docker: Any = None  # a docker SDK client for this machine's engine (the sandbox)
    state_dir: Path | None = None
    state_bucket: str | None = None
    lock_table: str | None = None
    gcs_state_bucket: str | None = None
    apps: tuple[str, ...] = ()  # the apps pilot.toml names
    declared: list[Thing] = field(default_factory=list)  # from pilot.toml: no API to list
    neighbours: set[str] = field(default_factory=set)  # projects named PROJECT-something
    notes: list[str] = field(default_factory=list)  # places that could not be opened
    found: list[Thing] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def run(self, *, declared: bool = True) -> tuple[list[Thing], list[str]]:
        """(what was found, what could not be listed). ``declared``: also what pilot.toml
        says may exist where nothing can be listed (not when checking what remains)."""
        self.found = list(self.declared) if declared else []
        self.problems = list(self.notes)
        if self.aws is not None:
            for reader in (
                self._neighbours,
                self._s3,
                self._cloudfront,
                self._lambda,
                self._ecr,
                self._ecs,
                self._balancers,
                self._ec2,
                self._logs,
                self._ssm,
                self._iam,
                self._aws_state,
            ):
                self._read(reader)
        if self.gcs is not None:
            self._read(self._gcs)
        if self.docker is not None:
            self._read(self._containers)
        if self.state_dir is not None:
            self.found += local_records(self.state_dir)
        return self.found, self.problems

    def _read(self, reader: Callable[[], None]) -> None:
        try:
            reader()
        except Exception as exc:  # a service the account may not use, or cannot reach
            from pilot_tui import redact

            what = reader.__name__.strip("_")
            self.problems.append(f"could not list {what}: {redact.text(str(exc))[:200]}")

    def _add(self, kind: str, name: str, found: str, app: str = "", target: str = "") -> None:
        if (
            found != self._tag
            and app not in self.apps
            and any(
                prefix(other) in name or f"{parameter_path(other)}/" in name
                for other in self.neighbours
            )
        ):
            return  # pilot-acme-dev-web is project acme-dev's, not app dev-web of acme
        self.found.append(Thing(kind, name, found, app, target))

    def _neighbours(self) -> None:
        """Projects whose names start with this one's and a hyphen (acme-dev beside acme):
        their pilot-acme-dev-* names match pilot-acme-* too. Known from their deployer
        users, state buckets and tags."""
        assert self.aws is not None
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
        self.neighbours = {n for n in names if n.startswith(start)}

    @property
    def _named(self) -> str:
        return f"name {prefix(self.project)}*"

    @property
    def _tag(self) -> str:
        return f"tag pilot:project={self.project}"

    def _s3(self) -> None:
        """An app's site bucket (pilot-PROJECT-APP-site) goes with its target's destroy;
        another pilot-PROJECT-* bucket goes only if it carries the project's tag (the
        state bucket is _aws_state's); one with neither is listed and left alone."""
        assert self.aws is not None
        s3 = self.aws("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            if not name.startswith(prefix(self.project)) or name == self.state_bucket:
                continue
            if name.endswith("-site"):
                self._add(
                    "S3 bucket",
                    name,
                    self._named,
                    app_of(self.project, name, "-site"),
                    "s3-cloudfront",
                )
            elif _bucket_tags(s3, name).get("pilot:project") == self.project:
                self._add("S3 bucket", name, self._tag)  # no target's: swept
            else:
                self._add(
                    UNOWNED_BUCKET,
                    name,
                    f"{self._named}, but no pilot:project={self.project} tag, no app's "
                    "site and not the state bucket in pilot.toml",
                )

    def _cloudfront(self) -> None:
        assert self.aws is not None
        cloudfront = self.aws("cloudfront")
        marker = f"pilot {prefix(self.project)}"
        for page in cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                comment = str(item.get("Comment", ""))
                if comment.startswith(marker):
                    bucket = comment.removeprefix("pilot ")
                    self._add(
                        "CloudFront distribution",
                        str(item["Id"]),
                        f"comment {comment!r}",
                        app_of(self.project, bucket, "-site"),
                        "s3-cloudfront",
                    )

    def _lambda(self) -> None:
        assert self.aws is not None
        for page in self.aws("lambda").get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                name = fn["FunctionName"]
                if name.startswith(prefix(self.project)):
                    self._add(
                        "Lambda function", name, self._named, app_of(self.project, name), "lambda"
                    )

    def _ecr(self) -> None:
        assert self.aws is not None
        for page in self.aws("ecr").get_paginator("describe_repositories").paginate():
            for repo in page.get("repositories", []):
                name = repo["repositoryName"]
                if name.startswith(prefix(self.project)):
                    self._add("ECR repository", name, self._named, app_of(self.project, name))

    def _ecs(self) -> None:
        assert self.aws is not None
        ecs = self.aws("ecs")
        cluster = project_resource(self.project)
        clusters = ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
        if any(c.get("status") == "ACTIVE" for c in clusters):
            self._add("ECS cluster", cluster, f"name {cluster}", target="ecs")
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
                        self._add(
                            "ECS service",
                            name,
                            f"in cluster {cluster}",
                            app_of(self.project, name),
                            "ecs",
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
            self._add(
                "ECS task definition", family, self._named, app_of(self.project, family), "ecs"
            )

    def _balancers(self) -> None:
        assert self.aws is not None
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
                self._add(
                    "load balancer",
                    balancer["LoadBalancerName"],
                    f"tag pilot:app={owner}",
                    app_of(self.project, owner),
                    "ecs",
                )
        for page in elbv2.get_paginator("describe_target_groups").paginate():
            for group in page["TargetGroups"]:
                name = group["TargetGroupName"]
                if name.startswith(prefix(self.project)):
                    self._add("target group", name, self._named, app_of(self.project, name), "ecs")

    def _ec2(self) -> None:
        """The server's machine and network (Terraform tags them all) and the ECS apps'
        security groups, by the project's tag."""
        assert self.aws is not None
        ec2 = self.aws("ec2")
        tagged = [{"Name": "tag:pilot:project", "Values": [self.project]}]
        for reservation in ec2.describe_instances(Filters=tagged)["Reservations"]:
            for instance in reservation["Instances"]:
                if instance.get("State", {}).get("Name") not in ("terminated", "shutting-down"):
                    self._add("EC2 instance", instance["InstanceId"], self._tag)
        for vpc in ec2.describe_vpcs(Filters=tagged)["Vpcs"]:
            self._add("VPC", vpc["VpcId"], self._tag)
        for subnet in ec2.describe_subnets(Filters=tagged)["Subnets"]:
            self._add("subnet", subnet["SubnetId"], self._tag)
        for gateway in ec2.describe_internet_gateways(Filters=tagged)["InternetGateways"]:
            self._add("internet gateway", gateway["InternetGatewayId"], self._tag)
        for table in ec2.describe_route_tables(Filters=tagged)["RouteTables"]:
            if not any(a.get("Main") for a in table.get("Associations", [])):
                self._add("route table", table["RouteTableId"], self._tag)
        for group in ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]:
            name = group.get("GroupName", "")
            app = app_of(self.project, name.removesuffix("-lb").removesuffix("-tasks"))
            if app and name.endswith(("-lb", "-tasks")):
                self._add("app security group", f"{group['GroupId']} {name}", self._tag, app, "ecs")
            else:
                self._add("security group", f"{group['GroupId']} {name}", self._tag)
        for pair in ec2.describe_key_pairs().get("KeyPairs", []):
            if pair["KeyName"].startswith(prefix(self.project)):
                self._add(
                    "key pair",
                    f"{pair.get('KeyPairId', '')} {pair['KeyName']}".strip(),
                    self._named,
                )

    def _logs(self) -> None:
        assert self.aws is not None
        logs = self.aws("logs")
        for group_prefix, target in (
            (f"/aws/lambda/{prefix(self.project)}", "lambda"),
            (f"{parameter_path(self.project)}/", "ecs"),
        ):
            for page in logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=group_prefix
            ):
                for group in page["logGroups"]:
                    name = group["logGroupName"]
                    app = name.removeprefix(group_prefix).split("/")[0]
                    self._add("log group", name, f"name {group_prefix}*", app, target)

    def _ssm(self) -> None:
        assert self.aws is not None
        path = parameter_path(self.project)
        for page in (
            self.aws("ssm")
            .get_paginator("get_parameters_by_path")
            .paginate(Path=path, Recursive=True)
        ):
            for parameter in page["Parameters"]:
                name = parameter["Name"]
                app = name.removeprefix(path + "/").split("/")[0]
                self._add("SSM parameter", name, f"path {path}/", app, "ecs")

    def _iam(self) -> None:
        assert self.aws is not None
        iam = self.aws("iam")
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                name = user["UserName"]
                if name.startswith(prefix(self.project)):
                    self._add("IAM user", name, self._named)
                    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                        self._add(
                            "access key", f"{key['AccessKeyId']} of {name}", f"a key of {name}"
                        )
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(prefix(self.project)):
                    self._add("IAM role", role["RoleName"], self._named)

    def _aws_state(self) -> None:
        assert self.aws is not None
        from botocore.exceptions import ClientError

        if self.state_bucket:
            try:
                self.aws("s3").head_bucket(Bucket=self.state_bucket)
                self._add("state bucket", self.state_bucket, "[state] in pilot.toml")
            except ClientError:
                pass
        if self.lock_table:
            try:
                self.aws("dynamodb").describe_table(TableName=self.lock_table)
                self._add("lock table", self.lock_table, "[state] in pilot.toml")
            except ClientError:
                pass

    def _gcs(self) -> None:
        for bucket in self.gcs.list_buckets(prefix=prefix(self.project)):
            self._add(
                "GCS bucket",
                bucket.name,
                self._named,
                app_of(self.project, bucket.name, "-site"),
                "gcs-cdn",
            )
        if self.gcs_state_bucket:
            from google.api_core.exceptions import NotFound

            with contextlib.suppress(NotFound):
                self.gcs.get_bucket(self.gcs_state_bucket)
                self._add("state bucket", f"gs://{self.gcs_state_bucket}", "[state] in pilot.toml")

    def _containers(self) -> None:
        mine = self.docker.containers.list(
            all=True, filters={"label": f"pilot.project={self.project}"}
        )
        for container in mine:
            labels = container.labels
            what = "deploy lock" if "pilot.lock" in labels else "release"
            self._add(
                "container",
                container.name,
                f"label pilot.project={self.project} ({what})",
                labels.get("pilot.app", ""),
            )
        others = [
            c
            for c in self.docker.containers.list(all=True, filters={"label": "pilot.project"})
            if c.labels.get("pilot.project") != self.project
        ]
        from pilot_tui.deploy.targets.docker_host.containers import PROXY_NAME

        if not others:  # the proxy serves only this project's apps here: it goes too
            proxies = self.docker.containers.list(all=True, filters={"name": PROXY_NAME})
            for proxy in proxies:
                if proxy.name == PROXY_NAME:
                    self._add(
                        "container", proxy.name, "Pilot's proxy, serving no other project here"
                    )
            # ... and so does the private network the apps and the proxy join.
            from pilot_tui.deploy.targets.docker_host.containers import NETWORK

            for network in self.docker.networks.list(names=[NETWORK]):
                if network.name == NETWORK:
                    self._add(
                        "Docker network",
                        network.name,
                        "Pilot's private app network, used by no other project here",
                    )


def _bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchTagSet":
            return {}
        raise
    return {t["Key"]: t["Value"] for t in tags}


def _elb_tags(elbv2: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # describe_tags takes 20 at a time
        for item in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            tags[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    return tags


def local_records(state_dir: Path) -> list[Thing]:
    """Files in .pilot/ that say something is live or hold a deployer's key."""
    from pilot_tui.cloud.identity_aws import KEY_FILE
    from pilot_tui.cloud.identity_gcp import KEY_FILE as GCP_KEY_FILE
    from pilot_tui.deploy import history
    from pilot_tui.provision.server import OUTPUTS_FILE

    found = []
    for path in sorted((state_dir / "releases").glob("*.json")):
        if history.live_release(state_dir, path.stem) is not None:
            found.append(
                Thing(
                    "local record",
                    str(path.relative_to(state_dir.parent)),
                    "a live release recorded",
                    path.stem,
                )
            )
    for path, why in (
        (state_dir / "outputs" / OUTPUTS_FILE, "the server's outputs"),
        (state_dir / "keys" / KEY_FILE, "the AWS deployer's key"),
        (state_dir / "keys" / GCP_KEY_FILE, "the GCP deployer's key"),
    ):
        if path.is_file():
            found.append(Thing("local record", str(path.relative_to(state_dir.parent)), why))
    return found


# -- removing ------------------------------------------------------------------------------
def sandbox_stand_in(home: str) -> str | None:
    """Why a destroy run with --sandbox is refused for a project whose home is ``home``: the
    sandbox and the real server share the checkout's records (.pilot/outputs, the deployer's
    key file, the release history), which a sandbox teardown would delete."""
    if home == "sandbox":
        return None
    return (
        f'destroying the sandbox is refused here: this project\'s home is "{home}", and a '
        "sandbox teardown would delete this checkout's records of that server "
        "(.pilot/outputs, the deployer's key file, the release history). Try the sandbox "
        'in a copy of the project with server.home = "sandbox".'
    )


@dataclass
class Teardown:
    """One destroy of one project: what to remove it with, and what failed."""

    config: Any  # PilotConfig
    root: Path
    scan: Scan
    keep_state: bool = False
    failures: list[str] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.root / ".pilot"

    def _try(self, what: str, action: Callable[[], Any], say: Say) -> bool:
        try:
            action()
        except Exception as exc:  # the cloud refused: say what, carry on with the rest
            from pilot_tui import redact

            self.failures.append(f"{what}: {redact.text(str(exc))[:300]}")
            say(f"FAILED: {self.failures[-1]}")
            return False
        return True

    # apps ------------------------------------------------------------------------------
    def remove_apps(self, things: list[Thing], say: Say) -> None:
        """Each app through its target's own destroy; an app no longer in pilot.toml is
        destroyed as the target its leftovers show; then what no target owns."""
        from pilot_tui.deploy.app_teardown import destroy_app

        wanted: dict[tuple[str, str], None] = {}
        for thing in things:
            if thing.app and thing.target:
                wanted[(thing.app, thing.target)] = None
        for app_name, target in wanted:
            app = _app_settings(self.config, app_name, target)
            if app is None:
                continue
            self._try(
                f"app {app_name} on {target}",
                partial(destroy_app, self.config, self.state_dir, self.root, app, say),
                say,
            )
        self._sweep(
            [t for t in things if t.kind in SWEPT or (t.kind == "S3 bucket" and not t.target)],
            say,
        )

    def _sweep(self, things: list[Thing], say: Say) -> None:
        """Leftovers no target's destroy owns (a cluster with no service, a repository or a
        log group of an app that is gone); each call is idempotent."""
        if self.scan.aws is None:
            return
        aws = self.scan.aws
        for thing in things:
            self._try(f"{thing.kind} {thing.name}", partial(_sweep_one, aws, thing, say), say)

    # containers ------------------------------------------------------------------------
    def remove_containers(self, things: list[Thing], say: Say) -> None:
        docker = self.scan.docker
        if docker is None:
            return
        from docker.errors import NotFound

        containers = [t for t in things if t.kind == "container"]
        proxies = [t for t in containers if not t.found.startswith("label")]
        for thing in [*[t for t in containers if t not in proxies], *proxies]:  # the proxy last

            def remove(thing: Thing = thing) -> None:
                with contextlib.suppress(NotFound):
                    docker.containers.get(thing.name).remove(force=True)
                    say(f"removed container {thing.name}")

            self._try(f"container {thing.name}", remove, say)
        for thing in [t for t in things if t.kind == "Docker network"]:  # once it is empty

            def remove_network(thing: Thing = thing) -> None:
                with contextlib.suppress(NotFound):
                    docker.networks.get(thing.name).remove()
                    say(f"removed Docker network {thing.name}")

            self._try(f"Docker network {thing.name}", remove_network, say)

    # deployer --------------------------------------------------------------------------
    def remove_deployer(self, things: list[Thing], say: Say) -> None:
        keys = self.state_dir / "keys"
        if self.scan.aws is not None and any(t.kind != "GCP service account" for t in things):
            from pilot_tui.cloud.identity_aws import AwsDeployer

            deployer = AwsDeployer(
                self.scan.aws("iam"),
                self.scan.aws("sts"),
                self.config.project.name,
                self.config.aws.region,
            )
            if self._try("the AWS deployer", lambda: deployer.remove(keys), say):
                say(f"removed the AWS deployer {deployer_name(self.config)}, its keys and roles")
        if any(t.kind == "GCP service account" for t in things):
            from pilot_tui.cloud.clients import google_transport
            from pilot_tui.cloud.identity_gcp import GcpDeployer

            def remove_gcp() -> None:
                transport = google_transport(self.config, self.root, role="admin")
                GcpDeployer(transport, self.config.project.name, self.config.gcp.project).remove(
                    keys
                )
                say("removed the GCP deployer service account and its keys")

            self._try("the GCP deployer", remove_gcp, say)

    # server ----------------------------------------------------------------------------
    def remove_untracked(self, things: list[Thing], say: Say) -> None:
        """The server's machine and network found by tag but not in Terraform's state (an
        `up` stopped hard, a state lost): removed in dependency order, as Terraform would."""
        if self.scan.aws is None or not things:
            return
        ec2 = self.scan.aws("ec2")
        ids = {
            kind: [t.name.split(" ")[0] for t in things if t.kind == kind]
            for kind in (
                "EC2 instance",
                "internet gateway",
                "subnet",
                "route table",
                "security group",
                "VPC",
                "key pair",
            )
        }
        names = {t.name.split(" ")[0]: t.name.split(" ")[-1] for t in things}
        if ids["EC2 instance"]:

            def terminate() -> None:
                ec2.terminate_instances(InstanceIds=ids["EC2 instance"])
                ec2.get_waiter("instance_terminated").wait(
                    InstanceIds=ids["EC2 instance"], WaiterConfig={"Delay": 5, "MaxAttempts": 120}
                )
                say(f"terminated {', '.join(ids['EC2 instance'])}")

            self._try("EC2 instances", terminate, say)
        calls: list[tuple[str, Callable[[], Any]]] = []
        for gateway in ids["internet gateway"]:
            calls.append((gateway, partial(_delete_gateway, ec2, gateway)))
        calls += [(r, partial(_delete_route_table, ec2, r)) for r in ids["route table"]]
        calls += [(s, partial(ec2.delete_subnet, SubnetId=s)) for s in ids["subnet"]]
        calls += [(g, partial(ec2.delete_security_group, GroupId=g)) for g in ids["security group"]]
        calls += [(v, partial(ec2.delete_vpc, VpcId=v)) for v in ids["VPC"]]
        calls += [(k, partial(ec2.delete_key_pair, KeyName=names[k])) for k in ids["key pair"]]
        for name, call in calls:
            if self._try(name, call, say):
                say(f"deleted {name}")

    # state -----------------------------------------------------------------------------
    def remove_state(self, things: list[Thing], say: Say) -> None:
        from pilot_tui.provision import backends

        aws, gcs = self.scan.aws, self.scan.gcs
        for thing in things:

            def remove(thing: Thing = thing) -> None:
                if thing.kind == "lock table" and aws is not None:
                    say(backends.remove_lock_table(aws("dynamodb"), thing.name))
                elif thing.name.startswith("gs://") and gcs is not None:
                    say(backends.remove_gcs(gcs, thing.name.removeprefix("gs://")))
                elif aws is not None:  # an S3 state bucket was found through it
                    say(backends.remove_s3_bucket(aws("s3"), thing.name))

            self._try(thing.name, remove, say)

    # local -----------------------------------------------------------------------------
    def remove_local(self, things: list[Thing], say: Say) -> None:
        for thing in things:
            (self.root / thing.name).unlink(missing_ok=True)
            say(f"removed {thing.name}")


SWEPT = ("ECS cluster", "ECR repository", "log group", "SSM parameter")


def _delete_route_table(ec2: Any, table: str) -> None:
    found = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
    for association in found[0].get("Associations", []) if found else []:
        if not association.get("Main"):
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    ec2.delete_route_table(RouteTableId=table)


def _delete_gateway(ec2: Any, gateway: str) -> None:
    found = ec2.describe_internet_gateways(InternetGatewayIds=[gateway])["InternetGateways"]
    for attachment in found[0].get("Attachments", []) if found else []:
        ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=attachment["VpcId"])
    ec2.delete_internet_gateway(InternetGatewayId=gateway)


def _sweep_one(aws: Callable[[str], Any], thing: Thing, say: Say) -> None:
    from botocore.exceptions import ClientError

    try:
        if thing.kind == "ECS cluster":
            aws("ecs").delete_cluster(cluster=thing.name)
        elif thing.kind == "ECR repository":
            aws("ecr").delete_repository(repositoryName=thing.name, force=True)
        elif thing.kind == "log group":
            aws("logs").delete_log_group(logGroupName=thing.name)
        elif thing.kind == "S3 bucket":  # tagged, no target's: every version, then it
            from pilot_tui.provision.backends import remove_s3_bucket

            remove_s3_bucket(aws("s3"), thing.name)
        else:
            aws("ssm").delete_parameter(Name=thing.name)
    except ClientError as exc:
        code = aws_errors.code(exc)
        if "NotFound" in code or code in (
            "ParameterNotFound",
            "ClusterNotFoundException",
            "NoSuchBucket",
        ):
            return  # its target's destroy removed it already
        raise
    say(f"deleted {thing.kind} {thing.name}")


def deployer_name(config: Any) -> str:
    return deployer_user(config.project.name)


TARGET_CLASSES = {
    "s3-cloudfront": "S3CloudFrontTarget",
    "gcs-cdn": "GcsCdnTarget",
    "lambda": "LambdaTarget",
    "ecs": "EcsTarget",
    "cloud-run": "CloudRunTarget",
}


def _app_settings(config: Any, name: str, target: str) -> Any:
    """The app as pilot.toml has it when it still runs on ``target``; else an app of that
    name on that target with default settings (enough to find and remove what it left)."""
    from pilot_tui.config import schema

    app = config.app(name)
    if app is not None and app.target.kind == target:
        return app
    if target not in TARGET_CLASSES:
        return None
    return schema.AppSettings(name=name, target=getattr(schema, TARGET_CLASSES[target])())


# -- one destroy, from start to end ------------------------------------------------------
def make_scan(config: Any, root: Path) -> Scan:
    """Where this project's things can be: the sandbox's emulators (never started here: when
    they are stopped, what they held is gone) or the profile / key file in pilot.toml, and
    this machine's Docker in the sandbox. What cannot be reached is a problem, said."""
    from pilot_tui.cloud.clients import project_aws, project_gcs
    from pilot_tui.cloud.identity_aws import KEY_FILE
    from pilot_tui.config.schema import AWS_TARGETS, GCP_TARGETS
    from pilot_tui.naming import resource_name
    from pilot_tui.provision import backends

    state_dir = root / ".pilot"
    sandbox = config.server.home == "sandbox"
    project = config.project.name
    scan = Scan(project, state_dir=state_dir, apps=tuple(app.name for app in config.apps))
    kinds = {app.target.kind for app in config.apps}
    if (
        sandbox
        or config.server.home == "aws"
        or kinds & AWS_TARGETS
        or (state_dir / "keys" / KEY_FILE).is_file()
    ):
        try:
            made = project_aws(config, state_dir, sandbox=sandbox, start=False)
        except Exception as exc:  # no such profile, ...
            made = None
            scan.notes.append(f"AWS: {exc}")
        if made is not None:
            made_aws, clients = made, dict[str, Any]()

            def aws(service: str) -> Any:
                if service not in clients:
                    clients[service] = made_aws.client(service)
                return clients[service]

            scan.aws = aws
    if sandbox or config.server.home == "gcp" or kinds & GCP_TARGETS:
        try:
            scan.gcs = project_gcs(config, state_dir, root, sandbox=sandbox, start=False)
        except Exception as exc:  # no credentials
            scan.notes.append(f"Google Cloud Storage: {exc}")
    if sandbox:
        scan.docker = _local_docker()
    if config.state.backend == "s3":
        scan.state_bucket, scan.lock_table = (
            backends.bucket_name(config),
            backends.lock_table(config),
        )
    elif config.state.backend == "gcs":
        scan.gcs_state_bucket = backends.bucket_name(config)
    if not sandbox:  # no emulator answers for these: pilot.toml says they may exist
        from pilot_tui.cloud.identity_gcp import wants_gcp_deployer

        scan.declared = [
            Thing(
                "Cloud Run service",
                resource_name(project, app.name),
                "pilot.toml",
                app.name,
                "cloud-run",
            )
            for app in config.apps
            if app.target.kind == "cloud-run"
        ]
        if wants_gcp_deployer(config):
            scan.declared.append(
                Thing(
                    "GCP service account",
                    deployer_user(project),
                    "pilot.toml (an app or the server on Google Cloud)",
                )
            )
    return scan


def _local_docker() -> Any:
    """A client for this machine's Docker (where the sandbox runs apps), or None."""
    from pilot_tui.deploy.host import HostError, sandbox_engine

    try:
        target = sandbox_engine()
    except HostError:
        return None  # no engine answers: no container of the project can be running
    import docker

    return docker.DockerClient(base_url=target.address, timeout=60)


async def execute(
    teardown: Teardown,
    inv: Inventory,
    server: Any,
    plan: Any,
    say: Say,
    stage: Callable[[str, str], None],
) -> bool:
    """Remove ``inv`` step by step (``server``/``plan``: the Pilot Server and its destroy
    plan, or None). Terraform failing stops before the state and the local records, which a
    second run needs; other failures are collected and the rest still goes."""
    import asyncio

    steps = dict(inv.by_step())
    for step in STEPS:
        things = steps.get(step, [])
        if server is not None and server.interrupt.count and things:  # Ctrl+C / Esc
            teardown.failures.append(f"interrupted before {STEP_TITLES[step]}")
            return False
        if step == "server":
            if not things:
                continue
            stage(step, STEP_TITLES[step])
            if server is not None and plan is not None and plan.changes:
                result = await server.apply(plan)
                if result.interrupted or result.code != 0:
                    why = (
                        "interrupted"
                        if result.interrupted
                        else f"failed at {', '.join(result.errored) or 'a step'}"
                    )
                    teardown.failures.append(
                        f"terraform destroy {why} after {len(result.completed)} of "
                        f"{plan.total} change(s); what remains is listed above "
                        f"(log: {result.log})"
                    )
                    if result.killed:  # what may now exist outside its state, as for `up`
                        for line in server.after_kill(result):
                            say(line)
                    return False
            await asyncio.to_thread(
                teardown.remove_untracked,
                [t for t in things if t.kind != "Terraform resource"],
                say,
            )
            continue
        if things:
            stage(step, STEP_TITLES[step])
            await asyncio.to_thread(getattr(teardown, f"remove_{step}"), things, say)
    return not teardown.failures


async def plan_teardown(server: Any, plan: Any, *, keep_state: bool) -> tuple[Teardown, Inventory]:
    """What `server destroy` (the CLI, or `d` on the Server screen) lists for a Pilot
    Server: Terraform's planned destroy plus everything the clouds hold for the project."""
    import asyncio

    ids = await server.state_ids()
    root = server.project.root
    teardown = Teardown(
        server.config,
        root,
        await asyncio.to_thread(make_scan, server.config, root),
        keep_state=keep_state,
    )
    found, problems = await asyncio.to_thread(teardown.scan.run)
    return teardown, inventory(
        found,
        [c.address for c in plan.changes if c.action != "read"],
        ids,
        keep_state=keep_state,
        problems=problems,
    )


async def remaining(teardown: Teardown, server: Any) -> Inventory:
    """What a fresh scan still finds (and what Terraform's state still holds)."""
    import asyncio

    from pilot_tui.provision.server import ServerError

    found, problems = await asyncio.to_thread(teardown.scan.run, declared=False)
    ids: dict[str, str] = {}
    # A remote state went with the state bucket (unless --keep-state): there is no state
    # left to read, and the scan above finds by tag whatever Terraform would have held.
    state_removed = not teardown.keep_state and teardown.config.state.backend != "local"
    if server is not None and not state_removed:
        try:
            # With their ids: what the scan finds by tag that Terraform still holds is
            # listed once, as Terraform's (not as "not in Terraform state").
            ids = await server.state_ids()
        except ServerError as exc:
            problems = [*problems, f"Terraform's state could not be read ({exc})"]
    return inventory(found, list(ids), ids, keep_state=teardown.keep_state, problems=problems)
