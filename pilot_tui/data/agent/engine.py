"""The Docker engine's API over its unix socket, with the standard library: the few calls a
backup makes (find the database's container, run a command in it and stream its output),
named as the docker SDK names them so ``execs`` takes either client."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import urllib.parse
from collections.abc import Iterator, Mapping

from pilot_tui.errors import PilotError

API = "/v1.41"  # Docker 20.10 and newer
HEADER = struct.Struct(">BxxxL")  # stream (1 stdout, 2 stderr), then the frame's size


class EngineError(PilotError):
    """The engine refused or could not be reached; the message says which call, and
    ``status`` the engine's HTTP status (0: not reached)."""

    title = "Docker engine problem"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Engine:
    """A client of one engine; ``api`` is itself (the docker SDK's low-level calls)."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        self.socket_path = socket_path

    @property
    def api(self) -> Engine:
        return self

    def _request(
        self, method: str, path: str, body: object = None, timeout: float | None = 60
    ) -> http.client.HTTPResponse:
        connection = _UnixConnection(self.socket_path, timeout)
        data: bytes | None
        if isinstance(body, bytes):  # an archive
            data, headers = body, {"Content-Type": "application/x-tar"}
        else:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            connection.request(method, API + path, body=data, headers=headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise EngineError(f"the Docker engine at {self.socket_path}: {exc}") from exc
        if response.status >= 300:
            detail = response.read()[:300].decode(errors="replace")
            connection.close()
            raise EngineError(
                f"{method} {path}: {response.status} {detail.strip()}", response.status
            )
        return response

    def _json(self, method: str, path: str, body: object = None) -> object:
        response = self._request(method, path, body)
        try:
            return json.loads(response.read() or b"null")
        finally:
            response.close()

    def containers(self, labels: list[str], *, all: bool = False) -> list[dict[str, object]]:
        """Containers carrying every one of ``labels`` (``key=value``): running ones, or
        with ``all`` stopped ones too."""
        wanted = {"filters": json.dumps({"label": labels}), **({"all": "1"} if all else {})}
        found = self._json("GET", f"/containers/json?{urllib.parse.urlencode(wanted)}")
        return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []

    def volumes(self, labels: list[str]) -> list[dict[str, object]]:
        """Volumes carrying every one of ``labels``."""
        query = urllib.parse.urlencode({"filters": json.dumps({"label": labels})})
        found = self._json("GET", f"/volumes?{query}")
        listed = found.get("Volumes") if isinstance(found, dict) else None
        return [v for v in listed if isinstance(v, dict)] if isinstance(listed, list) else []

    def remove_volume(self, name: str) -> bool:
        """The volume gone; False when there was none."""
        try:
            self._request("DELETE", f"/volumes/{urllib.parse.quote(name)}?force=1").close()
        except EngineError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def create(self, name: str, body: Mapping[str, object]) -> str:
        """A container ``name`` made (not started) as ``body`` says; its id. EngineError
        with status 409 when the name is taken."""
        query = urllib.parse.urlencode({"name": name})
        made = self._json("POST", f"/containers/create?{query}", dict(body))
        if not isinstance(made, dict) or "Id" not in made:
            raise EngineError(f"the engine made no container {name}: {made!r}")
        return str(made["Id"])

    def start(self, container: str) -> None:
        self._request("POST", f"/containers/{container}/start").close()

    def remove(self, container: str) -> bool:
        """The container gone, running or not; False when there was none."""
        try:
            self._request("DELETE", f"/containers/{container}?force=1").close()
        except EngineError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def remove_image(self, name: str) -> bool:
        """The image tag gone (its layers stay while another tag uses them); False when
        there was none, or a container still uses it."""
        try:
            self._request("DELETE", f"/images/{urllib.parse.quote(name, safe='')}").close()
        except EngineError as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    def images(self, reference: str) -> list[str]:
        """The tags of the images whose name is ``reference`` (``repository`` or ``repo:*``)."""
        query = urllib.parse.urlencode({"filters": json.dumps({"reference": [reference]})})
        found = self._json("GET", f"/images/json?{query}")
        images = [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []
        return [str(tag) for image in images for tag in image.get("RepoTags") or []]

    def get_archive(self, container: str, path: str) -> bytes | None:
        """A tar of ``path`` in the container; None when there is no such path."""
        query = urllib.parse.urlencode({"path": path})
        try:
            response = self._request("GET", f"/containers/{container}/archive?{query}")
        except EngineError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()

    def put_archive(self, container: str, path: str, archive: bytes) -> None:
        """Unpack the tar ``archive`` into ``path`` in the container."""
        query = urllib.parse.urlencode({"path": path})
        self._request("PUT", f"/containers/{container}/archive?{query}", archive).close()

    def run(self, container: str, cmd: list[str]) -> tuple[int, bytes]:
        """(exit status, output) of ``cmd`` run in the container to its end."""
        exec_id = str(self.exec_create(container, cmd)["Id"])
        output = b"".join(a or b or b"" for a, b in self.exec_start(exec_id))
        code = self.exec_inspect(exec_id).get("ExitCode")
        return (code if isinstance(code, int) else 1), output

    def exec_create(
        self,
        container: str,
        cmd: list[str],
        *,
        stdout: bool = True,
        stderr: bool = True,
        environment: dict[str, str] | None = None,
    ) -> Mapping[str, object]:
        body = {
            "AttachStdout": stdout,
            "AttachStderr": stderr,
            "Cmd": cmd,
            "Env": [f"{k}={v}" for k, v in (environment or {}).items()],
        }
        created = self._json("POST", f"/containers/{container}/exec", body)
        if not isinstance(created, dict) or "Id" not in created:
            raise EngineError(f"the engine made no exec in {container}: {created!r}")
        return created

    def exec_start(
        self, exec_id: str, *, stream: bool = False, demux: bool = False
    ) -> Iterator[tuple[bytes | None, bytes | None]]:
        """The command's output as (stdout, stderr) frames, as they come (``stream`` and
        ``demux`` are always so here; they are the SDK's names)."""
        response = self._request(
            "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False}, timeout=None
        )
        return _frames(response)

    def exec_inspect(self, exec_id: str) -> Mapping[str, object]:
        found = self._json("GET", f"/exec/{exec_id}/json")
        return found if isinstance(found, dict) else {}


def _frames(response: http.client.HTTPResponse) -> Iterator[tuple[bytes | None, bytes | None]]:
    try:
        while header := _exactly(response, HEADER.size):
            kind, size = HEADER.unpack(header)
            data = _exactly(response, size)
            yield (data, None) if kind == 1 else (None, data)
    finally:
        response.close()


def _exactly(response: http.client.HTTPResponse, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = response.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
