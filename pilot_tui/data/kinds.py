"""What a database of each kind is on a Docker host, as data: its container, volume, image,
environment and command, the URL its apps get, and the command that says it is ready. One
class per kind, chosen at one dispatch point (``kind_for``); no Docker and no I/O here.

The container sits on the host's private network (the apps reach it by name, like the edge
reaches them) and publishes no port; its data lives in a named volume, so a new container
(a new minor version, a new memory limit) keeps it.
"""

from __future__ import annotations

import urllib.parse
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from pilot_tui.config.schema import Database
from pilot_tui.deploy.build.bases import POSTGRES, REDIS, Base
from pilot_tui.deploy.previews import PREVIEW_DATABASE


@dataclass(frozen=True)
class DatabaseRun:
    """How the database's container is made."""

    name: str  # the container's, also its host name on the private network
    volume: str
    mount: str  # where the volume is, in the container
    image: str
    environment: dict[str, str]
    command: list[str] | None
    memory: str  # Docker's mem_limit ("512m")
    labels: dict[str, str] = field(default_factory=dict)


GENERATION = "pilot.database.generation"  # label: which restore made the data (1: none)


class Kind(ABC):
    """A kind of database, for one project's ``[[databases]]`` entry."""

    kind: ClassVar[str]
    port: ClassVar[int]
    mount: ClassVar[str]
    base: ClassVar[Base]
    ready_output: ClassVar[str]  # what ``ready`` prints once the database takes connections

    def __init__(
        self, project: str, settings: Database, generation: int = 1, preview: str | None = None
    ) -> None:
        self.project, self.settings, self.generation = project, settings, generation
        self.preview = preview  # the preview whose database this is (NAME--PREVIEW), if one

    def at(self, generation: int) -> Kind:
        """The same database, its data of ``generation``: each restore makes a new one on
        a fresh volume (the data before it is kept in the previous one)."""
        return type(self)(self.project, self.settings, generation, self.preview)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def container(self) -> str:
        base = f"pilot-db-{self.project}-{self.settings.name}"
        return base if self.generation == 1 else f"{base}-g{self.generation}"

    @property
    def volume(self) -> str:
        return self.container

    @property
    def image(self) -> str:
        return self.base.image().replace("{version}", str(self.settings.version))

    @property
    def what(self) -> str:
        """How a person names it: 'postgres 16 database main'."""
        return f"{self.kind} {self.settings.version} database {self.name}"

    def labels(self) -> dict[str, str]:
        return {
            "pilot.project": self.project,
            "pilot.role": "database",
            "pilot.database": self.name,
            "pilot.database.kind": self.kind,
            "pilot.database.version": str(self.settings.version),
            GENERATION: str(self.generation),
            **({PREVIEW_DATABASE: self.preview} if self.preview is not None else {}),
        }

    def run(self, password: str) -> DatabaseRun:
        return DatabaseRun(
            self.container,
            self.volume,
            self.mount,
            self.image,
            self.environment(password),
            self.command(password),
            self.settings.size,
            self.labels(),
        )

    @abstractmethod
    def url(self, password: str) -> str:
        """What the linked apps get in ``url_env``."""

    @abstractmethod
    def environment(self, password: str) -> dict[str, str]: ...

    @abstractmethod
    def command(self, password: str) -> list[str] | None: ...

    @abstractmethod
    def ready(self, password: str) -> list[str]:
        """Run in the container: prints ``ready_output`` once it takes connections over TCP
        (not just on its socket: the official images' first start initialises on one)."""

    def ready_environment(self, password: str) -> dict[str, str]:
        """The environment ``ready`` runs with (a password there, not on its command line)."""
        return {}

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        """The password a running container was made with (a teammate's deploy, say)."""
        return None

    def set_password(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) that makes ``password`` the database's own, run in its
        container: a new container on data made before (whose password the data keeps)."""
        return None

    # -- backups: commands run in the database's container (None: not offered yet) -----
    dump_format: ClassVar[str | None] = None  # what a dump is, for people and the record
    dump_extension: ClassVar[str] = "dump"

    def dump(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) writing a dump to stdout and, to stderr, one line
        ``pilot-count<TAB>TABLE<TAB>ROWS`` per table, counted as the dump sees the data."""
        return None

    def after_restore(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) run once the restored database is up, before its check
        (Redis: its append-only file made from the loaded data)."""
        return None

    def mismatches(self, recorded: dict[str, int], counted: dict[str, int]) -> list[str]:
        """How the restored counts differ from the backup's record (nothing: they match)."""
        wrong = [
            f"{table}: {counted.get(table, 'missing')} rows, the backup had {rows}"
            for table, rows in recorded.items()
            if counted.get(table) != rows
        ]
        return wrong + [
            f"{table}: not in the backup's record" for table in counted.keys() - recorded
        ]

    # A restore receives the whole dump into the new volume first (while a server that
    # initialises itself does so), then the server loads it: Postgres once it is up
    # (``load``), Redis as it starts (it waits for the file).
    def receive(self, size: int) -> tuple[list[str], dict[str, str]]:
        """(command, environment) writing a dump of ``size`` bytes from stdin into the
        restore's volume, whole or not at all: its exit status is 0 only when every byte
        arrived (a proxied connection cannot always say "end of input": it stops reading
        by itself)."""
        raise NotImplementedError(f"{self.kind} databases have no restore yet")

    def load(self) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) restoring the received dump into the running server
        and removing its file; None when the server loads it as it starts."""
        return None

    def template_copy(self, template: str) -> str | None:
        """A shell command copying an empty, stopped cluster at ``template`` into the new
        volume (data/templates.py), so that a restore's first start skips initialising
        it; None when the kind's first start has nothing that slow."""
        return None

    def count(self, password: str) -> tuple[list[str], dict[str, str]]:
        """(command, environment) printing ``TABLE<TAB>ROWS`` per table."""
        raise NotImplementedError(f"{self.kind} databases have no row counts")

    def restoring_command(self, password: str) -> list[str] | None:
        """The command of the container a dump is restored in (settings for a bulk load
        that stay durable); the same as ever by default."""
        return self.command(password)

    def make_roles(self, roles: str) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) that makes the roles a dump's objects name, before it is
        restored; None when the kind has none."""
        return None

    def stop_sessions(self) -> tuple[list[str], dict[str, str]] | None:
        """(command, environment) ending the sessions a backup opened; the backup's
        application name comes in the environment's PILOT_APP."""
        return None

    def free_space(self) -> list[str]:
        """Prints the free space where the data lives (``df -Pk``'s table)."""
        return ["df", "-Pk", self.mount]


