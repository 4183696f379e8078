"""What the edge knows about each app: its certificate (issuer, expiry, the last renewal
error) and its traffic over the last minutes (requests per second, 5xx rate, p95 latency),
read from the proxy container: the certificates in its data volume and its logs (access
logs as JSON on stdout, Caddy's own messages on stderr; caddy_config.py sets that up).

The parsers are pure functions of text, tested as data; ``read`` is the one place that
asks the container.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from pilot_tui import redact
from pilot_tui.deploy.targets.docker_host.caddy_config import DATA_DIR
from pilot_tui.deploy.targets.docker_host.containers import stream_lines

if TYPE_CHECKING:
    from cryptography.x509 import Certificate as Certificate_
    from docker.models.containers import Container

WINDOW = 300.0  # seconds of access logs the traffic figures cover
LOG_LINES = 50_000  # at most this many access log lines read for them
CERTIFICATES = f"{DATA_DIR}/caddy/certificates"


@dataclass(frozen=True)
class Certificate:
    """The certificate the edge holds for one name."""

    host: str
    issuer: str  # "" when none was obtained yet
    expires: float | None  # epoch seconds
    error: str  # the last obtain/renew error since the last success, "" when none

    def text(self, now: float) -> str:
        if not self.issuer:
            return f"{self.host}: no certificate yet" + (f" ({self.error})" if self.error else "")
        assert self.expires is not None
        until = datetime.fromtimestamp(self.expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        left = abs(self.expires - now)
        span = f"{left / 86400:.0f} d" if left >= 86400 else f"{left / 60:.0f} min"
        if self.expires > now:
            said = f"{self.host}: by {self.issuer}, expires {until} (in {span})"
        else:
            said = f"{self.host}: by {self.issuer}, EXPIRED {until} ({span} ago)"
        return said + (f"; last renewal failed: {self.error}" if self.error else "")


@dataclass(frozen=True)
class Traffic:
    """An app's requests through the edge over the last ``window`` seconds."""

    window: float
    requests: int
    errors: int  # answered 5xx
    p95_ms: float | None

    @property
    def per_second(self) -> float:
        return self.requests / self.window

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def text(self) -> str:
        # (found walking: a watch's 30 s said as "in 0 min")
        minutes = f"{self.window / 60:.0f} min" if self.window >= 90 else f"{self.window:.0f} s"
        if not self.requests:
            return f"no requests in {minutes}"
        p95 = f", p95 {self.p95_ms:.0f} ms" if self.p95_ms is not None else ""
        return (
            f"{self.per_second:.2f} req/s, {self.error_rate:.1%} 5xx{p95} "
            f"({self.requests} in {minutes})"
        )


@dataclass(frozen=True)
class EdgeFacts:
    certificates: tuple[Certificate, ...]
    traffic: Traffic


