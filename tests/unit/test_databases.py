"""`[[databases]]` in pilot.toml and what each kind is on a Docker host, as data: the checks
name the place of every mistake; the container, volume, environment, command, URL and
readiness check of Postgres and Redis; `databases.NAME` keys resolve to the entry."""

from __future__ import annotations

import urllib.parse

import pytest

from pilot_tui.config.document import set_in_text
from pilot_tui.config.validate import check_text
from pilot_tui.data import kinds, passwords

APPS = """[project]
name = "acme"

[[apps]]
name = "api"

[[apps]]
name = "web"
target = { kind = "s3-cloudfront" }
"""


def _checked(databases: str):
    return check_text(APPS + databases)


def _problems(databases: str) -> list[str]:
    return [f"{p.line}:{p.col} {p.message}" for p in _checked(databases).report.problems]


def test_a_postgres_and_a_redis_with_their_defaults():
    config = _checked(
        '[[databases]]\nname = "main"\napps = ["api"]\n\n'
        '[[databases]]\nname = "cache"\nkind = "redis"\n'
    ).config
    assert config is not None
    main, cache = config.databases
    assert (main.kind, main.version, main.url_env) == ("postgres", 16, "DATABASE_URL")
    assert (cache.kind, cache.version, cache.url_env) == ("redis", 7, "REDIS_URL")
    assert (main.size, cache.size, main.apps) == ("512m", "256m", ["api"])
    assert config.database("cache") is cache and config.database("nope") is None


MAIN = '[[databases]]\nname = "main"\n'
REDIS = '[[databases]]\nname = "c"\nkind = "redis"\n'
TWO = '[[databases]]\nname = "a"\n{}\n[[databases]]\nname = "{}"\n{}'


@pytest.mark.parametrize(
    "databases, expected",
    [
        (MAIN + 'kind = "mysql"\n', '12:8 "mysql" is not one of'),
        (MAIN + "version = 14\n", "12:11 14 is out of range: use 15 to 17"),
        (REDIS + "version = 6\n", "13:11 6 is out of range: use 7"),
        (MAIN + 'apps = ["apii"]\n', '12:9 no app named "apii" in this file'),
        (MAIN + 'apps = ["web"]\n', '12:9 app "web" runs on "s3-cloudfront"'),
        (MAIN + 'size = "lots"\n', '12:8 "lots" is not valid: use megabytes'),
        (MAIN + "port = 5432\n", '12:1 unknown key "port" for kind = "postgres"'),
        ('[[databases]]\nkind = "redis"\n', '10:1 missing required key "name"'),
        (TWO.format("", "a", 'kind = "redis"\n'), '14:8 database "a" is defined twice'),
        (
            TWO.format('apps = ["api"]\n', "b", 'apps = ["api"]\n'),
            '16:9 app "api" already gets DATABASE_URL from database "a"',
        ),
    ],
)
def test_mistakes_are_named_with_their_place(databases, expected):
    problems = _problems(databases)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_variable_the_app_sets_itself_is_not_overwritten():
    text = APPS.replace('name = "api"\n', 'name = "api"\nsecrets = ["DATABASE_URL"]\n', 1)
    checked = check_text(text + '[[databases]]\nname = "main"\napps = ["api"]\n')
    messages = [p.message for p in checked.report.problems]
    assert any('app "api" sets DATABASE_URL itself' in m for m in messages), messages
    other = check_text(text + '[[databases]]\nname = "main"\napps = ["api"]\nurl_env = "PG_URL"\n')
    assert other.config is not None


def test_database_keys_resolve_by_name():
    text = APPS + '[[databases]]\nname = "main"\n\n[[databases]]\nname = "cache"\nkind = "redis"\n'
    changed = set_in_text(text, "databases.cache.size", "1g")
    config = check_text(changed).config
    assert config is not None and config.databases[1].size == "1g"
    assert config.databases[0].size == "512m"


def _kind(toml: str) -> kinds.Kind:
    config = check_text(APPS + toml).config
    assert config is not None
    return kinds.kind_for("acme", config.databases[0])


