"""The databases' image on the tests' private dockerd: Debian's PostgreSQL 15 and Redis 7
(built into a root filesystem by `.ci/setup --test`) with an entrypoint that stands in for
the official postgres image's, whose contract Pilot relies on: on the first start in an
empty PGDATA it makes a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD,
creates POSTGRES_DB, and listens on every address with password authentication; any other
command (`redis-server ...`) is run as given, as the official redis image does. The same
image runs the tests' app that reads DATABASE_URL (it has psql and python3)."""

from __future__ import annotations

import io
import os
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

DATA_IMAGE = "pilot/data:2"  # a new tag when the entrypoint changes (engines keep images)
DATA_ROOT_IMAGE = "pilot/data-root:1"

ENTRYPOINT = r"""#!/bin/sh
set -e
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
[ "$#" -gt 0 ] && shift  # "postgres -c key=value ...": the settings go to postgres
bin=/usr/lib/postgresql/15/bin
as_postgres="setpriv --reuid=postgres --regid=postgres --init-groups"
: "${PGDATA:=/var/lib/postgresql/data}" "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    $as_postgres "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        $as_postgres "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        $as_postgres "$bin/psql" -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
        $as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    fi
fi
exec $as_postgres "$bin/postgres" -D "$PGDATA" "$@"
"""


def data_rootfs() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pilot-ci" / "data-rootfs.tar"


@pytest.fixture(scope="session")
def data_image(docker_engine) -> str:
    """The databases' image on the private engine, built once per engine; its name. Skips
    when the root filesystem is missing; on CI (CI=true) fails instead."""
    tarball = data_rootfs()
    if not tarball.is_file():
        reason = f"{tarball} is missing: bash .ci/setup --test builds it (root, apt)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return build_data_image(docker_engine.url, tarball)


def build_data_image(engine_url: str, tarball: Path | None = None) -> str:
    """Import the databases' root filesystem into the engine at ``engine_url`` and build
    the image on it (once: an engine that has it keeps it); its name."""
    import docker

    tarball = tarball or data_rootfs()
    client = docker.DockerClient(base_url=engine_url, timeout=600)
    try:
        try:
            client.images.get(DATA_IMAGE)
            return DATA_IMAGE
        except docker.errors.ImageNotFound:
            pass
        repository, _, tag = DATA_ROOT_IMAGE.rpartition(":")
        client.api.import_image(src=str(tarball), repository=repository, tag=tag)
        context = io.BytesIO()
        dockerfile = (
            f"FROM {DATA_ROOT_IMAGE}\n"
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            "COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n"
            'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]\n'
            'CMD ["postgres"]\n'
        ).encode()
        script = ENTRYPOINT.encode()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, data, mode in (
                ("Dockerfile", dockerfile, 0o644),
                ("docker-entrypoint.sh", script, 0o755),
            ):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=DATA_IMAGE, rm=True)
        return DATA_IMAGE
    finally:
        client.close()


# The app the database tests deploy: it answers GET / with the first greeting in the table
# "hello" of the database in DATABASE_URL (psql over the private network), or psql's error.
READER_APP = """
import os, signal, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok"
        else:
            query = "select greeting from hello order by 1 limit 1"
            done = subprocess.run(
                ["psql", os.environ["DATABASE_URL"], "-Atc", query], capture_output=True
            )
            body = done.stdout.strip() or done.stderr.strip()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
HTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


def add_reader_app(root: Path, add: Callable[[dict[str, object]], None], image: str) -> None:
    """App "api" (READER_APP on ``image``) in the project at ``root``."""
    app = root / "api"
    app.mkdir()
    (app / "server.py").write_text(READER_APP)
    (app / "Dockerfile").write_text(
        f"FROM {image}\nCOPY server.py /app/server.py\n"
        'ENTRYPOINT []\nCMD ["python3", "-u", "/app/server.py"]\n'
    )
    add(
        {
            "name": "api",
            "path": "api",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "port": 8000, "health_path": "/healthz"},
        }
    )


def ask_app(port: int) -> str:
    """What app "api" answers on GET /, through the edge on ``port``."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "api.localhost"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def project_name(root: Path) -> str:
    from pilot_tui.config.document import ProjectFile

    return str(ProjectFile.load(root / "pilot.toml").get("project.name"))
