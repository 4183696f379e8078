"""AWS Lambda: one function per app, one published *version* per release, and an alias
`live` that a function URL serves. A rollback moves the alias back to an earlier version.
A preview of the app is a function of its own, ``pilot-PROJECT-APP--NAME``, made the same
way, its tags saying whose preview it is and when it expires. A function of its own (not an
alias of the app's) so that a role may be given the previews alone: Lambda authorizes a
change of any alias on its function, so a role that could move a preview's alias could move
the app's `live` too (the pull requests' role of `ci github`, policy_aws.preview_policy).
Previews made by earlier Pilots, aliases ``preview--NAME`` of the app's function, are
found and removed by legacy_previews.py.

Two packages: `zip` (the folder's files, for a simple function with a handler; no Docker
needed) and `image` (the app's container image in ECR, its web server reached through the
Lambda Web Adapter, see lambda_image.py). Concurrent deploys are refused by Lambda itself:
every update names the RevisionId it read, so a teammate's change in between fails it.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from pilot_tui import redact
from pilot_tui.cloud import aws_errors
from pilot_tui.cloud.identity_aws import ensure_execution_role
from pilot_tui.config.schema import AppSettings, LambdaTarget, PilotConfig
from pilot_tui.deploy import previews as previews_rules
from pilot_tui.deploy.build.shippable import Collected, collect
from pilot_tui.deploy.context import CancelToken
from pilot_tui.deploy.previews import EXPIRES, PREVIEW_OF, Preview
from pilot_tui.deploy.targets.base import target_settings
from pilot_tui.deploy.targets.cloudwatch_logs import read_logs
from pilot_tui.deploy.targets.lambda_.listing import function_name, last_modified, preview_of
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
    preview_execution_role,
)

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

ALIAS = "live"
FORGED_AFTER = previews_rules.FORGED_AFTER  # an expiry tag past what the last change allows
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # zip's epoch: the same files make the same bytes

# What the sandbox's local AWS API answers an Invoke it cannot run: it runs functions in
# Docker, and none could be reached (the function itself was never asked).
SANDBOX_NO_DOCKER = "error running docker"


def zip_files(folder: Path, private: frozenset[Path] = frozenset()) -> Collected:
    """What a zip of ``folder`` may hold (see shippable.py): hidden files never."""
    return collect(folder, private, hidden=False)


def zip_folder(folder: Path, shipped: Collected | None = None) -> bytes:
    """The folder's files (``shipped``, default zip_files(folder)) as a deterministic zip,
    __pycache__ left out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (shipped or zip_files(folder)).paths:
            path = folder / name
            if not path.is_file() or "__pycache__" in name.split("/"):
                continue
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    """What Lambda reports as CodeSha256 for a zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Code(TypedDict, total=False):
    """A function's code, as Lambda's Code / update_function_code take it: one of the two."""

    ZipFile: bytes  # package "zip"
    ImageUri: str  # package "image": a registry reference by digest


class _Revision(TypedDict, total=False):
    RevisionId: str


def _revision(revision: str | None) -> _Revision:
    """RevisionId=... when known: Lambda then refuses the call if the function changed since
    it was read (a teammate deploying at the same time)."""
    return {"RevisionId": revision} if revision else {}


STATUS_WAIT = 10  # seconds `status` waits for the health path's answer


@dataclass
class LambdaFunction:
    lam: LambdaClient
    iam: IAMClient
    logs_client: CloudWatchLogsClient
    project: str
    app: str
    settings: LambdaTarget
    kind: str = "lambda"
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)  # the deploy's
    alias: str = ALIAS  # the alias deploys move, rollbacks and status read
    # A preview's function: ``app`` is its full name (APP--NAME), and these are what its
    # tags record (previews.Preview.labels), renewed by each deploy.
    preview: Preview | None = None
    invoker: LambdaClient | None = None  # the watch's looks (open_lambda); else ``lam``
    # status's look: waited for STATUS_WAIT at most (a hung app never stalls `status`)
    status_invoker: LambdaClient | None = None
    # The Resource Groups Tagging API, which finds the app's previews by their tags; made
    # only when asked (open_lambda).
    tagging: Callable[[], ResourceGroupsTaggingAPIClient] | None = field(default=None, repr=False)
    simulated: bool = False  # the sandbox's: its URLs are made up (addresses.py), said so

    @property
    def name(self) -> str:
        return function_name(self.project, self.app)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    def role_name(self) -> str:
        return execution_roles(self.project)["lambda"]

    # -- making it ---------------------------------------------------------------------
    def ensure_role(self, say: Say) -> str:
        """The execution role (only CloudWatch Logs), shared by the project's functions; a
        preview's, when `ci github` made it, its own (its own logs only)."""
        if self.preview is not None:
            try:
                role = self.iam.get_role(RoleName=preview_execution_role(self.project))
                return str(role["Role"]["Arn"])
            except self.iam.exceptions.NoSuchEntityException:
                pass  # no previews from pull requests: the apps' role, as a laptop may pass
        arn, created = ensure_execution_role(self.iam, self.project, "lambda")
        if created:
            say(f"created execution role {self.role_name()}")
        return arn

    def current(self) -> dict[str, Any] | None:
        """The function's configuration, or None when it does not exist yet. TargetError
        when its tags say it is another project's (a neighbour project's names can match
        this one's: pilot-acme-x-web and app "x-web" of acme), or another app's preview."""
        try:
            found = self.lam.get_function(FunctionName=self.name)
        except self.lam.exceptions.ResourceNotFoundException:
            return None
        tags = found.get("Tags") or {}
        whose = tags.get(PROJECT_TAG)
        if whose is not None and whose != self.project:
            raise TargetError(
                f"function {self.name} is project {whose!r}'s (its {PROJECT_TAG} tag), not "
                f"{self.project!r}'s: nothing of it is changed"
            )
        if self.preview is not None and tags.get(PREVIEW_OF, self.preview.app) != self.preview.app:
            raise TargetError(
                f"function {self.name} is a preview of {tags[PREVIEW_OF]!r}, not of "
                f"{self.preview.app!r}: nothing of it is changed"
            )
        return dict(found["Configuration"])

    def live_version(self) -> dict[str, Any] | None:
        """The configuration of the version the alias serves, or None."""
        try:
            return dict(
                self.lam.get_function_configuration(FunctionName=self.name, Qualifier=self.alias)
            )
        except self.lam.exceptions.ResourceNotFoundException:
            return None

    def unchanged(self, code: Code, env: dict[str, str]) -> str | None:
        """The live version when it already runs exactly this code and environment."""
        live = self.live_version()
        if live is None:
            return None
        same_env = live.get("Environment", {}).get("Variables", {}) == env
        if "ZipFile" in code:
            same_code = live.get("CodeSha256") == code_sha256(code["ZipFile"])
        else:  # an image reference by digest names its content
            same_code = self._image_of(self.alias) == code["ImageUri"]
        return str(live["Version"]) if same_env and same_code else None

    def deploy_code(self, code: Code, env: dict[str, str], release: str, say: Say) -> Revision:
        """Create or update the function with ``code`` ({"ZipFile": bytes} or
        {"ImageUri": ref}), publish a version and point the alias and its URL at it."""
        from botocore.exceptions import ClientError

        try:
            existing = self.current()
            config = {
                "MemorySize": self.settings.memory,
                "Timeout": self.settings.timeout,
                "Environment": {"Variables": env},
            }
            if existing is None:
                self._create(code, config, say)
            else:
                self._update(existing, code, config, say)
                if self.preview is not None:  # its new expiry (whose it is never changes)
                    self.lam.tag_resource(
                        Resource=existing["FunctionArn"],
                        Tags={EXPIRES: self.preview.labels()[EXPIRES]},
                    )
            whose = f"{self.preview.full} " if self.preview else ""
            published = self.lam.publish_version(
                FunctionName=self.name,
                Description=f"pilot {whose}{release}",
                **_revision(self._wait_ready()),
            )
            version = published["Version"]
            if not self._holds(published, code, env):
                # Two deploys of the function at once (teammates', or a laptop's and a
                # CI run's): the other's update landing between this one's update and its
                # publish is caught here.
                raise TargetError(
                    f"function {self.name} was changed by another deploy during this one "
                    f"(its version {version} holds that change, and nothing serves it); "
                    "deploy again"
                )
            say(f"published version {version}")
            url = self._point_alias(str(version), say)
        except ClientError as exc:
            if aws_errors.code(exc) == "PreconditionFailedException":
                raise TargetError(
                    f"function {self.name} was changed by someone else during "
                    "this deploy; deploy again"
                ) from exc
            raise aws_errors.converted(f"function {self.name}", exc) from exc
        return Revision(str(version), url, f"version {version} of {self.name}")

    def _create(self, code: Code, config: dict[str, Any], say: Say) -> None:
        role = self.ensure_role(say)
        args: dict[str, Any] = {
            "FunctionName": self.name,
            "Role": role,
            "Code": code,
            "Tags": {PROJECT_TAG: self.project, **(self.preview.labels() if self.preview else {})},
            **config,
        }
        if "ZipFile" in code:
            args.update(
                PackageType="Zip", Handler=self.settings.handler, Runtime=self.settings.runtime
            )
        else:
            args.update(PackageType="Image")
        for attempt in range(10):  # a new role takes seconds to be assumable by Lambda
            try:
                self.lam.create_function(**args)
                break
            except self.lam.exceptions.InvalidParameterValueException as exc:
                if "role" not in str(exc).lower() or attempt == 9:
                    raise
                time.sleep(3)
        say(f"created function {self.name}")

    def _update(
        self, existing: dict[str, Any], code: Code, config: dict[str, Any], say: Say
    ) -> None:
        wanted = "Zip" if "ZipFile" in code else "Image"
        if existing.get("PackageType", "Zip") != wanted:
            raise TargetError(
                f"function {self.name} is a {existing.get('PackageType')} "
                f"function and apps.{self.app}.target.package asks for "
                f"{wanted.lower()}: destroy the app first (pilot-tui app "
                f"destroy {self.app})"
            )
        revision = self._wait_ready()
        if "ZipFile" in code:
            config = {**config, "Handler": self.settings.handler, "Runtime": self.settings.runtime}
        if self.preview is not None:  # made before the previews' own role: it runs as it now
            config = {**config, "Role": self.ensure_role(say)}
        self.lam.update_function_configuration(
            FunctionName=self.name, **_revision(revision), **config
        )
        self.lam.update_function_code(
            FunctionName=self.name, **_revision(self._wait_ready()), **code
        )
        say(f"updated function {self.name}")

    def _wait_ready(self, timeout: float = 300) -> str | None:
        """Wait out an update in progress; the function's RevisionId once it is settled."""
        deadline = time.monotonic() + timeout
        while True:
            config = self.lam.get_function_configuration(FunctionName=self.name)
            status = config.get("LastUpdateStatus", "Successful")
            if config.get("State", "Active") == "Failed" or status == "Failed":
                why = config.get("LastUpdateStatusReason") or config.get("StateReason")
                raise TargetError(f"function {self.name} failed to update: {why}")
            if status == "Successful" and config.get("State", "Active") == "Active":
                return config.get("RevisionId")  # (moto does not keep one)
            if time.monotonic() > deadline:
                raise TargetError(f"function {self.name} still updating after {timeout:.0f}s")
            time.sleep(1)

    def _point_alias(self, version: str, say: Say) -> str:
        try:
            alias = self.lam.get_alias(FunctionName=self.name, Name=self.alias)
            self.lam.update_alias(
                FunctionName=self.name,
                Name=self.alias,
                FunctionVersion=version,
                **_revision(alias.get("RevisionId")),
            )
        except self.lam.exceptions.ResourceNotFoundException:
            self.lam.create_alias(FunctionName=self.name, Name=self.alias, FunctionVersion=version)
        say(f"alias {self.alias} -> version {version}")
        return self.ensure_url(say)

    def ensure_url(self, say: Say) -> str:
        """The public function URL of the alias (auth NONE: it is a web app), and the grants
        that let anyone call it."""
        try:
            url = self.lam.get_function_url_config(FunctionName=self.name, Qualifier=self.alias)[
                "FunctionUrl"
            ]
        except self.lam.exceptions.ResourceNotFoundException:
            url = self.lam.create_function_url_config(
                FunctionName=self.name, Qualifier=self.alias, AuthType="NONE"
            )["FunctionUrl"]
            say(f"function URL {'simulated: ' if self.simulated else ''}{url}")
        self._grant_public()
        return str(url)

    def _grant_public(self) -> None:
        """Anyone may call the alias through its URL: since October 2025 a new function URL
        needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction (the latter only by
        way of the URL). Granted again on each deploy: a URL an earlier Pilot made may lack
        the second (a conflict: granted already)."""
        grants = (
            (
                "pilot-public-url",
                {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"},
            ),
            (
                "pilot-public-url-invoke",
                {"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True},
            ),
        )
        for statement, grant in grants:
            with contextlib.suppress(self.lam.exceptions.ResourceConflictException):
                self.lam.add_permission(
                    FunctionName=self.name,
                    Qualifier=self.alias,
                    StatementId=statement,
                    Principal="*",
                    **grant,
                )

    # -- the contract ------------------------------------------------------------------
    def deploy(self, image: str, env: dict[str, str], release: str, say: Say) -> Revision:
        return self.deploy_code({"ImageUri": image}, env, release, say)

    def activate(self, ref: str, say: Say, *, wait: bool = True) -> Revision:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.lam.get_function_configuration(FunctionName=self.name, Qualifier=ref)
        except self.lam.exceptions.ResourceNotFoundException as exc:
            raise TargetError(f"function {self.name} has no version {ref} any more") from exc
        except (ClientError, BotoCoreError) as exc:
            raise aws_errors.converted(f"function {self.name}", exc) from exc
        try:
            url = self._point_alias(ref, say)
        except (ClientError, BotoCoreError) as exc:
            raise aws_errors.converted(f"function {self.name}", exc) from exc
        return Revision(ref, url, f"version {ref} of {self.name}")

    def status(self) -> TargetStatus:
        live = self.live_version()
        if live is None:
            return TargetStatus("not deployed", "-")
        try:  # read only: asking for the status makes nothing
            url = str(
                self.lam.get_function_url_config(FunctionName=self.name, Qualifier=self.alias)[
                    "FunctionUrl"
                ]
            )
        except self.lam.exceptions.ResourceNotFoundException:
            url = "-"
        state, update = live.get("State", "Active"), live.get("LastUpdateStatus", "Successful")
        detail = f"version {live['Version']}, {live.get('PackageType', 'Zip').lower()}"
        if state != "Active" or update != "Successful":
            reason = live.get("StateReason") or live.get("LastUpdateStatusReason") or state
            return TargetStatus(f"unhealthy ({reason})", url, detail)
        # Active says only that Lambda can run it: its health path is asked, as the
        # Docker host's status asks its container's (found reviewing: "healthy" of a
        # function that raised on every request).
        path = self.settings.health_path
        look = self.probe(path, client=self.status_invoker)
        if look.healthy:
            return TargetStatus("healthy", url, detail)
        if look.healthy is None:  # not the app's answer: Lambda could not be asked
            return TargetStatus(
                f"unknown (active; no answer from {path}: {look.detail})", url, detail
            )
        return TargetStatus(f"unhealthy ({path}: {look.detail})", url, detail)

    def probe(
        self, path: str, revision: str | None = None, *, client: LambdaClient | None = None
    ) -> Probe:
        """A GET of ``path`` through the alias (or ``revision``), as its function URL asks
        it: a whole payload-2.0 event (frameworks read its requestContext), by Invoke, so
        the sandbox's simulated URL is no obstacle. One attempt, waited for as long as the
        function may run: a release that hangs is a miss, not a stuck watch."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = (client or self.invoker or self.lam).invoke(
                FunctionName=self.name,
                Qualifier=revision or self.alias,
                Payload=json.dumps(url_event(path)).encode(),
            )
            body = answer["Payload"].read().decode("utf-8", "replace")
        except (ClientError, BotoCoreError) as exc:  # not the app's answer: no verdict
            return Probe(None, aws_errors.refusal(exc) or type(exc).__name__)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if answer.get("FunctionError"):
            said = data if isinstance(data, dict) else {}
            raised = said.get("errorMessage") or said.get("errorType") or body
            if str(raised).startswith(SANDBOX_NO_DOCKER):  # not the app's answer: no verdict
                why = "the sandbox runs functions in Docker, which it cannot reach"
                return Probe(None, why, never=True)
            return Probe(False, f"it raised {redact.clip(str(raised), 120)!r}")
        # A function URL answers 200 for a result that is not a response object.
        status = data.get("statusCode", 200) if isinstance(data, dict) else 200
        try:
            code = int(status)
        except (TypeError, ValueError):
            return Probe(False, f"it answered the status {redact.clip(str(status), 40)!r}")
        return Probe(200 <= code < 300, str(code))

    def serving(self) -> str | None:
        try:
            alias = self.lam.get_alias(FunctionName=self.name, Name=self.alias)
        except Exception:  # unknown: the caller decides on its own record
            return None
        return str(alias["FunctionVersion"])

    def logs(self, *, since: float | None = None, limit: int = 200) -> Iterator[LogLine]:
        # The newest ``limit``: one page of filter_log_events holds the oldest (found
        # walking: `logs fn --tail 3` showed the first deploy's lines).
        yield from read_logs(self.logs_client, self.log_group, since, limit)

    def _holds(self, published: Mapping[str, Any], code: Code, env: dict[str, str]) -> bool:
        """Whether a published version is made of ``code`` and ``env`` (an image's by the
        reference the version runs: two deploys may have the same env)."""
        if (published.get("Environment") or {}).get("Variables", {}) != env:
            return False
        if "ZipFile" in code:
            return published.get("CodeSha256") == code_sha256(code["ZipFile"])
        return self._image_of(str(published["Version"])) == code.get("ImageUri")

    def _image_of(self, qualifier: str) -> str | None:
        """The image reference the alias or version ``qualifier`` runs."""
        found = self.lam.get_function(FunctionName=self.name, Qualifier=qualifier)
        return found["Code"].get("ImageUri")

    # -- previews ----------------------------------------------------------------------
    def previews(self, ttl: float | None = None) -> list[Preview]:
        """The previews of the app this function serves, with their URLs: the functions
        whose tags say they are previews of this app, in this project. With ``ttl``
        (previews.ttl, in seconds) an expiry tag further than a day past ``ttl`` after the
        function last changed is not believed (a pull request's run may write the tag; a
        deploy writes it from its own clock, a moment after the change): that bound
        decides.
        (The tagging API may lag a function made or deleted seconds ago: each is read
        once more, and one that is gone is left out.)"""
        assert self.tagging is not None, "open_lambda gives the tagging client"
        pages = (
            self.tagging()
            .get_paginator("get_resources")
            .paginate(
                ResourceTypeFilters=["lambda:function"],
                TagFilters=[
                    {"Key": PROJECT_TAG, "Values": [self.project]},
                    {"Key": PREVIEW_OF, "Values": [self.app]},
                ],
            )
        )
        found = []
        for page in pages:
            for mapping in page.get("ResourceTagMappingList", []):
                tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                name = mapping.get("ResourceARN", "").rpartition(":function:")[2]
                preview = preview_of(tags, name, self.project)
                if preview is None:
                    continue  # not one Pilot made
                try:
                    changed = self.lam.get_function_configuration(FunctionName=name)
                except self.lam.exceptions.ResourceNotFoundException:
                    continue  # deleted; the tagging API has not caught up
                modified = last_modified(str(changed.get("LastModified", "")))
                preview = previews_rules.believed(preview, modified, ttl)
                # Lambda keeps no creation time: a new function's last change is its making
                preview = dataclasses.replace(preview, made=modified)
                try:
                    url = self.lam.get_function_url_config(FunctionName=name, Qualifier=ALIAS)[
                        "FunctionUrl"
                    ]
                except self.lam.exceptions.ResourceNotFoundException:
                    url = ""  # a first deploy that failed before its URL: listed, to be removed
                found.append(dataclasses.replace(preview, url=str(url), state="active"))
        return found

    def destroy(self, say: Say) -> list[str]:
        done = []
        if self.current() is not None:
            with contextlib.suppress(self.lam.exceptions.ResourceNotFoundException):
                self.lam.delete_function_url_config(FunctionName=self.name, Qualifier=self.alias)
            self.lam.delete_function(FunctionName=self.name)  # every version and alias
            done.append(f"deleted function {self.name}")
        try:
            self.logs_client.delete_log_group(logGroupName=self.log_group)
            done.append(f"deleted log group {self.log_group}")
        except self.logs_client.exceptions.ResourceNotFoundException:
            pass
        for line in done:
            say(line)
        return done


def open_lambda(
    config: PilotConfig,
    state_dir: Path,
    root: Path,
    app: AppSettings,
    preview: Preview | None = None,
) -> LambdaFunction:
    """The app's function; with ``preview``, that preview's own function (``app`` then
    being the preview's copy, named APP--NAME: previews.preview_app)."""
    make = aws_clients(config, state_dir)
    settings = target_settings(app, LambdaTarget)
    return LambdaFunction(
        make("lambda"),
        make("iam"),
        make("logs"),
        config.project.name,
        app.name,
        settings,
        preview=preview,
        tagging=lambda: make("resourcegroupstaggingapi"),
        simulated=config.server.home == "sandbox",
        # The watch's looks: one attempt each (a retry would invoke the app again), waited
        # for as long as the function may run; status's: STATUS_WAIT at most.
        invoker=make("lambda", config=one_attempt(settings.timeout + 10)),
        status_invoker=make("lambda", config=one_attempt(min(settings.timeout + 2, STATUS_WAIT))),
    )


def one_attempt(read_timeout: float) -> Config:
    """A client's settings for invoking the app: one attempt in all (botocore's
    max_attempts counts retries, so 1 was two invocations of a hung app: found reviewing),
    waiting ``read_timeout`` seconds for the answer."""
    from botocore.config import Config

    return Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})


def url_event(path: str) -> dict[str, Any]:
    """A function URL's event for a GET of ``path`` (payload format 2.0), every field its
    documented events have."""
    route, _, query = path.partition("?")
    now = time.time()
    host = "pilot-watch.lambda-url.localhost"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": route,
        "rawQueryString": query,
        "headers": {"host": host, "user-agent": "pilot-watch", "accept": "*/*"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "pilot-watch",
            "domainName": host,
            "domainPrefix": "pilot-watch",
            "http": {
                "method": "GET",
                "path": route,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pilot-watch",
            },
            "requestId": f"pilot-watch-{int(now * 1000)}",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:  # (absent without one, as in Lambda's own events)
        pairs = (part.partition("=") for part in query.split("&") if part)
        event["queryStringParameters"] = {key: value for key, _, value in pairs}
    return event