def test_postgres_on_a_docker_host_as_data(monkeypatch):
    monkeypatch.delenv("PILOT_POSTGRES_IMAGE", raising=False)
    pg = _kind('[[databases]]\nname = "main"\nversion = 15\nsize = "1g"\n')
    run = pg.run("p@ss/wörd")
    assert (run.name, run.volume) == ("pilot-db-acme-main", "pilot-db-acme-main")
    assert run.image == "postgres:15-alpine" and run.mount == "/var/lib/postgresql/data"
    assert run.environment == {
        "POSTGRES_USER": "main",
        "POSTGRES_PASSWORD": "p@ss/wörd",
        "POSTGRES_DB": "main",
        "PGDATA": "/var/lib/postgresql/data/pgdata",
    }
    assert run.command is None and run.memory == "1g"
    assert run.labels["pilot.database.version"] == "15" and run.labels["pilot.project"] == "acme"
    url = pg.url("p@ss/wörd")
    assert url == "postgres://main:p%40ss%2Fw%C3%B6rd@pilot-db-acme-main:5432/main"
    assert urllib.parse.unquote(urllib.parse.urlsplit(url).password or "") == "p@ss/wörd"
    assert pg.ready("x")[:3] == ["pg_isready", "-h", "127.0.0.1"]
    assert pg.password_of(run.environment, []) == "p@ss/wörd"
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", "mirror.local/pg:{version}")
    assert pg.image == "mirror.local/pg:15"


def test_redis_on_a_docker_host_as_data(monkeypatch):
    monkeypatch.delenv("PILOT_REDIS_IMAGE", raising=False)
    redis = _kind('[[databases]]\nname = "cache"\nkind = "redis"\n')
    run = redis.run("secret")
    assert run.image == "redis:7-alpine" and run.mount == "/data" and run.environment == {}
    assert run.command == [
        "redis-server", "--requirepass", "secret", "--appendonly", "yes", "--dir", "/data"
    ]  # fmt: skip
    assert redis.url("secret") == "redis://default:secret@pilot-db-acme-cache:6379/0"
    assert redis.password_of({}, run.command or []) == "secret"
    assert redis.ready_output == "PONG"


def test_passwords_are_kept_0600_and_registered_for_masking(tmp_path):
    from pilot_tui import redact

    value = passwords.new()
    assert len(value) == 32 and value == urllib.parse.quote(value, safe="")
    passwords.keep(tmp_path, "main", value)
    path = passwords.password_file(tmp_path, "main")
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert passwords.stored(tmp_path, "main") == value
    assert passwords.stored_values(tmp_path) == [value]
    assert value not in redact.text(f"url postgres://main:{value}@db/main")


def test_db_new_writes_a_checked_databases_table_and_keeps_comments(cli, tmp_path):
    assert cli("init", "--name", "shop").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text("# our shop\n" + toml.read_text())
    before = toml.read_text()
    empty = cli("db", "list")  # none yet: it names the command that adds one
    assert empty.code == 0 and "`pilot-tui db new NAME --app APP` adds one" in empty.err
    for args, said in (
        (("main", "--app", "api"), 'databases[0].apps[0]: no app named "api"'),
        (("main", "--version", "14"), "databases[0].version: 14 is out of range"),
        (("cache", "--kind", "redis", "--version", "6"), "databases[0].version: 6 is out of"),
    ):
        refused = cli("db", "new", *args)
        assert refused.code == 2 and said in refused.err, refused.err
        assert "pilot.toml is unchanged" in refused.err
        assert toml.read_text() == before
    added = cli("db", "new", "main", "--version", "16", "--keep", "7")
    assert added.code == 0, added.err
    text = toml.read_text()
    assert text.startswith("# our shop\n") and text.endswith("\n")
    assert '[[databases]]\nname = "main"\nkind = "postgres"\nversion = 16\n' in text
    assert "backup = { keep = 7 }" in text
    twice = cli("db", "new", "main")
    assert twice.code == 2 and "defined twice" in twice.err
    assert cli("config", "get", "databases.main.backup.keep").out.strip() == "7"
