"""The sandbox's GCS emulator (gcp-storage-emulator), with one fidelity fix: GCS writes and
deletes an object only when its generation is the one a request's ``ifGenerationMatch``
names (0: only when there is none), and answers 412 otherwise. The emulator ignored the
condition, so of two writers of the same record both won: the shared release history and
the deploy lease (shared_history.py, shared_lease.py) rely on it to refuse the second.

Honoured on what Pilot sends: single-request uploads (media and multipart, which
google-cloud-storage uses for a small object) and deletes. Not on resumable uploads,
copies, composes, metadata patches or batches, nor ``ifGenerationNotMatch``.

The emulator answers one request at a time (http.server's HTTPServer), so the check and
the write it guards are one step. Used only by the sandbox (`python -m
pilot_tui.cloud.sandbox_gcs start --host=127.0.0.1 --port=PORT --in-memory`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

Handler = Callable[..., Any]
INSERT: list[Handler] = []  # the emulator's own upload handler, once patched

PRECONDITION_FAILED = {
    "error": {
        "code": 412,
        "message": "At least one of the pre-conditions you specified did not hold.",
        "errors": [
            {
                "domain": "global",
                "reason": "conditionNotMet",
                "message": "At least one of the pre-conditions you specified did not hold.",
            }
        ],
    }
}


def _object_name(request: Any) -> str | None:
    """The object a write or delete names: in the path, the query (a media upload) or the
    metadata part (a multipart upload)."""
    named = request.params.get("object_id")
    if named:
        return str(named)
    if request.query.get("name"):
        return str(request.query["name"][0])
    data = request.data
    if isinstance(data, dict) and isinstance(data.get("meta"), dict):
        found = data["meta"].get("name")
        return str(found) if found else None
    return None


def _generation(storage: Any, bucket: str, name: str) -> str:
    """The object's generation, "0" when there is none (as GCS's condition counts it)."""
    from gcp_storage_emulator.exceptions import NotFound

    try:
        return str(storage.get_file_obj(bucket, name)["generation"])
    except NotFound:
        return "0"


def guarded(handler: Handler) -> Handler:
    """``handler``, refusing a request whose ``ifGenerationMatch`` does not hold with 412."""

    def run(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> Any:
        wanted = request.query.get("ifGenerationMatch")
        name = _object_name(request)
        if wanted and name is not None:
            bucket = str(request.params["bucket_name"])
            found = _generation(storage, bucket, name)
            gone = found == "0" and handler is not INSERT[0]  # a delete: GCS says 404
            if found != str(wanted[0]) and not gone:
                response.status = HTTPStatus.PRECONDITION_FAILED
                response.json(PRECONDITION_FAILED)
                return None
        return handler(request, response, storage, *args, **kwargs)

    run.__name__ = getattr(handler, "__name__", "guarded")
    return run


def patch_emulator() -> None:
    """Every route to the emulator's object insert and delete goes through ``guarded``."""
    from gcp_storage_emulator import server
    from gcp_storage_emulator.handlers import objects

    INSERT[:] = [objects.insert]
    swaps = {objects.insert: guarded(objects.insert), objects.delete: guarded(objects.delete)}
    swapped = set()
    for _, handlers in server.HANDLERS:
        for method, handler in list(handlers.items()):
            if handler in swaps:
                handlers[method] = swaps[handler]
                swapped.add(handler)
    if swapped != set(swaps):  # the emulator's routes changed: say so, never run unguarded
        raise RuntimeError("gcp-storage-emulator's routes changed: sandbox_gcs guards nothing")
    objects.insert = swaps[objects.insert]  # the server's fallback for uploads names it


def main(argv: list[str] | None = None) -> None:
    patch_emulator()
    from gcp_storage_emulator.__main__ import main as emulator_main

    emulator_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
