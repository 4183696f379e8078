"""Commands run in a database's container through the Docker engine's exec API, with their
output or input streamed: a dump flows from the container to the store a chunk at a time,
a restore from the store into the container the same way. Nothing is staged on the host's
disk, and no port is opened (the engine's connection is the only way in: local socket,
the SSH tunnel's, or mutual TLS).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container


class ExecAPI(Protocol):
    """The engine calls a streamed command needs: the docker SDK's ``APIClient`` has them,
    and so does the backup agent's own client (``pilot_tui.data.agent.engine``)."""

    def exec_create(
        self,
        container: str,
        cmd: list[str],
        *,
        stdout: bool = True,
        stderr: bool = True,
        environment: dict[str, str] | None = None,
    ) -> Mapping[str, object]: ...

    # Streamed with demux: (stdout, stderr) pairs; the SDK types it as a union of its
    # several return shapes, which no narrower type here would match.
    def exec_start(self, exec_id: str, *, stream: bool = False, demux: bool = False) -> Any: ...

    def exec_inspect(self, exec_id: str) -> Mapping[str, object]: ...


class HasExecAPI(Protocol):
    @property
    def api(self) -> ExecAPI: ...


@dataclass
class Finished:
    """How a command ended: its exit status and what it wrote to stderr (or, for a command
    fed its input, everything it wrote)."""

    exit_code: int
    output: str

    def tail(self, lines: int = 8) -> tuple[str, ...]:
        return tuple(self.output.strip().splitlines()[-lines:])


@dataclass
class Streamed:
    """A running command's stdout as chunks (``chunks()``), then ``finished``."""

    client: HasExecAPI
    exec_id: str
    on_error_line: Callable[[str], None]
    finished: Finished | None = None
    _errors: list[bytes] = field(default_factory=list)

    def chunks(self) -> Iterator[bytes]:
        api = self.client.api
        pending = b""
        for out, err in api.exec_start(self.exec_id, stream=True, demux=True):
            if err:
                self._errors.append(err)
                pending += err
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.on_error_line(line.decode(errors="replace"))
            if out:
                yield out
        if pending:
            self.on_error_line(pending.decode(errors="replace"))
        self.finished = Finished(
            _exit_code(self.client, self.exec_id), b"".join(self._errors).decode(errors="replace")
        )


def stream_out(
    client: HasExecAPI,
    container_id: str,
    command: list[str],
    environment: dict[str, str],
    on_error_line: Callable[[str], None],
) -> Streamed:
    """Start ``command``; its stdout comes from ``chunks()``, each stderr line goes to
    ``on_error_line`` as it comes."""
    created = client.api.exec_create(
        container_id, command, stdout=True, stderr=True, environment=environment
    )
    return Streamed(client, str(created["Id"]), on_error_line)


def run_in(
    client: HasExecAPI, container_id: str, command: list[str], environment: dict[str, str]
) -> Finished:
    """A short command, by the calls any ``HasExecAPI`` has; its output once it ends."""
    output: list[str] = []
    streamed = stream_out(client, container_id, command, environment, output.append)
    out = b"".join(streamed.chunks()).decode(errors="replace")
    code = streamed.finished.exit_code if streamed.finished is not None else -1
    return Finished(code, out + "\n".join(output))


def feed_in(
    client: DockerClient,
    container: Container,
    command: list[str],
    environment: dict[str, str],
    chunks: Iterable[bytes],
) -> Finished:
    """Run ``command`` with ``chunks`` as its stdin; it must stop reading by itself once
        it has all it needs (a proxied connection cannot always say "end of input"; where it
    can, it is said once the chunks end)."""
    from docker.utils.socket import frames_iter

    api = client.api
    created = api.exec_create(
        container.id, command, stdin=True, stdout=True, stderr=True, environment=environment
    )
    exec_id = str(created["Id"])
    connection = api.exec_start(exec_id, socket=True)
    raw = cast(socket.socket, getattr(connection, "_sock", connection))
    output: list[bytes] = []

    def collect() -> None:  # its output, read while we write (no pipe fills up)
        try:
            for _stream, data in frames_iter(connection, tty=False):
                output.append(data)
        except (OSError, ValueError):  # ValueError: closed under it, when the chunks failed
            pass

    reader = threading.Thread(target=collect, name="exec-output", daemon=True)
    reader.start()
    stopped_reading = False
    try:
        for chunk in chunks:
            try:
                raw.sendall(chunk)
            except OSError:  # the command stopped reading (an error): its output says why
                stopped_reading = True
                break
        if not isinstance(raw, ssl.SSLSocket):  # TLS: a half-close ends the session
            with contextlib.suppress(OSError):  # end of input, where the connection can say so
                raw.shutdown(socket.SHUT_WR)
        reader.join()  # until the command ends (a restore's index builds may take long)
    finally:
        connection.close()
    code = _exit_code(client, exec_id)
    if stopped_reading and code == 0:
        code = -1  # it ended before its input did: never a success
    return Finished(code, b"".join(output).decode(errors="replace"))


def _exit_code(client: HasExecAPI, exec_id: str) -> int:
    """The command's exit status (-1 while it still runs or when the engine does not say)."""
    code = client.api.exec_inspect(exec_id).get("ExitCode")
    return code if isinstance(code, int) else -1


def run(container: Container, command: list[str], environment: dict[str, str]) -> Finished:
    """A short command; its stdout (stderr appended) once it ends."""
    result = container.exec_run(command, environment=environment, demux=True)
    out, err = cast(tuple[bytes | None, bytes | None], result.output)
    text = (out or b"").decode(errors="replace") + (err or b"").decode(errors="replace")
    return Finished(int(result.exit_code or 0), text)