@dataclass(frozen=True)
class Access:
    """One access log line."""

    at: float
    host: str
    method: str
    uri: str
    status: int
    duration: float  # seconds
    size: int

    def text(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return redact.text(
            f"{when} {self.status} {self.method} {self.host}{self.uri} "
            f"{self.duration * 1000:.1f} ms {self.size} B"
        )


def parse_access(line: str) -> Access | None:
    """An access log line (Caddy's JSON), None for anything else."""
    try:
        entry = json.loads(line)
        if entry.get("logger") != "http.log.access":
            return None
        request = entry["request"]
        return Access(
            float(entry["ts"]),
            bare_host(str(request.get("host", ""))),
            str(request.get("method", "")),
            str(request.get("uri", "")),
            int(entry["status"]),
            float(entry.get("duration", 0.0)),
            int(entry.get("size", 0)),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def bare_host(host: str) -> str:
    """``Host`` without its port, lowercased (how the edge matches it)."""
    host = host.lower().rstrip(".")
    if host.startswith("["):  # [::1]:80
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def traffic(entries: Iterable[Access], hosts: set[str], now: float, window: float) -> Traffic:
    """The requests to ``hosts`` answered in the ``window`` seconds before ``now``."""
    durations: list[float] = []
    errors = 0
    for entry in entries:
        if entry.host in hosts and entry.at >= now - window:
            durations.append(entry.duration)
            errors += entry.status >= 500
    return Traffic(window, len(durations), errors, _p95(durations))


def _p95(durations: list[float]) -> float | None:
    if not durations:
        return None
    ordered = sorted(durations)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def certificate_errors(lines: Iterable[str]) -> dict[str, str]:
    """name -> the last error obtaining or renewing its certificate, from Caddy's own log
    lines, forgotten when a later attempt succeeded."""
    errors: dict[str, str] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not str(entry.get("logger", "")).startswith("tls."):
            continue
        name = str(entry.get("identifier", "")).lower()
        message = str(entry.get("msg", ""))
        if not name:
            continue
        if entry.get("level") == "error" and "error" in entry:
            errors[name] = redact.clip(str(entry["error"]), 300)
        elif message in ("certificate obtained successfully", "certificate renewed successfully"):
            errors.pop(name, None)
    return errors


def newest_certificate(pem: bytes) -> tuple[str, float] | None:
    """(issuer, expiry) of the certificate in ``pem`` (the .crt files Caddy keeps for one
    name, one per issuer it used, concatenated; each a chain, leaf first) that expires
    last; None when there is none."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    newest: tuple[str, float] | None = None
    for block in pem.split(b"-----END CERTIFICATE-----"):
        start = block.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        try:
            cert = x509.load_pem_x509_certificate(block[start:] + b"-----END CERTIFICATE-----\n")
        except ValueError:
            continue
        if _is_ca(cert):
            continue  # an intermediate of the chain
        names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        issuer = str(names[0].value) if names else cert.issuer.rfc4514_string()
        expires = cert.not_valid_after_utc.timestamp()
        if newest is None or newest[1] < expires:
            newest = (issuer, expires)
    return newest


def _is_ca(cert: Certificate_) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class _Logs:
    now: float  # when read, by the Docker host's clock
    entries: list[Access]
    errors: dict[str, str]
    read_at: float  # time.monotonic() here


_read: dict[str, _Logs] = {}  # proxy container id -> its logs, read at most every few seconds
FRESH = 5.0


def _logs(proxy: Container) -> _Logs:
    """The edge's recent access entries and certificate errors, read once for every app a
    status asks about (each read pulls minutes of logs, over SSH for a server)."""
    cached = _read.get(str(proxy.id))
    if cached is not None and time.monotonic() - cached.read_at < FRESH:
        return cached
    now = host_time(proxy)
    own = proxy.logs(stdout=False, stderr=True, tail=2000).decode(errors="replace")
    raw = proxy.logs(stdout=True, stderr=False, since=int(now - WINDOW), tail=LOG_LINES)
    entries = [a for a in map(parse_access, raw.decode(errors="replace").splitlines()) if a]
    logs = _Logs(now, entries, certificate_errors(own.splitlines()), time.monotonic())
    _read[str(proxy.id)] = logs
    return logs


def host_time(proxy: Container) -> float:
    """The Docker host's clock (the logs' timestamps are by it), else this machine's."""
    try:
        said = parse_system_time(str(proxy.client.info().get("SystemTime", "")))  # type: ignore[union-attr]
    except AttributeError:
        said = None
    return said if said is not None else time.time()


def parse_system_time(stamp: str) -> float | None:
    """Docker's SystemTime (RFC 3339 with nanoseconds, in the host's zone) as epoch seconds."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp)
    if found is None:
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.fromisoformat(found[1] + (found[2] or "")[:7] + zone).timestamp()


def certificates_of(proxy: Container, hosts: list[str]) -> dict[str, tuple[str, float]]:
    """name -> (issuer, expiry) of the certificate the edge holds for each of ``hosts``:
    only their .crt files are read from the container (never a key)."""
    held = {}
    for host in hosts:
        # The name is an argument of the shell, never part of its script.
        found = proxy.exec_run(
            ["sh", "-c", f'cat {CERTIFICATES}/*/"$1"/"$1".crt 2>/dev/null', "sh", host]
        )
        newest = newest_certificate(cast(bytes, found.output))
        if newest is not None:
            held[host] = newest
    return held


def read(proxy: Container, names: list[str], tls_hosts: set[str]) -> EdgeFacts:
    """What the edge knows of an app with these ``names``, of which ``tls_hosts`` are
    served over HTTPS."""
    logs = _logs(proxy)
    secure = [h for h in names if h in tls_hosts]
    held = certificates_of(proxy, secure)
    certificates = tuple(_certificate(h, held.get(h), logs.errors.get(h, "")) for h in secure)
    now = max([logs.now, *(e.at for e in logs.entries[-1:])])
    return EdgeFacts(certificates, traffic(logs.entries, set(names), now, WINDOW))


def _certificate(host: str, held: tuple[str, float] | None, error: str) -> Certificate:
    if held is None:
        return Certificate(host, "", None, error)
    return Certificate(host, held[0], held[1], error)


def requests_to(proxy: Container, hosts: set[str], *, tail: int, follow: bool) -> Iterator[str]:
    """The access log lines of ``hosts`` as text, redacted, as they come."""
    stream = proxy.logs(stdout=True, stderr=False, stream=True, follow=follow, tail=tail)
    for line in stream_lines(stream):
        entry = parse_access(line)
        if entry is not None and entry.host in hosts:
            yield entry.text()
