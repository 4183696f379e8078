"""The state bucket on Google Cloud Storage, with the standard library: the JSON API's calls
a backup makes (a resumable upload in 8 MiB chunks, a small record, listing, and deleting
every generation of what is pruned). The token comes from the server's metadata service
(its service account, which terraform/gcp lets write backups/ of the state bucket only); it
is refreshed before it expires and never written anywhere (MetadataTokens, which the
agent's Cloud Run calls use too). With ``endpoint`` (the sandbox's
GCS emulator) no token is sent.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from pilot_tui.data.agent.wire import NETWORK_ERRORS, body_chunks
from pilot_tui.data.stores import PREFIX, BackupStore, PartedUpload, Sink, StoreError

METADATA = "169.254.169.254"  # metadata.google.internal, without needing its DNS name
# google-auth's name for another metadata server (tests' local stand-in): read per call.
METADATA_HOST_ENV = "GCE_METADATA_HOST"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
API = "https://storage.googleapis.com"


@dataclass(frozen=True)
class Token:
    value: str
    expires: float  # epoch seconds


def metadata_token() -> Token:
    """The server's service account's access token, from the metadata service."""
    host = os.environ.get(METADATA_HOST_ENV) or METADATA
    connection = http.client.HTTPConnection(host, timeout=3)
    try:
        connection.request("GET", TOKEN_PATH, headers={"Metadata-Flavor": "Google"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"GET {TOKEN_PATH}: {response.status}")
        found = json.loads(body)
        return Token(found["access_token"], time.time() + int(found["expires_in"]))
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(
            "no Google credentials: the Docker host has no service account the backup "
            f"agent can use (the metadata service at {host}: {exc})"
        ) from exc
    finally:
        connection.close()


class MetadataTokens:
    """The server's service account's current access token, asked of the metadata
    service again five minutes before it expires."""

    def __init__(self) -> None:
        self._token: Token | None = None

    def headers(self) -> dict[str, str]:
        token = self._token
        if token is None or token.expires - time.time() < 300:
            token = self._token = metadata_token()
        return {"Authorization": f"Bearer {token.value}"}


class AgentGcsStore(BackupStore):
    """``backups/`` in the state bucket (encrypted at rest by Google, as the CLI's)."""

    def __init__(self, bucket: str, endpoint: str | None = None) -> None:
        self.bucket = bucket
        parsed = urllib.parse.urlsplit(endpoint or API)
        self.https, self.host = parsed.scheme == "https", parsed.netloc
        self.anonymous = endpoint is not None  # the emulator takes no credentials
        self._tokens = MetadataTokens()

    def where(self, key: str = "") -> str:
        return f"gs://{self.bucket}/{PREFIX}/{key}" if key else f"gs://{self.bucket}/{PREFIX}"

    def _headers(self) -> dict[str, str]:
        return {} if self.anonymous else self._tokens.headers()

    def _name(self, key: str) -> str:
        return f"{PREFIX}/{key}"

    def _object_path(self, key: str) -> str:
        name = urllib.parse.quote(self._name(key), safe="")
        return f"/storage/v1/b/{self.bucket}/o/{name}"

    def _open(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """A request sent (``target``: a path with its query, or a full session URL); its
        response's body unread (the caller closes)."""
        host, https = self.host, self.https
        if target.startswith(("http://", "https://")):
            parsed = urllib.parse.urlsplit(target)
            host, https = parsed.netloc, parsed.scheme == "https"
            target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        connection_type = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = connection_type(host, timeout=120)
        sent = {**self._headers(), "Content-Length": str(len(body)), **(headers or {})}
        try:
            connection.request(method, target, body=body or None, headers=sent)
            return connection, connection.getresponse()
        except NETWORK_ERRORS as exc:
            connection.close()
            raise StoreError(f"cannot reach {self.where(what)}: {exc}") from exc

    def _call(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 204),
        what: str = "",
    ) -> tuple[int, bytes, dict[str, str]]:
        connection, response = self._open(method, target, body, headers, what)
        try:
            data = response.read()
        except NETWORK_ERRORS as exc:
            raise StoreError(f"cannot read {self.where(what)}: {exc}") from exc
        finally:
            connection.close()
        if response.status not in ok:
            raise StoreError(f"{method} {self.where(what)}: {response.status}: {_message(data)}")
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[Sink]:
        query = urllib.parse.urlencode({"uploadType": "resumable", "name": self._name(key)})
        _, _, headers = self._call(
            "POST",
            f"/upload/storage/v1/b/{self.bucket}/o?{query}",
            b"",
            {"Content-Type": "application/json; charset=UTF-8"},
            what=key,
        )
        session = headers.get("location")
        if not session:
            raise StoreError(f"{self.where(key)}: GCS started no resumable upload")
        upload = _Upload(self, key, session)
        try:
            yield upload
            upload.finish()
        except BaseException:
            with contextlib.suppress(StoreError):  # else GCS drops it within a week
                self._call("DELETE", session, ok=(200, 204, 404, 499), what=key)
            raise

    def chunks(self, key: str) -> Iterator[bytes]:
        connection, response = self._open("GET", self._object_path(key) + "?alt=media", what=key)
        yield from body_chunks(connection, response, self.where(key))

    def read(self, key: str) -> bytes | None:
        target = self._object_path(key) + "?alt=media"
        status, data, _ = self._call("GET", target, ok=(200, 404), what=key)
        return data if status == 200 else None

    def write(self, key: str, data: bytes) -> None:
        self._upload(key, data, {})

    def create(self, key: str, data: bytes) -> bool:
        return self._upload(key, data, {"ifGenerationMatch": "0"}) == 200

    def _upload(self, key: str, data: bytes, conditions: dict[str, str]) -> int:
        """A small object in one request; the status (412: a condition did not hold)."""
        query = urllib.parse.urlencode(
            {"uploadType": "media", "name": self._name(key), **conditions}
        )
        status, _, _ = self._call(
            "POST",
            f"/upload/storage/v1/b/{self.bucket}/o?{query}",
            data,
            {"Content-Type": "application/octet-stream"},
            ok=(200, 412) if conditions else (200,),
            what=key,
        )
        return status

    def _list(self, query: dict[str, str]) -> Iterator[dict[str, object]]:
        token: dict[str, str] = {}
        while True:
            target = f"/storage/v1/b/{self.bucket}/o?" + urllib.parse.urlencode({**query, **token})
            _, data, _ = self._call("GET", target)
            try:
                page = json.loads(data or b"{}")
            except ValueError as exc:
                raise StoreError(f"{self.where()}: GCS sent a listing that is not JSON") from exc
            yield page
            next_token = page.get("nextPageToken")
            if not next_token:
                return
            token = {"pageToken": str(next_token)}

    def keys(self, folder: str) -> list[str]:
        prefix = f"{PREFIX}/{folder}/"
        found = [
            name[len(PREFIX) + 1 :]
            for page in self._list({"prefix": prefix})
            for item in _items(page)
            if (name := str(item.get("name", ""))).startswith(prefix)
        ]
        return sorted(found)

    def folders(self) -> list[str]:
        found = {
            str(prefix)[len(PREFIX) + 1 :].strip("/")
            for page in self._list({"prefix": f"{PREFIX}/", "delimiter": "/"})
            for prefix in _list_of(page.get("prefixes"))
        }
        return sorted(f for f in found if f)

    def delete(self, key: str) -> None:
        """Every generation of ``key`` (the state bucket is versioned: a plain delete would
        only make the dump noncurrent and keep paying for it)."""
        name = self._name(key)
        for page in self._list({"prefix": name, "versions": "true"}):
            for item in _items(page):
                if item.get("name") == name:
                    generation = urllib.parse.urlencode({"generation": item.get("generation")})
                    self._call(
                        "DELETE", f"{self._object_path(key)}?{generation}", ok=(200, 204, 404)
                    )


class _Upload(PartedUpload):
    """The CLI's part sizes (stores.PartedUpload: 8 MiB, a multiple of the 256 KiB GCS
    wants), each a chunk of one resumable upload; the last says the total."""

    def __init__(self, store: AgentGcsStore, key: str, session: str) -> None:
        super().__init__()
        self.store, self.key, self.session = store, key, session
        self.sent = 0

    def _put(self, part: bytes, total: str) -> int:
        """Send ``part`` (at ``sent``), then what GCS says it did not keep of it (a 308's
        Range says how much of the upload it holds); the last status."""
        offset = 0
        while True:
            chunk = part[offset:]
            start = self.sent + offset
            end = f"{start}-{start + len(chunk) - 1}" if chunk else "*"
            status, _, headers = self.store._call(
                "PUT",
                self.session,
                chunk,
                {"Content-Range": f"bytes {end}/{total}"},
                ok=(200, 201, 308),
                what=self.key,
            )
            if status != 308:
                self.sent += len(part)
                return status
            kept = _persisted(headers.get("range")) - self.sent  # of this part
            if kept >= len(part):
                self.sent += len(part)
                return status
            if kept <= offset:
                raise StoreError(f"{self.store.where(self.key)}: GCS kept nothing of a chunk")
            offset = kept

    def _upload(self, number: int, part: bytes) -> str:
        if self._put(part, "*") != 308:
            raise StoreError(f"{self.store.where(self.key)}: GCS ended the upload early")
        return str(number)

    def finish(self) -> None:
        last = bytes(self.buffer)
        self.buffer.clear()
        if self._put(last, str(self.sent + len(last))) not in (200, 201):
            raise StoreError(f"{self.store.where(self.key)}: GCS did not finish the upload")


def _persisted(header: str | None) -> int:
    """How many bytes of the upload GCS holds, from a 308's ``Range: bytes=0-N``."""
    if not header or not header.startswith("bytes=0-"):
        return 0
    last = header.removeprefix("bytes=0-")
    return int(last) + 1 if last.isdigit() else 0


def _items(page: dict[str, object]) -> list[dict[str, object]]:
    return [item for item in _list_of(page.get("items")) if isinstance(item, dict)]


def _list_of(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data)["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return data[:200].decode(errors="replace")
