"""What the agent's own HTTP clients (aws.py, s3.py, gcs.py, cloud_run.py) share: which
errors mean the network failed, and a GET's body read as it arrives (standard library
only: the agent's image has nothing else)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

from pilot_tui.data.stores import READ_CHUNK, StoreError

# A connection refused, reset or timed out, or an answer cut short (IncompleteRead)
NETWORK_ERRORS = (OSError, http.client.HTTPException)


def body_chunks(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, where: str
) -> Iterator[bytes]:
    """The body of a GET of ``where`` (said in errors) READ_CHUNK at a time, the
    connection closed once it is read or the reader stops; StoreError when the answer is
    not 200 or the network fails on the way."""
    try:
        if response.status != 200:
            raise StoreError(f"cannot read {where}: {response.status}")
        while chunk := response.read(READ_CHUNK):
            yield chunk
    except NETWORK_ERRORS as exc:
        raise StoreError(f"cannot read {where}: {exc}") from exc
    finally:
        connection.close()
