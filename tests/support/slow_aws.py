"""A pass-through HTTP proxy in front of the sandbox's local AWS API that holds one action's
response until a file appears, so a test can Ctrl+C Terraform while a resource is in flight.

moto answers every call at once; real EC2 takes tens of seconds to launch an instance.
The call reaches moto straight away (the resource exists, as it would in AWS); only the
answer to Terraform is held, until RELEASE_FILE exists; HELD_FILE appears when an answer is
being held (the call is out, and done in moto), so a test waits for that instead of a while.
Run: python slow_aws.py UPSTREAM_PORT PORT ACTION RELEASE_FILE HELD_FILE
"""

from __future__ import annotations

import contextlib
import http.client
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive"}


def serve(upstream: int, port: int, action: str, release: Path, held: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            payload = answer.read()
            if f"Action={action}".encode() in body:
                held.touch()
                while not release.exists():
                    time.sleep(0.1)
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP | {"content-length"}:
                    self.send_header(key, value)
            self.send_header(
                "Content-Length",
                answer.getheader("Content-Length") or "0"
                if self.command == "HEAD"
                else str(len(payload)),
            )
            self.end_headers()
            # The caller may have been killed while it waited: the call still happened.
            with contextlib.suppress(BrokenPipeError):
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
