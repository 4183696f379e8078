"""Artifact Registry's API, standing in (nothing of Google's runs here): one project's
repository and one package's tags and versions, as Google answers them, each request
recorded; called as a gcp_api.Transport (FakeRegistry) or served over HTTP on 127.0.0.1
(serve_registry_api), for a process of its own to reach through
PILOT_ARTIFACT_REGISTRY_API. The images themselves go to a real registry (PILOT_REGISTRY)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from pilot_tui.cloud import gcp_resources
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from tests.support.local_http import QuietHandler, serving


class FakeRegistry:
    """One package's tags and versions (``created``: a version's createTime, for those
    listed by versions.list), recording each request: a tagged version is deleted only
    with force (its tags with it), and a version's delete answers an operation still
    running (no "done" yet), done when it is polled. The project's repository exists."""

    def __init__(
        self,
        package: str,
        tags: dict[str, str],
        created: dict[str, str] | None = None,
        api: str = gcp_resources.REGISTRY_API,
    ) -> None:
        self.api = api
        self.package = package.removeprefix(api)
        self.tags = dict(tags)  # tag -> version (a digest)
        self.created = dict(created or {})  # version -> createTime
        self.versions = set(tags.values()) | set(self.created)
        self.calls: list[tuple[str, str]] = []
        self.polled = 0

    def __call__(self, request: ApiRequest) -> dict:
        path = request.url.removeprefix(self.api)
        self.calls.append((request.method, path))
        base = self.package
        repository = base.rpartition("/packages/")[0]
        if request.method == "GET" and "/operations/" in path:
            self.polled += 1
            return {"name": path, "done": True, "response": {}}
        if request.method == "GET" and path == repository:
            return {"name": path, "format": "DOCKER"}
        if request.method == "GET" and path == f"{base}/tags":
            wanted = (request.params or {}).get("filter", "")
            tags = [
                {"name": f"{base}/tags/{t}", "version": f"{base}/versions/{v}"}
                for t, v in sorted(self.tags.items())
                if not wanted or wanted == f'version="{base}/versions/{v}"'
            ]
            return {"tags": tags}
        if request.method == "GET" and path == f"{base}/versions":
            return {
                "versions": [
                    {"name": f"{base}/versions/{v}", "createTime": self.created.get(v, "")}
                    for v in sorted(self.versions)
                ]
            }
        if request.method == "DELETE" and "/tags/" in path:
            self.tags.pop(path.rpartition("/tags/")[2])
            return {}
        if request.method == "DELETE" and path.startswith(f"{base}/versions/"):
            version = path.rpartition("/versions/")[2]
            if version not in self.versions:
                raise ApiError(404, "not found", request)
            tagged = [t for t, v in self.tags.items() if v == version]
            if tagged and (request.params or {}).get("force") != "true":
                raise ApiError(400, "FAILED_PRECONDITION: the version has tags", request)
            for tag in tagged:
                del self.tags[tag]
            self.versions.discard(version)
            return {"name": f"{base}/operations/op-1"}  # running: no "done" yet
        if request.method == "DELETE" and path == base:
            if not self.versions:
                raise ApiError(404, "not found", request)
            self.versions.clear()
            self.tags.clear()
            return {"name": f"{base}/operations/op-2"}
        raise ApiError(404, "not found", request)


@contextmanager
def serve_registry_api(fake: FakeRegistry) -> Iterator[str]:
    """``fake`` over HTTP on 127.0.0.1, its answers as Google's JSON (an ApiError as
    {"error": {...}} with its status); the base URL for PILOT_ARTIFACT_REGISTRY_API."""

    class Handler(QuietHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            request = ApiRequest(
                method, f"{fake.api}{parts.path.removeprefix('/v1/')}", body, params
            )
            try:
                status, answer = 200, fake(request)
            except ApiError as exc:
                status = exc.status or 500
                answer = {"error": {"code": status, "message": exc.api_message}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def do_POST(self) -> None:
            self._answer("POST")

    with serving(Handler) as url:
        yield f"{url}/v1/"
