"""Where backups are kept: the project's state bucket (S3 with server-side encryption, or
GCS) under ``backups/DB/``, or ``.pilot/backups/DB/`` for a project with local state. One
base class, one class per place, chosen at one dispatch point (``store_for``).

Dumps are written as a stream of chunks and read back as one: no store needs the whole
dump in memory or on a disk of its own first (S3: a multipart upload of 8 MiB parts; GCS: a
resumable upload; local: a ``.partial`` file renamed when complete). A write that fails or
is interrupted leaves nothing a listing would show.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pilot_tui import redact
from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir

if TYPE_CHECKING:
    from pilot_tui.config.schema import PilotConfig

PREFIX = "backups"
PART = 8 << 20  # S3's parts and GCS's upload chunks (S3 wants >= 5 MiB but for the last)
READ_CHUNK = 1 << 20
# S3's answers to a create that lost: the key exists, or another one is being made.
CREATE_LOST = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


class StoreError(PilotError):
    """The backup store cannot be read or written; the message says which and why."""

    title = "Backup store problem"


class Sink(Protocol):
    def write(self, data: bytes) -> object: ...


class BackupStore(ABC):
    """Keys are relative (``main/20261203T101500Z.dump``); ``where`` names one for people."""

    @abstractmethod
    def where(self, key: str = "") -> str: ...

    @abstractmethod
    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        """A sink for ``key``'s bytes; the object exists only once the block ends without
        an error (an error aborts the upload and leaves nothing behind)."""

    @abstractmethod
    def chunks(self, key: str) -> Iterator[bytes]:
        """The object's bytes, in order, a chunk at a time."""

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """A small object's bytes (a record), or None when there is none."""

    @abstractmethod
    def write(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only where there is none, in one step no other writer can come
        between (S3's If-None-Match, GCS's generation 0, O_EXCL): whether it was made."""

    @abstractmethod
    def keys(self, folder: str) -> list[str]:
        """The keys under ``folder/``, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is gone already."""

    @abstractmethod
    def folders(self) -> list[str]:
        """The databases with anything in the store (a folder each), sorted."""

    def bucket_exists(self) -> bool:
        return True

    @contextlib.contextmanager
    def _errors(self, verb: str, key: str) -> Iterator[None]:
        """The client library's errors (botocore's, google-api-core's, requests'...) as
        StoreError, naming the object."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"cannot {verb} {self.where(key)}: {redact.clip(str(exc), 200)}"
            ) from exc


