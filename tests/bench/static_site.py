"""Benchmark static-site uploads against the local AWS API (moto) and the GCS emulator:
a 2,000-file site uploaded in parallel (16 workers) against one at a time, and an unchanged
redeploy (target: 0 bytes uploaded). Prints figures; asserts nothing.

A local emulator answers in about a millisecond and is bound by its own CPU, which is not
what a cloud is like: each request to S3 waits on the network. The S3 figures are therefore
given twice: straight to moto, and through a relay that adds a 40 ms round trip per request
(S3 from a laptop), which is what parallel uploads are for.

    .venv/bin/python tests/bench/static_site.py [--files 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from pilot_tui.cloud.clients import emulator_aws, emulator_gcs
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.deploy.build.site_files import plan, scan
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.s3_site.bucket import S3Site


def make_site(root: Path, files: int) -> None:
    for n in range(files):
        folder = root / f"section-{n % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = (".html", ".css", ".js", ".json", ".svg")[n % 5]
        (folder / f"page-{n}{suffix}").write_text(f"/* file {n} */\n" + "x" * (200 + n % 3000))


def latency_relay(target_port: int, delay: float) -> int:
    """A TCP relay on 127.0.0.1 that holds each chunk ``delay``/2 in each direction."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(delay / 2)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    time.sleep(0.2)
    return port


def timed_s3(target: S3Site, site: Path, workers: int) -> tuple[float, int]:
    local = scan(site)
    changes = plan(local, target.remote())
    start = time.perf_counter()
    target.apply(changes, local, workers=workers)
    return time.perf_counter() - start, changes.bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--skip-gcs", action="store_true", help="S3 figures only (faster)")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        make_site(site, ns.files)
        sandbox = Sandbox(Path(tmp) / "state")
        running, _ = sandbox.ensure()
        try:
            from botocore.config import Config

            session = emulator_aws("us-east-1").session
            direct = running["aws"].url
            relayed = f"http://127.0.0.1:{latency_relay(running['aws'].port, 0.040)}"
            pool = Config(max_pool_connections=32)
            for n, (label, url) in enumerate(
                (("straight to moto", direct), ("40 ms round trip", relayed))
            ):
                s3 = session.client("s3", endpoint_url=url, config=pool)
                cf = session.client("cloudfront", endpoint_url=url)
                results = {}
                for workers in (1, 16):
                    target = S3Site(s3, cf, f"bench-{workers}-{n}", "us-east-1", "bench")
                    target.ensure_bucket()
                    seconds, sent = timed_s3(target, site, workers)
                    results[workers] = seconds
                    print(
                        f"S3 {label}, {ns.files} files ({sent / 1e6:.1f} MB), "
                        f"{workers:2d} worker(s): {seconds:.2f} s"
                    )
                print(
                    f"S3 {label}: parallel speed-up {results[1] / results[16]:.1f}x (target >= 4x)"
                )
            s3 = session.client("s3", endpoint_url=direct, config=pool)
            cf = session.client("cloudfront", endpoint_url=direct)
            again, sent = timed_s3(S3Site(s3, cf, "bench-16-0", "us-east-1", "bench"), site, 16)
            print(f"S3 unchanged redeploy: {sent} bytes uploaded in {again:.2f} s (target 0)")

            if ns.skip_gcs:
                return
            gcs = GcsSite(emulator_gcs(running["gcs"].url), "bench-gcs", "US")
            gcs.ensure_bucket()
            for workers in (1, 16):
                bucket = GcsSite(gcs.client, f"bench-gcs-{workers}", "US")
                bucket.ensure_bucket()
                changes = plan(scan(site), bucket.remote())
                start = time.perf_counter()
                bucket.apply(changes, workers=workers)
                print(f"GCS emulator, {workers:2d} worker(s): {time.perf_counter() - start:.2f} s")
            unchanged = plan(scan(site), GcsSite(gcs.client, "bench-gcs-16", "US").remote())
            print(f"GCS unchanged redeploy: {unchanged.bytes} bytes to upload (target 0)")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average: {load} ({os.cpu_count()} cores)")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