class Postgres(Kind):
    kind = "postgres"
    port = 5432
    mount = "/var/lib/postgresql/data"
    base = POSTGRES
    ready_output = "accepting connections"

    @property
    def user(self) -> str:
        return self.name

    def url(self, password: str) -> str:
        secret = urllib.parse.quote(password, safe="")
        return f"postgres://{self.user}:{secret}@{self.container}:{self.port}/{self.name}"

    def environment(self, password: str) -> dict[str, str]:
        return {
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": self.name,
            # A folder inside the volume: the volume's root may hold lost+found.
            "PGDATA": f"{self.mount}/pgdata",
        }

    def command(self, password: str) -> list[str] | None:
        return None  # the image's: postgres

    def ready(self, password: str) -> list[str]:
        return ["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        return environment.get("POSTGRES_PASSWORD")

    dump_format = "pg_dump -Fc"

    def session(self) -> dict[str, str]:
        """Where the scripts' psql, pg_dump and pg_restore connect: the container's own
        socket, as the database's owner (trusted there: no password)."""
        return {"PILOT_ROLE": self.user, "PILOT_DB": self.name}

    def dump(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        return ["sh", "-c", DUMP_SCRIPT], {**self.session(), "PILOT_COUNT_SQL": COUNT_SQL}

    @property
    def received_dump(self) -> str:
        """Where a restore's dump waits in the new volume: beside PGDATA, not in it (initdb
        needs it empty); ``load`` removes it."""
        return f"{self.mount}/pilot-restore.dump"

    def receive(self, size: int) -> tuple[list[str], dict[str, str]]:
        return ["sh", "-c", RECEIVE_SCRIPT], {
            "PILOT_SIZE": str(size),
            "PILOT_FILE": self.received_dump,
        }

    def template_copy(self, template: str) -> str | None:
        # The image's entrypoint then finds PG_VERSION and starts it as it is.
        return f'[ -s {template}/pgdata/PG_VERSION ] && cp -a {template}/pgdata "$PGDATA"'

    def load(self) -> tuple[list[str], dict[str, str]] | None:
        environment = {**self.session(), "PILOT_FILE": self.received_dump}
        return ["sh", "-c", LOAD_SCRIPT], {**environment, "PILOT_JOBS": str(RESTORE_JOBS)}

    def count(self, password: str) -> tuple[list[str], dict[str, str]]:
        return ["sh", "-c", COUNT_SCRIPT], {**self.session(), "PILOT_COUNT_SQL": COUNT_SQL}

    def stop_sessions(self) -> tuple[list[str], dict[str, str]] | None:
        sql = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :'app'"
        )
        script = (
            'printf "%s\\n" "$0" | psql -X -q -v app="$PILOT_APP" -U "$PILOT_ROLE" -d "$PILOT_DB"'
        )
        return ["sh", "-c", script, sql], self.session()

    def make_roles(self, roles: str) -> tuple[list[str], dict[str, str]] | None:
        # Each role once: "already exists" (the owner, made by the image) is expected, and
        # a role that could not be made shows as pg_restore's error on its first GRANT.
        script = 'printf "%s\\n" "$PILOT_ROLES_SQL" | psql -X -q -U "$PILOT_ROLE" -d "$PILOT_DB"'
        return ["sh", "-c", script + " >/dev/null 2>&1 || true"], {
            **self.session(),
            "PILOT_ROLES_SQL": roles,
        }

    def restoring_command(self, password: str) -> list[str] | None:
        # A bulk load, still durable: with wal_level = minimal, tables made and filled in
        # pg_restore's single transaction skip the WAL and are synced at commit; a quarter
        # of the memory limit for the index builds; no autovacuum competing with the check
        # that follows (the database that then serves runs with its usual settings).
        memory_mb = int(self.settings.size[:-1]) * (1024 if self.settings.size[-1] == "g" else 1)
        settings = {
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "maintenance_work_mem": f"{max(16, min(memory_mb // (4 * RESTORE_JOBS), 1024))}MB",
            "synchronous_commit": "off",
            "max_wal_size": "4GB",
            "autovacuum": "off",
        }
        return ["postgres", *(f"-c{key}={value}" for key, value in settings.items())]

    def set_password(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        # Over the container's own socket (trusted there); the SQL is psql's, with the
        # password a psql variable from the environment: never on a command line.
        sql = "ALTER ROLE :\"role\" PASSWORD :'password';"
        script = (
            'printf "%s\\n" "$0" | psql -v ON_ERROR_STOP=1 -v role="$PILOT_ROLE" '
            '-v password="$PILOT_PASSWORD" -U "$PILOT_ROLE" -d "$PILOT_DB"'
        )
        environment = {"PILOT_ROLE": self.user, "PILOT_PASSWORD": password, "PILOT_DB": self.name}
        return ["sh", "-c", script, sql], environment


# Every user table's exact row count, in one query (query_to_xml runs each count inside it,
# so a dump's snapshot covers them all).
COUNT_SQL = """SELECT format('%I.%I', n.nspname, c.relname),
 (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I',
   n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema'
 AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1;"""

# pg_dump in the snapshot of a transaction that counts the rows meanwhile (on another core):
# the counts are the dump's exactly, however busy the database is. psql keeps that
# transaction open through two fifos until pg_dump ends; the dump goes to stdout, the
# counts to stderr with the roles (no passwords: a restore's GRANTs need the roles) and the
# database's size on disk (a restore checks the host has room); pg_dump's exit status is
# the script's.
DUMP_SCRIPT = r"""set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkfifo "$d/in" "$d/out"
psql -X -q -At -F "$(printf '\t')" -v ON_ERROR_STOP=1 -U "$PILOT_ROLE" -d "$PILOT_DB" \
  <"$d/in" >"$d/out" &
exec 3>"$d/in" 4<"$d/out"
printf '%s\n' 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;' \
  'SELECT pg_export_snapshot();' >&3
IFS= read -r snapshot <&4
pg_dump --snapshot="$snapshot" -Fc -U "$PILOT_ROLE" -d "$PILOT_DB" &
dump=$!
roles=$(pg_dumpall --roles-only --no-role-passwords -U "$PILOT_ROLE")
printf '%s\n' "$roles" | sed 's/^/pilot-role\t/' >&2
printf '%s\n' 'SELECT pg_database_size(current_database());' >&3
IFS= read -r size <&4
printf 'pilot-size\t%s\n' "$size" >&2
printf '%s\n' "$PILOT_COUNT_SQL" '\echo pilot-counts-end' >&3
while IFS= read -r row <&4 && [ "$row" != pilot-counts-end ]; do
  printf 'pilot-count\t%s\n' "$row" >&2
done
wait "$dump"
printf '%s\n' 'COMMIT;' >&3
exec 3>&-
wait
"""

COUNT_SCRIPT = (
    'psql -X -q -At -F "$(printf \'\\t\')" -v ON_ERROR_STOP=1 -U "$PILOT_ROLE" -d "$PILOT_DB" '
    '-c "$PILOT_COUNT_SQL"'
)

# Exactly the dump's bytes, readable by nobody else, whole (counted) or not renamed.
RECEIVE_SCRIPT = (
    'umask 077 && head -c "$PILOT_SIZE" >"$PILOT_FILE.partial" && '
    '[ "$(wc -c <"$PILOT_FILE.partial")" -eq "$PILOT_SIZE" ] && '
    'mv "$PILOT_FILE.partial" "$PILOT_FILE"'
)

# Two jobs: one table loads or indexes while the other does (from a file: pg_restore reads
# its parts out of order). Not one transaction (parallel jobs cannot share one), but a new
# volume that a failure removes whole; each table's data still goes in the transaction
# that empties it first, so wal_level = minimal skips its WAL. The first error stops it.
RESTORE_JOBS = 2
LOAD_SCRIPT = (
    'pg_restore --exit-on-error --jobs="$PILOT_JOBS" -U "$PILOT_ROLE" -d "$PILOT_DB" '
    '"$PILOT_FILE"; status=$?; rm -f "$PILOT_FILE"; exit "$status"'
)


# Redis: a fresh RDB snapshot (BGSAVE, waited for), read once through one descriptor, so
# the keys counted (redis-check-rdb, which also checks its checksum) are the file's own.
REDIS_DUMP_SCRIPT = r"""set -eu
field() { redis-cli INFO persistence | tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p"; }
deadline=$(($(date +%s) + 3600))
late() {
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "redis did not finish its snapshot within an hour" >&2
    exit 1
  fi
}
while :; do
  before=$(field rdb_saves)
  reply=$(redis-cli BGSAVE SCHEDULE 2>&1)
  case "$reply" in
    *started* | *scheduled*) break ;;
    *"already in progress"*) ;; # a save of Redis's own: wait for it, then ask again
    *) echo "redis refused the snapshot: $reply" >&2; exit 1 ;;
  esac
  late
  sleep 0.1
done
while [ "$(field rdb_bgsave_in_progress)" = 1 ] || {
  [ "$(field rdb_saves)" = "$before" ] && [ "$(field rdb_last_bgsave_status)" = ok ]; }; do
  late
  sleep 0.1
done
if [ "$(field rdb_last_bgsave_status)" != ok ]; then
  echo "redis could not write its snapshot (rdb_last_bgsave_status: err)" >&2
  exit 1
fi
exec 5<"$PILOT_DIR/dump.rdb"
stats=$(redis-check-rdb /proc/self/fd/5)
keys=$(printf '%s\n' "$stats" | sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p')
expires=$(printf '%s\n' "$stats" | sed -n 's/^\[info\] \([0-9]*\) expires$/\1/p')
printf 'pilot-count\tkeys\t%s\npilot-count\texpires\t%s\n' "${keys:-0}" "${expires:-0}" >&2
cat <&5
"""

# Append-only on, and its first file written from the loaded data, waited for.
REDIS_AOF_SCRIPT = r"""set -eu
field() { redis-cli INFO persistence | tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p"; }
redis-cli CONFIG SET appendonly yes >/dev/null
while [ "$(field aof_rewrite_in_progress)" = 1 ] || [ "$(field aof_rewrite_scheduled)" = 1 ]; do
  sleep 0.1
done
[ "$(field aof_enabled)" = 1 ] && [ "$(field aof_last_bgrewrite_status)" = ok ]
"""

# The keys the RDB held as it loaded: those loaded, and those whose time to live had run
# out (dropped as they load); together exactly the backup's count, or the file lost keys.
REDIS_COUNT_SCRIPT = r"""set -eu
field() { redis-cli INFO persistence | tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p"; }
loaded=$(field rdb_last_load_keys_loaded)
expired=$(field rdb_last_load_keys_expired)
printf 'keys\t%s\n' "$((${loaded:-0} + ${expired:-0}))"
"""


class Redis(Kind):
    kind = "redis"
    port = 6379
    mount = "/data"
    base = REDIS
    ready_output = "PONG"

    def url(self, password: str) -> str:
        # "default": the user requirepass sets (Redis 6+ ACLs); an empty user fails AUTH.
        secret = urllib.parse.quote(password, safe="")
        return f"redis://default:{secret}@{self.container}:{self.port}/0"

    def environment(self, password: str) -> dict[str, str]:
        return {}

    def command(self, password: str) -> list[str] | None:
        # Append-only file: every write is on disk within a second, across restarts.
        return [
            "redis-server",
            "--requirepass",
            password,
            "--appendonly",
            "yes",
            "--dir",
            self.mount,
        ]

    def ready(self, password: str) -> list[str]:
        return ["redis-cli", "-h", "127.0.0.1", "ping"]  # the password: ready_environment

    def ready_environment(self, password: str) -> dict[str, str]:
        return {"REDISCLI_AUTH": password}

    dump_format = "redis BGSAVE (RDB)"
    dump_extension = "rdb"

    def _authed(self, password: str) -> dict[str, str]:
        return {"REDISCLI_AUTH": password, "PILOT_DIR": self.mount}

    def dump(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        return ["sh", "-c", REDIS_DUMP_SCRIPT], self._authed(password)

    def receive(self, size: int) -> tuple[list[str], dict[str, str]]:
        # The RDB file in place (whole, then renamed), then the signal the waiting server
        # starts on.
        script = RECEIVE_SCRIPT + ' && touch "$PILOT_DIR/.pilot-loaded"'
        return ["sh", "-c", script], {
            "PILOT_SIZE": str(size),
            "PILOT_FILE": f"{self.mount}/dump.rdb",
            "PILOT_DIR": self.mount,
        }

    def restoring_command(self, password: str) -> list[str] | None:
        # Started before its data is in place: it waits for the RDB file, then loads it.
        # Append-only off: with it on and no AOF yet, Redis would start empty and ignore
        # the RDB (after_restore turns it on, writing the AOF from the loaded data).
        script = (
            'while [ ! -e "$0/.pilot-loaded" ]; do sleep 0.1; done; rm -f "$0/.pilot-loaded"; '
            'exec redis-server --requirepass "$1" --appendonly no --dir "$0"'
        )
        return ["sh", "-c", script, self.mount, password]

    def after_restore(self, password: str) -> tuple[list[str], dict[str, str]] | None:
        return ["sh", "-c", REDIS_AOF_SCRIPT], self._authed(password)

    def count(self, password: str) -> tuple[list[str], dict[str, str]]:
        return ["sh", "-c", REDIS_COUNT_SCRIPT], self._authed(password)

    def mismatches(self, recorded: dict[str, int], counted: dict[str, int]) -> list[str]:
        # Counted as the RDB loaded (loaded + dropped for their TTL): exactly the record's.
        keys, loaded = recorded.get("keys", 0), counted.get("keys")
        return [] if loaded == keys else [f"keys: {loaded} in the file, the backup had {keys}"]

    def password_of(self, environment: dict[str, str], command: list[str]) -> str | None:
        if "--requirepass" in command and command.index("--requirepass") + 1 < len(command):
            return command[command.index("--requirepass") + 1]
        return None


KINDS: dict[str, type[Kind]] = {kind.kind: kind for kind in (Postgres, Redis)}


def kind_for(project: str, settings: Database, preview: str | None = None) -> Kind:
    """The one dispatch point from a ``[[databases]]`` entry to its kind (``preview``: a
    preview's database made from it)."""
    return KINDS[settings.kind](project, settings, preview=preview)
