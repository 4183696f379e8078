"""The state bucket on S3, with the standard library: Signature V4 requests for the calls a
backup makes (a multipart upload of 8 MiB parts, a small record, listing, and deleting
every version of what is pruned). Credentials come from the environment (the sandbox's
placeholders) or the instance role, through IMDSv2; they are refreshed before they expire
and never written anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from pilot_tui.data.agent.aws import (
    EMPTY_SHA256,
    CachedCredentials,
    Credentials,
    NoCredentials,
    sign,
)
from pilot_tui.data.agent.wire import NETWORK_ERRORS, body_chunks
from pilot_tui.data.stores import (
    PREFIX,
    BackupStore,
    PartedUpload,
    Sink,
    StoreError,
)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class AgentS3Store(BackupStore):
    """``backups/`` in the state bucket; written with SSE AES256 like the CLI's store."""

    def __init__(
        self,
        bucket: str,
        region: str,
        endpoint: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.bucket, self.region = bucket, region
        self.environment = dict(environment or {})
        if endpoint:  # an S3 API elsewhere (the sandbox's): path-style
            parsed = urllib.parse.urlsplit(endpoint)
            self.https, self.host, self.base = parsed.scheme == "https", parsed.netloc, f"/{bucket}"
        else:
            self.https, self.host, self.base = True, f"{bucket}.s3.{region}.amazonaws.com", ""
        self._creds = CachedCredentials(self.environment)

    def where(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{PREFIX}/{key}" if key else f"s3://{self.bucket}/{PREFIX}"

    def _credentials(self) -> Credentials:
        try:
            return self._creds()
        except NoCredentials as exc:
            raise StoreError(str(exc)) from exc

    def _open(
        self,
        method: str,
        key: str | None,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """A signed request sent; its response's body unread (the caller closes)."""
        path = self.base + ("/" + f"{PREFIX}/{key}" if key is not None else "/")
        query = query or {}
        signed = sign(
            method,
            self.host,
            path,
            query,
            headers or {},
            hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
            self._credentials(),
            self.region,
            datetime.now(UTC),
        )
        target = urllib.parse.quote(path, safe="/~")
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        connection_type = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = connection_type(self.host, timeout=120)
        try:
            connection.request(method, target, body=body or None, headers=signed)
            return connection, connection.getresponse()
        except NETWORK_ERRORS as exc:
            connection.close()
            raise StoreError(f"cannot reach {self.where(key or '')}: {exc}") from exc

    def _call(
        self,
        method: str,
        key: str | None,
        query: dict[str, str] | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 204),
    ) -> tuple[int, bytes, dict[str, str]]:
        connection, response = self._open(method, key, query, body, headers)
        try:
            data = response.read()
        except NETWORK_ERRORS as exc:
            raise StoreError(f"cannot read {self.where(key or '')}: {exc}") from exc
        finally:
            connection.close()
        if response.status not in ok:
            code = _text(data, "Code") or str(response.status)
            raise StoreError(
                f"{method} {self.where(key or '')}: {code}: {_text(data, 'Message') or ''}"
            )
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        _, data, _ = self._call(
            "POST", key, {"uploads": ""}, headers={"x-amz-server-side-encryption": "AES256"}
        )
        upload = _Upload(self, key, _text(data, "UploadId") or "")
        try:
            yield upload
            upload.finish()
        except BaseException:
            with contextlib.suppress(StoreError):
                self._call("DELETE", key, {"uploadId": upload.upload_id})
            raise

    def chunks(self, key: str) -> Iterator[bytes]:
        connection, response = self._open("GET", key)
        yield from body_chunks(connection, response, self.where(key))

    def read(self, key: str) -> bytes | None:
        status, data, _ = self._call("GET", key, ok=(200, 404))
        return data if status == 200 else None

    def write(self, key: str, data: bytes) -> None:
        self._call("PUT", key, body=data, headers={"x-amz-server-side-encryption": "AES256"})

    def create(self, key: str, data: bytes) -> bool:
        headers = {"x-amz-server-side-encryption": "AES256", "If-None-Match": "*"}
        status, _, _ = self._call("PUT", key, body=data, headers=headers, ok=(200, 409, 412))
        return status == 200  # 409: another conditional write of the key is under way

    def _list(self, query: dict[str, str]) -> Iterator[ET.Element]:
        token: dict[str, str] = {}
        while True:
            _, data, _ = self._call("GET", None, {**query, **token})
            root = ET.fromstring(data)
            yield root
            next_token = root.findtext(f"{NS}NextContinuationToken")
            if root.findtext(f"{NS}IsTruncated") != "true" or not next_token:
                return
            token = {"continuation-token": next_token}

    def keys(self, folder: str) -> list[str]:
        prefix = f"{PREFIX}/{folder}/"
        found = [
            key[len(PREFIX) + 1 :]
            for page in self._list({"list-type": "2", "prefix": prefix})
            for item in page.iter(f"{NS}Contents")
            if (key := item.findtext(f"{NS}Key") or "").startswith(prefix)
        ]
        return sorted(found)

    def folders(self) -> list[str]:
        found = {
            (item.findtext(f"{NS}Prefix") or "")[len(PREFIX) + 1 :].strip("/")
            for page in self._list({"list-type": "2", "prefix": f"{PREFIX}/", "delimiter": "/"})
            for item in page.iter(f"{NS}CommonPrefixes")
        }
        return sorted(f for f in found if f)

    def delete(self, key: str) -> None:
        """Every version of ``key`` (the state bucket is versioned: a plain delete would
        only hide the dump behind a marker and keep paying for it)."""
        name = f"{PREFIX}/{key}"
        _, data, _ = self._call("GET", None, {"versions": "", "prefix": name})
        root = ET.fromstring(data)
        for tag in ("Version", "DeleteMarker"):
            for item in root.iter(f"{NS}{tag}"):
                if item.findtext(f"{NS}Key") == name:  # "null": an unversioned bucket's
                    version = item.findtext(f"{NS}VersionId") or "null"
                    self._call("DELETE", key, {"versionId": version})


class _Upload(PartedUpload):
    """The CLI's part sizes (stores.PartedUpload), sent with the agent's own requests."""

    def __init__(self, store: AgentS3Store, key: str, upload_id: str) -> None:
        super().__init__()
        self.store, self.key, self.upload_id = store, key, upload_id

    def _upload(self, number: int, part: bytes) -> str:
        query = {"partNumber": str(number), "uploadId": self.upload_id}
        _, _, headers = self.store._call("PUT", self.key, query, body=part)
        return headers.get("etag", "")

    def finish(self) -> None:
        if self.buffer or not self.etags:  # the last part (an empty dump: one empty part)
            self._send(bytes(self.buffer))
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            for n, etag in enumerate(self.etags, 1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        _, data, _ = self.store._call("POST", self.key, {"uploadId": self.upload_id}, body=body)
        if b"<Error>" in data:  # S3 may answer 200 and fail in the body
            raise StoreError(f"{self.store.where(self.key)}: {_text(data, 'Message')}")


def _text(data: bytes, tag: str) -> str | None:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    found = root.find(f".//{NS}{tag}")
    if found is None:
        found = root.find(f".//{tag}")
    return found.text if found is not None else None
