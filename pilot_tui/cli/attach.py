"""A command run in a container with this terminal attached, as `docker exec -it` does, but
through Pilot's own connection to the engine (a local socket, the SSH tunnel, mutual TLS):
no port is opened and no docker CLI is needed. Used by `pilot-tui db psql NAME`.

The terminal is put in raw mode for the session and always given back (SIGTERM too); its
size follows the window (SIGWINCH). Keys go to the container as typed: Ctrl+C reaches psql,
which cancels the query, and Ctrl+D ends the session as it does in psql.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import ssl
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from docker import DockerClient

READ = 65536


def attach(
    client: DockerClient, container_id: str, command: list[str], environment: dict[str, str]
) -> int:
    """Run ``command`` in the container on this terminal; its exit status."""
    api = client.api
    created = api.exec_create(
        container_id,
        command,
        stdin=True,
        tty=True,
        environment={"TERM": os.environ.get("TERM", "xterm"), **environment},
    )
    exec_id = str(created["Id"])
    connection = api.exec_start(exec_id, tty=True, socket=True)
    raw = cast(socket.socket, getattr(connection, "_sock", connection))

    def resize() -> None:
        size = shutil.get_terminal_size()
        with contextlib.suppress(Exception):  # the session may have ended meanwhile
            api.exec_resize(exec_id, height=size.lines, width=size.columns)

    # A resize is done by the loop, woken through a pipe: never an HTTP call inside the
    # signal handler. SIGTERM ends the session like its end, the terminal given back.
    wake_read, wake_write = os.pipe()
    previous_winch = signal.signal(signal.SIGWINCH, lambda *_: os.write(wake_write, b"w"))
    previous_term = signal.signal(signal.SIGTERM, _terminated)
    try:
        with _raw_terminal(sys.stdin.fileno()):
            resize()
            _pump(raw, sys.stdin.fileno(), sys.stdout.fileno(), wake_read, resize)
    finally:
        signal.signal(signal.SIGWINCH, previous_winch)
        signal.signal(signal.SIGTERM, previous_term)
        os.close(wake_read)
        os.close(wake_write)
        connection.close()
    return _exit_code(client, exec_id)


def _terminated(*_: object) -> None:
    raise SystemExit(143)


def _exit_code(client: DockerClient, exec_id: str) -> int:
    """The command's exit status, once the engine has it (it may lag the stream's end)."""
    for _ in range(40):
        found = client.api.exec_inspect(exec_id)
        if not found.get("Running") and isinstance(found.get("ExitCode"), int):
            return int(found["ExitCode"])
        time.sleep(0.05)
    return 1


@contextlib.contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _pump(
    conn: socket.socket, stdin: int, stdout: int, wake: int, resize: Callable[[], None]
) -> None:
    """Keys to the container, its output to the terminal, until the session ends."""
    remote = conn.fileno()
    while True:
        # TLS (an mTLS engine) may hold decrypted bytes select() cannot see.
        buffered = isinstance(conn, ssl.SSLSocket) and conn.pending() > 0
        ready, _, _ = select.select([remote, stdin, wake], [], [], 0 if buffered else None)
        if wake in ready:
            os.read(wake, 64)
            resize()
        if buffered or remote in ready:
            try:
                data = conn.recv(READ)
            except OSError:
                return
            if not data:
                return  # the command ended
            _write_all(stdout, data)
        if stdin in ready:
            keys = os.read(stdin, READ)
            if not keys:
                return
            try:
                conn.sendall(keys)
            except OSError:
                return


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
