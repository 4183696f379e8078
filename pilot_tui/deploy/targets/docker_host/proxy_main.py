#!/usr/bin/env python3
"""Pilot's reverse proxy: routes HTTP requests by their Host header to ``HOST:PORT``
upstreams (each app's live release, by container name on Pilot's private Docker network),
and swaps routes on SIGHUP.

This is a standalone program, not part of the pilot_tui library: it runs as PID 1 of the proxy
container on the Docker host (image ``pilot/proxy:...``, see ``pilot_tui.deploy.proxy``), under
whatever Python the base image has. Standard library only, Python 3.9 or newer.

    python3 proxy.py --listen 0.0.0.0:80 --routes /etc/pilot/routes.json

The routes file: ``{"routes": {"api.example.com": "127.0.0.1:9001", ...}}``. Hosts match
case-insensitively, ignoring a ``:port`` suffix of the Host header (and a trailing dot).

Per connection: read the request head (at most 64 KiB, within 30 s; else 400 or 408), pick
the upstream by Host, connect (502 if it refuses), forward the head with ``Connection: close``
forced and ``X-Forwarded-For`` (appended to), ``X-Forwarded-Proto: http`` and
``X-Forwarded-Host`` set, then copy bytes both ways until the upstream closes. The response
is not parsed. A WebSocket handshake (``Connection: Upgrade`` with an ``Upgrade`` header)
keeps those two headers, and the upgraded connection is piped just the same for as long as it
lasts: a swap does not move a WebSocket; it stays on the old release until it closes.

The trade-off of forcing ``Connection: close``: every request is a new client connection and
a new upstream connection, so every request is routed with the table current at that moment,
and a swap takes effect for the very next request, with no keep-alive connection pinned to an
old release (the engine can stop the old release after a short drain). The price is a TCP
handshake per request on both sides and no pipelining: a client that pipelines requests sees
the connection close after the first response and must retry the rest, as HTTP clients do.
Both are cheap on loopback upstreams and fine for the small apps Pilot serves; a proxy that
parses responses to reuse connections would be the next step if they ever are not.

Signals: SIGHUP reloads the routes file (a file that cannot be read or is invalid leaves the
current table in place; the reason goes to stderr). SIGTERM (and SIGINT) stops accepting,
lets connections in flight finish for up to 10 s, then exits 0.

``GET /_pilot/health`` answers 200 ``ok`` whatever the Host: the engine's check that the
proxy is up. One line per routed request goes to stdout (time, method, host, path without the
query, upstream; the status is not known without parsing the response). Unknown hosts get a
404 naming only the host asked for, never the routing table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import time
from pathlib import Path

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
DRAIN_TIMEOUT = 10.0
CHUNK = 64 * 1024
HEALTH_PATH = "/_pilot/health"
# Headers that describe the client's hop, replaced by our own.
HOP_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection"})
SET_HEADERS = frozenset({b"x-forwarded-proto", b"x-forwarded-host"})
TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HOSTNAME = re.compile(r"^[a-z0-9._\-]+$|^\[[0-9a-f:.]+\]$")


class BadRequest(Exception):
    """The request head cannot be parsed or routed."""


class Head:
    """A parsed request head: the request line and the header fields in order, as bytes."""

    def __init__(self, method: bytes, target: bytes, version: bytes) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers: list[tuple[bytes, bytes]] = []

    def get(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key.lower() == name]

    @property
    def path(self) -> str:
        """The path of the target, without the query (origin or absolute form)."""
        target = self.target.decode("latin-1")
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        return target.split("?", 1)[0].split("#", 1)[0]

    def host(self) -> str:
        """The host asked for: the absolute-form target's authority, else the one Host header;
        lowercase, without port or trailing dot."""
        target = self.target.decode("latin-1")
        if "://" in target:
            authority = target.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
        else:
            values = self.get(b"host")
            if len(values) != 1:
                raise BadRequest("no Host header" if not values else "more than one Host header")
            authority = values[0].decode("latin-1")
        authority = authority.strip().lower()
        if authority.startswith("["):  # an IPv6 literal: [::1]:8080
            host = authority.split("]", 1)[0] + "]"
        else:
            host = authority.split(":", 1)[0]
        host = host.rstrip(".")
        if not host or not HOSTNAME.match(host):
            raise BadRequest("bad Host header")
        return host


def parse_head(data: bytes) -> Head:
    """Parse a request head ending in CRLF CRLF. Bare CR or LF, NULs, folded lines and
    malformed fields are refused: what we forward must mean the same to the upstream."""
    head = data[:-4] if data.endswith(b"\r\n\r\n") else data
    if (
        b"\0" in head
        or head.count(b"\r") != head.count(b"\n")
        or head.count(b"\r\n") != head.count(b"\n")
    ):
        raise BadRequest("bad line endings")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not TOKEN.match(parts[0]) or not parts[1]:
        raise BadRequest("bad request line")
    if not re.match(rb"^HTTP/1\.[01]$", parts[2]):
        raise BadRequest("unsupported HTTP version")
    parsed = Head(parts[0], parts[1], parts[2])
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.match(name):
            raise BadRequest("bad header field")
        parsed.headers.append((name, value.strip(b" \t")))
    return parsed


def upstream_head(head: Head, client_ip: str) -> bytes:
    """The head to send upstream: our hop's Connection, X-Forwarded-* added."""
    connection = b",".join(head.get(b"connection")).lower()
    upgrade = b"upgrade" in [token.strip() for token in connection.split(b",")] and bool(
        head.get(b"upgrade")
    )
    forwarded_for = [v for v in head.get(b"x-forwarded-for") if v]
    host = head.get(b"host")
    lines = [b" ".join((head.method, head.target, head.version))]
    for name, value in head.headers:
        lower = name.lower()
        if lower in HOP_HEADERS or lower in SET_HEADERS or lower == b"x-forwarded-for":
            continue
        if lower == b"upgrade" and not upgrade:
            continue
        lines.append(name + b": " + value)
    lines.append(b"Connection: Upgrade" if upgrade else b"Connection: close")
    lines.append(b"X-Forwarded-For: " + b", ".join([*forwarded_for, client_ip.encode()]))
    lines.append(b"X-Forwarded-Proto: http")
    if host:
        lines.append(b"X-Forwarded-Host: " + host[0])
    return b"\r\n".join(lines) + b"\r\n\r\n"