class LocalStore(BackupStore):
    """``.pilot/backups/`` on this machine: 0600 files in a 0700 folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def where(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"backup key {key!r} leaves {self.root}")
        return path

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        path = self._path(key)
        ensure_private_dir(path.parent)
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            with self._path(key).open("rb") as source:
                while chunk := source.read(READ_CHUNK):
                    yield chunk
        except FileNotFoundError as exc:
            raise StoreError(f"no backup file {self.where(key)}") from exc

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        ensure_private_dir(path.parent)
        atomic_write(path, data, mode=0o600)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        ensure_private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot write {self.where(key)}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as exc:  # a disk full: not a claim half made
            path.unlink(missing_ok=True)
            raise StoreError(f"cannot write {self.where(key)}: {exc}") from exc
        return True

    def keys(self, folder: str) -> list[str]:
        base = self._path(folder)
        if not base.is_dir():
            return []
        return sorted(
            f"{folder}/{p.name}"
            for p in base.iterdir()
            if p.is_file() and "." in p.name
            if not p.name.endswith(".partial")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def folders(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(p.iterdir()))


class S3Store(BackupStore):
    """The state bucket on S3; every object encrypted at rest (SSE-S3)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def where(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{PREFIX}/{key}"

    def folders(self) -> list[str]:
        return _s3_folders(self)

    def bucket_exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception:  # 404, or 403 to a bucket of another account: create says which
            return False
        return True

    def _key(self, key: str) -> str:
        return f"{PREFIX}/{key}"

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        upload = _S3Upload(self.client, self.bucket, self._key(key))
        try:
            yield upload
            upload.finish()
        except BaseException:
            upload.abort()
            raise

    def chunks(self, key: str) -> Iterator[bytes]:
        with self._errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            yield from body.iter_chunks(READ_CHUNK)

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        from pilot_tui.cloud import aws_errors

        with self._errors("read", key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if aws_errors.code(exc) in ("NoSuchKey", "404"):
                    return None
                raise
            return bytes(response["Body"].read())

    def write(self, key: str, data: bytes) -> None:
        with self._errors("write", key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ServerSideEncryption="AES256",
            )

    def create(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        from pilot_tui.cloud import aws_errors

        with self._errors("write", key):
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=data,
                    ServerSideEncryption="AES256",
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                # 409: another conditional write of the key is under way.
                if aws_errors.code(exc) in CREATE_LOST:
                    return False
                raise
            return True

    def keys(self, folder: str) -> list[str]:
        found: list[str] = []
        with self._errors("list", folder):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(folder) + "/"
            )
            for page in pages:
                found += [item["Key"][len(PREFIX) + 1 :] for item in page.get("Contents", [])]
        return sorted(found)

    def delete(self, key: str) -> None:
        """Every version of it: the state bucket keeps old versions, and a backup past
        ``keep`` must really go (it holds the data it held)."""
        with self._errors("delete", key):
            found = self.client.list_object_versions(Bucket=self.bucket, Prefix=self._key(key))
            versions = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in found.get("Versions", []) + found.get("DeleteMarkers", [])
                if item["Key"] == self._key(key)
            ]
            if versions:
                done = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": versions})
                if done.get("Errors"):  # a batch answers 200 with per-key errors
                    first = done["Errors"][0]
                    raise StoreError(
                        f"cannot delete {self.where(key)}: {first.get('Code')} "
                        f"{first.get('Message', '')}".strip()
                    )


def _s3_folders(store: S3Store) -> list[str]:
    found: set[str] = set()
    with store._errors("list", ""):
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=f"{PREFIX}/", Delimiter="/"
        )
        for page in pages:
            found |= {
                p["Prefix"][len(PREFIX) + 1 :].strip("/") for p in page.get("CommonPrefixes", [])
            }
    return sorted(found)


class PartedUpload(ABC):
    """A multipart upload fed a chunk at a time: memory holds one part, never the dump.
    Its parts go by ``_upload`` (boto3's client, or the backup agent's own requests)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.etags: list[str] = []  # of the parts sent, in order

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= self.part_size:
            size = self.part_size
            self._send(bytes(self.buffer[:size]))
            del self.buffer[:size]
        return len(data)

    @property
    def part_size(self) -> int:
        """8 MiB, 16 MiB after 1,000 parts, and so on: S3 takes at most 10,000 parts, so
        a dump may reach ~430 GiB while memory holds one part."""
        return PART * (1 + len(self.etags) // 1000)

    def _send(self, part: bytes) -> None:
        self.etags.append(self._upload(len(self.etags) + 1, part))

    @abstractmethod
    def _upload(self, number: int, part: bytes) -> str:
        """Send part ``number`` (from 1); its ETag."""


class _S3Upload(PartedUpload):
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        self.upload_id: str | None = None

    def _upload(self, number: int, part: bytes) -> str:
        try:
            if self.upload_id is None:
                started = self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=self.key, ServerSideEncryption="AES256"
                )
                self.upload_id = started["UploadId"]
            sent = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=part,
            )
        except Exception as exc:  # botocore's: the upload is aborted by the writer
            raise StoreError(f"cannot write s3://{self.bucket}/{self.key}: {exc}") from exc
        return str(sent["ETag"])

    def finish(self) -> None:
        try:
            if self.upload_id is None:  # smaller than one part: one request
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=bytes(self.buffer),
                    ServerSideEncryption="AES256",
                )
                return
            if self.buffer:
                self._send(bytes(self.buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": n, "ETag": etag} for n, etag in enumerate(self.etags, 1)
                    ]
                },
            )
        except Exception as exc:
            raise StoreError(f"cannot write s3://{self.bucket}/{self.key}: {exc}") from exc

    def abort(self) -> None:
        if self.upload_id is not None:
            with contextlib.suppress(Exception):  # else the state bucket's lifecycle, in a day
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
                )


class _GcsSink:
    """The blob writer, its errors said as StoreError's (it uploads as it is written)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, data: bytes) -> int:
        try:
            return int(self.writer.write(data))
        except Exception as exc:  # google-api-core's, requests'
            raise StoreError(f"cannot write to GCS: {redact.clip(str(exc), 200)}") from exc


