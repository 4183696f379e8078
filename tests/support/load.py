"""A bounded pool of HTTP clients through the edge, for swaps under load.

Each client keeps one connection open and sends the next GET as soon as the last answer is
read, as a browser's or an API client's pool does; or, with ``fresh=True``, opens a new
connection for every GET, as a script or a health checker does (nothing is retried then).
When a connection it reused is closed by the server before any byte of the answer (an idle
keep-alive connection the edge closed as it loaded a new config), the GET is sent again once
on a new connection: what browsers and HTTP libraries do for idempotent requests (RFC 9112,
9.3.1). Those retries are counted and reported apart; anything else (an error status, a
reset mid-answer, a timeout, a second failure) is a failed request.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Report:
    answers: list[tuple[float, int, bytes]] = field(default_factory=list)  # (when, client, body)
    failures: list[str] = field(default_factory=list)
    retried: int = 0
    latencies: list[float] = field(default_factory=list)

    def bodies_after(self, moment: float) -> set[bytes]:
        return {body for when, _, body in self.answers if when > moment}

    def summary(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000 if ordered else 0.0
        return (
            f"{len(self.answers)} answered, {len(self.failures)} failed, {self.retried} "
            f"retried on a closed idle connection, p99 {p99:.1f} ms"
        )


# Closed before any byte of the answer: the only errors retried, and only on a reused connection.
_UNANSWERED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class KeepAliveLoad:
    """``clients`` threads GETting ``path`` with ``Host: host`` through 127.0.0.1:``port``
    until ``stop()``."""

    def __init__(
        self, port: int, host: str, clients: int = 8, path: str = "/", *, fresh: bool = False
    ) -> None:
        self.port, self.host, self.path, self.fresh = port, host, path, fresh
        self.report = Report()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def __enter__(self) -> KeepAliveLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Report:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.report

    def count(self) -> int:
        with self._lock:
            return len(self.report.answers) + len(self.report.failures)

    def _client(self, number: int) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            reused = conn is not None
            conn = conn or self._connect()
            started = time.monotonic()
            try:
                response = self._ask(conn)
            except _UNANSWERED as exc:
                conn.close()
                conn = self._connect()
                if not reused:
                    self._record_failure(f"no answer: {exc!r}")
                    continue
                with self._lock:
                    self.report.retried += 1
                try:
                    response = self._ask(conn)
                except (OSError, http.client.HTTPException) as again:
                    conn.close()
                    conn = None
                    self._record_failure(f"no answer after a retry: {again!r}")
                    continue
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                self._record_failure(f"no answer: {exc!r}")
                continue
            try:
                body = response.read()  # an error here is mid-answer: never retried
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                self._record_failure(f"cut mid-answer: {exc!r}")
                continue
            elapsed = time.monotonic() - started
            with self._lock:
                if response.status == 200:
                    self.report.answers.append((time.monotonic(), number, body))
                    self.report.latencies.append(elapsed)
                else:
                    self.report.failures.append(f"{response.status} {body[:80]!r}")
            if response.will_close or self.fresh:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _ask(self, conn: http.client.HTTPConnection) -> http.client.HTTPResponse:
        """Send the GET and read the status line and headers: an error here came before
        any byte of the answer."""
        conn.request("GET", self.path, headers={"Host": self.host})
        return conn.getresponse()

    def _record_failure(self, what: str) -> None:
        with self._lock:
            self.report.failures.append(what)