def parse_upstream(value: str) -> tuple[str, int]:
    host, colon, port = value.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"upstream {value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def load_routes(path: Path) -> dict[str, tuple[str, int]]:
    """The routing table in ``path``: lowercase host -> (upstream host, port).
    Raises OSError or ValueError saying what is wrong."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("routes"), dict):
        raise ValueError('expected {"routes": {"HOST": "127.0.0.1:PORT", ...}}')
    table = {}
    for host, upstream in data["routes"].items():
        name = host.strip().lower().rstrip(".")
        if not name or not HOSTNAME.match(name):
            raise ValueError(f"route {host!r}: not a host name (no port, no scheme)")
        if not isinstance(upstream, str):
            raise ValueError(f"route {host!r}: the upstream must be a string HOST:PORT")
        table[name] = parse_upstream(upstream)
    return table


def printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line or a reply: no control characters, bounded length."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def reply(status: int, reason: str, body: str, head_only: bool = False) -> bytes:
    data = body.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(data)}",
        "Connection: close",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1") + (b"" if head_only else data)


def log_error(message: str) -> None:
    print(f"pilot-proxy: {message}", file=sys.stderr, flush=True)


class Proxy:
    def __init__(self, routes_path: Path) -> None:
        self.routes_path = routes_path
        self.routes: dict[str, tuple[str, int]] = {}
        self.connections: set[asyncio.Task[None]] = set()

    def reload(self) -> bool:
        """Read the routes file; on any problem keep the current table and say why."""
        try:
            routes = load_routes(self.routes_path)
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            log_error(f"keeping the current {len(self.routes)} route(s): {self.routes_path}: {exc}")
            return False
        self.routes = routes
        log_error(f"loaded {len(routes)} route(s) from {self.routes_path}")
        return True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        try:
            await self._serve(reader, writer)
        except OSError:  # the client or the upstream went away
            pass
        finally:
            if task is not None:
                self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await _send(writer, reply(400, "Bad Request", "incomplete request head\n"))
            return
        except asyncio.LimitOverrunError:
            await _send(writer, reply(400, "Bad Request", "request head over 64 KiB\n"))
            return
        # Before 3.11 wait_for raises asyncio.TimeoutError, not the builtin.
        except asyncio.TimeoutError:  # noqa: UP041
            await _send(writer, reply(408, "Request Timeout", "request head not received\n"))
            return
        try:
            head = parse_head(data)
            head_only = head.method == b"HEAD"
            if head.method in (b"GET", b"HEAD") and head.path == HEALTH_PATH:
                await _send(writer, reply(200, "OK", "ok", head_only))
                return
            host = head.host()
        except BadRequest as exc:
            await _send(writer, reply(400, "Bad Request", f"{exc}\n"))
            return
        method, path = printable(head.method.decode("latin-1")), printable(head.path)
        route = self.routes.get(host)
        if route is None:
            self._log(method, host, path, "-")
            body = f"no app is served at {printable(host)}\n"
            await _send(writer, reply(404, "Not Found", body, head_only))
            return
        upstream_host, upstream_port = route
        upstream = f"{upstream_host}:{upstream_port}"
        self._log(method, host, path, upstream)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(upstream_host, upstream_port, limit=CHUNK),
                CONNECT_TIMEOUT,
            )
        except (OSError, asyncio.TimeoutError):  # noqa: UP041
            log_error(f"{printable(host)}: upstream {upstream} is not accepting connections")
            body = f"bad gateway: the app at {printable(host)} is not answering\n"
            await _send(writer, reply(502, "Bad Gateway", body, head_only))
            return
        peer = writer.get_extra_info("peername")
        client_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        try:
            up_writer.write(upstream_head(head, client_ip))
            await up_writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    def _log(self, method: str, host: str, path: str, upstream: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        print(f"{stamp} {method} {printable(host)} {path} -> {upstream}", flush=True)


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    with contextlib.suppress(OSError):
        await writer.drain()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the EOF on (half-close) where the transport allows it."""
    try:
        while True:
            chunk = await reader.read(CHUNK)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


