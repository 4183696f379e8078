"""Release history shared through the remote state bucket, so teammates see one history.

With `state.backend = "s3"` or `"gcs"`, each app's history is also kept as
`pilot/releases/APP.json` in the state bucket. A deploy pulls it (under the app's deploy
lock, which holds back every other deploy of it on the same engine) before recording, and
pushes it after. The push is conditional on the copy the pull read (S3's ETag, GCS's
generation): a writer the lock does not hold back (a laptop and a CI run lock on different
engines) is found out, and its record is refused, never written over the other's (and kept
beside the local history). The local copy in .pilot/releases/ stays the working copy; when
the bucket cannot be reached the deploy goes on and says the history was not shared (in a
CI run, whose .pilot/ goes with its job, it fails instead: engine.Deployer.shared_required).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.cloud import aws_errors
from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import history
from pilot_tui.deploy.lease_rules import key as lease_key
from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write

PREFIX = "pilot/releases"


class SharedHistoryError(PilotError):
    """The bucket could not be read or written; the message says which and why."""

    title = "Shared history unreachable"


class NoBucket(SharedHistoryError):
    """The state bucket does not exist (no `server up` made it: with home = "host", or a
    sandbox)."""

    title = "State bucket missing"


class Changed(SharedHistoryError):
    """A conditional write found another version than the one it was made over (its
    callers say what that means: a conflict of histories, a lease taken meanwhile)."""

    title = "State bucket record changed meanwhile"


class SharedHistoryConflict(SharedHistoryError):
    """The bucket's history changed since this process read it: the record was not
    written over it (kept beside the local history instead)."""

    title = "Shared history changed meanwhile"


@dataclass(frozen=True)
class Stored:
    """A record as the bucket keeps it."""

    data: bytes
    version: str  # S3's ETag, GCS's generation
    age: float  # seconds since it was written, by the bucket's clock where it says


@dataclass
class SharedHistory:
    """One bucket's copy of the histories (``client`` is boto3 S3 or a GCS client)."""

    kind: str  # "s3" | "gcs"
    bucket: str
    client: Any
    create: Callable[[], object] | None = None  # makes the bucket when it does not exist
    # Each history pulled here -> the version read ("": there was none); its push must find
    # that one still there. An app never pulled is written as it is.
    seen: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time, repr=False)  # a conflict copy's name

    def key(self, app: str) -> str:
        return f"{PREFIX}/{app}.json"

    def pull(self, state_dir: Path, app: str) -> bool:
        """Replace the local history with the bucket's when it has one; True if it did."""
        raw, version = self._read_version(self.key(app))
        self.seen[app] = version
        if raw is None:
            return False
        try:
            data = json.loads(raw)
            known = {f.name for f in dataclasses.fields(history.Release)}
            # a teammate's newer Pilot may record more: kept out, never a failed pull
            records = [
                history.Release(**{k: v for k, v in item.items() if k in known}) for item in data
            ]
        except (ValueError, TypeError) as exc:
            raise SharedHistoryError(f"{self.where(app)} is not a release history: {exc}") from exc
        history.save(state_dir, app, records)
        return True

    def push(self, state_dir: Path, app: str) -> None:
        """The local history written to the bucket. When someone wrote the bucket's since
        this process pulled it, SharedHistoryConflict: the local history (holding this
        process's record) is kept beside it as APP.conflict-TIME.json, as the next pull
        replaces it with the bucket's."""
        data = history.history_file(state_dir, app).read_bytes()
        try:
            self._write(self.key(app), data, app)
        except SharedHistoryConflict as exc:
            kept = _keep_conflict(history.history_file(state_dir, app), data, self.clock())
            raise SharedHistoryConflict(f"{exc}; this machine's record is kept in {kept}") from exc
        except NoBucket:
            if not self.make_bucket():
                raise
            self._write(self.key(app), data, app)

    def make_bucket(self) -> bool:
        """Make the bucket (idempotent: with home = "host" or a sandbox no `server up` made
        it), when this copy can; whether it could. SharedHistoryError when that failed."""
        if self.create is None:
            return False
        try:
            self.create()
        except Exception as exc:
            raise SharedHistoryError(
                f"cannot create the state bucket {self.bucket}: {redact.clip(str(exc), 160)}"
            ) from exc
        return True

    def apps(self, prefix: str = "") -> list[str]:
        """The names of the histories in the bucket that start with ``prefix``."""
        keys = self.keys(f"{PREFIX}/{prefix}")
        return [
            k.removeprefix(f"{PREFIX}/").removesuffix(".json") for k in keys if k.endswith(".json")
        ]

    def keys(self, prefix: str) -> list[str]:
        """The keys of the bucket that start with ``prefix`` (NoBucket when it is missing)."""
        try:
            if self.kind == "s3":
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix
                )
                return [o["Key"] for page in pages for o in page.get("Contents", [])]
            return [b.name for b in self.client.list_blobs(self.bucket, prefix=prefix)]
        except Exception as exc:  # botocore / google errors: reported, not fatal
            error = NoBucket if _no_bucket(exc) else SharedHistoryError
            raise error(
                f"cannot list {self.kind}://{self.bucket}/{prefix}*: {redact.clip(str(exc), 160)}"
            ) from exc

    def has(self, app: str) -> bool:
        """Whether the bucket holds a history of ``app``."""
        return self._read(self.key(app)) is not None

    def forget(self, app: str) -> None:
        """Remove the bucket's copy of ``app``'s history (a preview destroyed), and its
        deploy lease (shared_lease.py) when it may."""
        try:
            self._delete(self.key(app))
        except Exception as exc:  # botocore / google errors: reported, not fatal
            said = redact.clip(str(exc), 160)
            raise SharedHistoryError(f"cannot remove {self.where(app)}: {said}") from exc
        with contextlib.suppress(Exception):  # a few bytes; a deployer made before may not
            self._delete(lease_key(app))

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing when it is not there); SharedHistoryError when refused."""
        try:
            self._delete(key)
        except Exception as exc:  # botocore / google errors
            raise SharedHistoryError(
                f"cannot remove {self.kind}://{self.bucket}/{key}: {redact.clip(str(exc), 160)}"
            ) from exc

    def _delete(self, key: str) -> None:
        if self.kind == "s3":
            self.client.delete_object(Bucket=self.bucket, Key=key)
            return
        blob = self.client.bucket(self.bucket).get_blob(key)
        if blob is not None:
            blob.delete()

    def where(self, app: str) -> str:
        scheme = "s3" if self.kind == "s3" else "gs"
        return f"{scheme}://{self.bucket}/{self.key(app)}"

    def _read(self, key: str) -> bytes | None:
        return self._read_version(key)[0]

    def _read_version(self, key: str) -> tuple[bytes | None, str]:
        """(the object's bytes, its version: S3's ETag, GCS's generation); (None, "") when
        there is none."""
        found = self.read_stored(key)
        return (None, "") if found is None else (found.data, found.version)

    def read_stored(self, key: str) -> Stored | None:
        """``key`` as the bucket keeps it, or None when there is none. NoBucket when the
        bucket is missing; SharedHistoryError when it cannot be read."""
        try:
            if self.kind == "s3":
                from botocore.exceptions import ClientError

                try:
                    found = self.client.get_object(Bucket=self.bucket, Key=key)
                except ClientError as exc:
                    if aws_errors.code(exc) in ("NoSuchKey", "404"):
                        return None
                    raise
                said = found.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
                now = parsedate_to_datetime(said).timestamp() if said else time.time()
                written = found["LastModified"].timestamp()
                return Stored(bytes(found["Body"].read()), str(found["ETag"]), now - written)
            blob = self.client.bucket(self.bucket).get_blob(key)
            if blob is None:
                return None
            written = blob.updated.timestamp() if blob.updated is not None else time.time()
            # (the GCS client hands out no answer's Date: this machine's clock, here)
            age = time.time() - written
            # Read before the download, which takes its own from the answer's headers (an
            # emulator's lack them). Bytes newer than it only fail the conditional write.
            generation = blob.generation
            return Stored(bytes(blob.download_as_bytes()), str(generation), age)
        except Exception as exc:  # botocore / google errors: reported, not fatal
            error = NoBucket if _no_bucket(exc) else SharedHistoryError
            raise error(
                f"cannot read {self.kind}://{self.bucket}/{key}: {redact.clip(str(exc), 160)}"
            ) from exc

    def put_if(self, key: str, data: bytes, expected: str | None) -> str:
        """Write ``key``, only over version ``expected`` ("": only when there is none;
        None: whatever is there); the version written. Changed when the condition failed
        (someone wrote or removed it since)."""
        try:
            if self.kind == "s3":
                condition = (
                    {}
                    if expected is None
                    else ({"IfMatch": expected} if expected else {"IfNoneMatch": "*"})
                )
                written = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ContentType="application/json",
                    **condition,
                )
                return str(written["ETag"])
            blob = self.client.bucket(self.bucket).blob(key)
            match = {} if expected is None else {"if_generation_match": int(expected or 0)}
            blob.upload_from_string(data, content_type="application/json", **match)
            return str(blob.generation)
        except Exception as exc:
            if (expected and aws_errors.code(exc) in ("NoSuchKey", "404")) or (
                expected is not None and _precondition_failed(exc)
            ):
                raise Changed(key) from exc  # removed, or written, since it was read
            error = NoBucket if _no_bucket(exc) else SharedHistoryError
            raise error(
                f"cannot write {self.kind}://{self.bucket}/{key}: {redact.clip(str(exc), 160)}"
            ) from exc

    def _write(self, key: str, data: bytes, app: str) -> None:
        """Write ``key``; when ``app``'s history was pulled here, only over the version read
        (SharedHistoryConflict when someone wrote or removed it since; a retry of this very
        write, whose first answer was lost, finds its own bytes there and is no conflict)."""
        expected = self.seen.get(app)
        try:
            version = self.put_if(key, data, expected)
        except Changed as exc:
            raw, version = self._read_version(key)
            if raw == data:  # our own write, its answer lost: a retry found it done
                self.seen[app] = version
                return
            raise SharedHistoryConflict(
                f"{self.where(app)} changed since this deploy read it (a release of {app} "
                "recorded meanwhile, from another machine or a CI run): this record is not "
                f"written over it, so the shared history may not name the release serving "
                f"now (`pilot-tui status {app}` shows it)"
            ) from exc
        if expected is not None:
            self.seen[app] = version


def _no_bucket(exc: Exception) -> bool:
    """Whether ``exc`` says the bucket does not exist (S3's NoSuchBucket; GCS's 404 for an
    object call, which answers None for a missing object itself)."""
    return aws_errors.code(exc) == "NoSuchBucket" or getattr(exc, "code", None) == 404


def _precondition_failed(exc: Exception) -> bool:
    """Whether a write was refused for its condition (S3's PreconditionFailed or a
    conditional-request conflict, GCS's 412)."""
    if aws_errors.code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
        return True
    return getattr(exc, "code", None) == 412


def shared_history(
    config: PilotConfig, state_dir: Path, root: Path, *, start: bool = False
) -> SharedHistory | None:
    """The bucket copy for this project, or None with local state; SharedHistoryError when
    the client cannot even be made (a missing profile, unreadable key file). ``start``: in
    the sandbox, start its emulators when they are not running (else None)."""
    try:
        return _client_for(config, state_dir, root, start)
    except PilotError:  # ours, with its own words (a CI run's token refused, ...)
        raise
    except Exception as exc:  # boto3 / google-auth setup errors
        raise SharedHistoryError(
            f"cannot reach the {config.state.backend} state bucket: {redact.clip(str(exc), 160)}"
        ) from exc


def _client_for(
    config: PilotConfig, state_dir: Path, root: Path, start: bool
) -> SharedHistory | None:
    from pilot_tui.provision.backends import bucket_name, ensure_gcs, ensure_s3, lock_table

    kind = config.state.backend
    if kind == "local":
        return None
    from pilot_tui.cloud import clients  # a project that shares its history only

    bucket = bucket_name(config)
    sandbox = config.server.home == "sandbox"
    if kind == "s3":
        # Not running sandbox emulators: nothing to share with (never the real AWS).
        from pilot_tui.cloud.oidc_exchange import in_github_actions

        # In a keyless CI run only the role's credentials are there (no admin profile).
        role: clients.Role = "deployer" if in_github_actions() else "admin"
        aws = clients.project_aws(config, state_dir, sandbox=sandbox, start=start, role=role)
        if aws is None:
            return None
        s3 = aws.client("s3")
        # A CI run never makes the bucket (`ci github` did): one gone took the history.
        return SharedHistory(
            "s3",
            bucket,
            s3,
            None
            if in_github_actions()
            else lambda: ensure_s3(
                s3,
                aws.client("dynamodb"),
                bucket,
                lock_table(config),
                config.aws.region,
            ),
        )
    from pilot_tui.cloud.oidc_exchange import google_in_github_actions

    # In a keyless CI run only the deployer's credentials are there, through the pool.
    client = clients.project_gcs(
        config,
        state_dir,
        root,
        sandbox=sandbox,
        start=start,
        role="deployer" if google_in_github_actions() else "admin",
    )
    if client is None:
        return None
    return SharedHistory(
        "gcs",
        bucket,
        client,
        None
        if google_in_github_actions()
        else lambda: ensure_gcs(client, bucket, config.gcp.region.upper()),
    )


def _keep_conflict(local: Path, data: bytes, now: float) -> Path:
    """``data`` kept in a free APP.conflict-TIME[-N].json beside the local history; the
    file. Each name is claimed before it is written (O_EXCL): a second refusal, in the same
    second or at once in another process, never writes over the first's kept record."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    n = 1
    while True:
        kept = local.with_suffix(f".conflict-{stamp}{f'-{n}' if n > 1 else ''}.json")
        try:
            with kept.open("xb"):
                pass
        except FileExistsError:
            n += 1
            continue
        atomic_write(kept, data)
        return kept