class GcsStore(BackupStore):
    """The state bucket on Google Cloud Storage (encrypted at rest by Google)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def where(self, key: str = "") -> str:
        return f"gs://{self.bucket}/{PREFIX}/{key}"

    def folders(self) -> list[str]:
        with self._errors("list", ""):
            blobs = self.client.list_blobs(self.bucket, prefix=f"{PREFIX}/", delimiter="/")
            for _ in blobs:  # the prefixes are known once the pages are read
                pass
            return sorted(p[len(PREFIX) + 1 :].strip("/") for p in blobs.prefixes)

    def bucket_exists(self) -> bool:
        with self._errors("find", ""):
            return self.client.lookup_bucket(self.bucket) is not None

    def _blob(self, key: str) -> Any:
        return self.client.bucket(self.bucket).blob(f"{PREFIX}/{key}")

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        with self._errors("write", key):
            sink = self._blob(key).open("wb", chunk_size=PART, ignore_flush=True)
        # An error in the block leaves the resumable upload unfinished: never an object
        # (GCS drops it within a week).
        yield _GcsSink(sink)
        with self._errors("write", key):
            sink.close()

    def chunks(self, key: str) -> Iterator[bytes]:
        with self._errors("read", key), self._blob(key).open("rb", chunk_size=PART) as source:
            while chunk := source.read(READ_CHUNK):
                yield chunk

    def read(self, key: str) -> bytes | None:
        with self._errors("read", key):
            blob = self.client.bucket(self.bucket).get_blob(f"{PREFIX}/{key}")
            return None if blob is None else bytes(blob.download_as_bytes())

    def write(self, key: str, data: bytes) -> None:
        with self._errors("write", key):
            self._blob(key).upload_from_string(data)

    def create(self, key: str, data: bytes) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        with self._errors("write", key):
            try:
                self._blob(key).upload_from_string(data, if_generation_match=0)
            except PreconditionFailed:
                return False
            return True

    def keys(self, folder: str) -> list[str]:
        with self._errors("list", folder):
            blobs = self.client.list_blobs(self.bucket, prefix=f"{PREFIX}/{folder}/")
            return sorted(blob.name[len(PREFIX) + 1 :] for blob in blobs)

    def delete(self, key: str) -> None:
        """Every generation of it (the state bucket is versioned: see S3Store.delete)."""
        from google.api_core.exceptions import NotFound

        name = f"{PREFIX}/{key}"
        with self._errors("delete", key):
            for blob in self.client.list_blobs(self.bucket, prefix=name, versions=True):
                if blob.name == name:
                    with contextlib.suppress(NotFound):
                        self.client.bucket(self.bucket).blob(
                            name, generation=blob.generation
                        ).delete()


def store_for(
    config: PilotConfig, state_dir: Path, root: Path, *, start: bool = True, create: bool = True
) -> BackupStore:
    """The project's backup store: its state bucket (made when missing and ``create``, as
    the release history's), else .pilot/backups. ``start``: the sandbox's emulators too."""
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history

    if config.state.backend == "local":
        return LocalStore(state_dir / "backups")
    try:
        shared = shared_history(config, state_dir, root, start=start)
    except SharedHistoryError as exc:
        raise StoreError(str(exc)) from exc
    if shared is None:
        raise StoreError(f"the {config.state.backend} state bucket cannot be reached")
    store = (S3Store if shared.kind == "s3" else GcsStore)(shared.client, shared.bucket)
    if create and shared.create is not None and not store.bucket_exists():
        try:
            shared.create()  # with home = "host" no `server up` made it
        except Exception as exc:
            raise StoreError(f"cannot create the state bucket {shared.bucket}: {exc}") from exc
    return store