async def _pipe_both(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Pipe both ways. A client's EOF is passed on and we keep waiting for the response; the
    upstream's EOF ends the exchange (with Connection: close it has answered and is done)."""
    upward = asyncio.ensure_future(_copy(client_reader, up_writer))
    downward = asyncio.ensure_future(_copy(up_reader, client_writer))
    try:
        await downward
    finally:
        upward.cancel()
        downward.cancel()
        await asyncio.gather(upward, downward, return_exceptions=True)


def parse_listen(value: str) -> tuple[str, int]:
    try:
        return parse_upstream(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT") from None


async def serve(listen: tuple[str, int], routes_path: Path) -> int:
    proxy = Proxy(routes_path)
    if routes_path.exists():
        if not proxy.reload():
            return 2
    else:
        log_error(f"{routes_path} does not exist yet: no routes until SIGHUP")
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, proxy.reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    server = await asyncio.start_server(proxy.handle, listen[0], listen[1], limit=HEAD_LIMIT)
    log_error(f"listening on {listen[0]}:{listen[1]}")
    await stopping.wait()
    server.close()  # stop accepting; connections in flight go on
    pending = set(proxy.connections)
    if pending:
        log_error(f"stopping: {len(pending)} connection(s) in flight, waiting up to 10 s")
        _, pending = await asyncio.wait(pending, timeout=DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    log_error("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pilot-proxy", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--listen", type=parse_listen, default=("0.0.0.0", 80), metavar="HOST:PORT")
    parser.add_argument("--routes", type=Path, default=Path("/etc/pilot/routes.json"))
    args = parser.parse_args(argv)
    try:
        return asyncio.run(serve(args.listen, args.routes))
    except OSError as exc:  # the listening address is taken or not ours
        log_error(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
