"""Databases with on = "rds", as data: the checks name each mistake at its place, the
Terraform inputs and the secret file they go in, the URL the apps get, what a destroy puts at
stake and which plan changes delete an instance, the cost estimate, and the `db` commands
that refuse an RDS database (no Docker needed to say so)."""

from __future__ import annotations

import json
import stat

import pytest

from pilot_tui.config.validate import check_text
from pilot_tui.data import managed, rds
from pilot_tui.prices import estimate
from pilot_tui.provision.terraform_run import Plan
from pilot_tui.provision.tf.plan import ResourceChange
from pilot_tui.provision.tf.variables import variables
from pilot_tui.provision.tf.workspace import SECRET_TFVARS, TFVARS, render
from pilot_tui.teardown.remove import _databases_destroyed
from pilot_tui.teardown.things import Inventory, databases_at_stake

HEAD = '[project]\nname = "acme"\n\n[server]\nhome = "{home}"\n\n[[apps]]\nname = "api"\n\n'


def _checked(databases: str, home: str = "sandbox"):
    return check_text(HEAD.format(home=home) + databases)


def _problems(databases: str, home: str = "sandbox") -> list[str]:
    return [f"{p.line}:{p.col} {p.message}" for p in _checked(databases, home).report.problems]


def test_an_rds_database_with_its_defaults():
    config = _checked('[[databases]]\nname = "main"\non = "rds"\napps = ["api"]\n').config
    assert config is not None
    (db,) = rds.on_rds(config)
    # An empty managed.instance is the service's default machine.
    assert (db.machine, db.managed.storage_gb, db.managed.max_storage_gb) == (
        "db.t4g.micro",
        20,
        100,
    )
    assert config.databases_on("docker") == [] and config.databases_on("rds") == [db]
    assert rds.terraform_inputs(config) == {
        "main": {
            "engine_version": "16",
            "instance_class": "db.t4g.micro",
            "storage_gb": 20,
            "max_storage_gb": 100,
            "backup_days": 14,
        }
    }


@pytest.mark.parametrize(
    ("home", "extra", "said"),
    [
        ("gcp", "", '12:6 on = "rds" puts the database in the network of the Pilot Server'),
        ("host", "", '12:6 on = "rds" puts the database in the network of the Pilot Server'),
        ("aws", 'backup = { schedule = "hourly" }', "RDS takes its own backups once a day"),
        ("aws", "backup = { keep = 36 }", "13:19 RDS keeps automated backups for at most 35"),
        (
            "sandbox",
            "managed = { storage_gb = 50, max_storage_gb = 40 }",
            "max_storage_gb (40) is below storage_gb (50)",
        ),
        ("sandbox", 'managed = { instance = "t3.micro" }', "an RDS instance class like"),
        ("sandbox", 'backup = { dumps = "weekly" }', "13:20 schedule 'weekly' is not daily"),
    ],
)
def test_each_rds_mistake_is_named_at_its_place(home, extra, said):
    problems = _problems(f'[[databases]]\nname = "main"\non = "rds"\n{extra}\n', home)
    # gcp and host homes have a problem of their own too (no project, no host)
    mine = [p for p in problems if not p.startswith("5:")]
    assert len(mine) == 1 and said in mine[0], problems


@pytest.mark.parametrize(
    ("name", "said"),
    [("a" * 40, "RDS takes at most 63 characters"), ("my--db", "no two hyphens in a row")],
)
def test_a_name_rds_would_refuse_is_named_at_its_place(name, said):
    text = (
        '[project]\nname = "acme-platform-production"\n\n[server]\nhome = "aws"\n\n'
        f'[[databases]]\nname = "{name}"\non = "rds"\n'
    )
    problems = [f"{p.line}:{p.col} {p.message}" for p in check_text(text).report.problems]
    assert len(problems) == 1 and problems[0].startswith("8:8 ") and said in problems[0], problems


def test_redis_runs_only_on_the_docker_host():
    problems = _problems('[[databases]]\nname = "cache"\nkind = "redis"\non = "rds"\n')
    assert problems == ['13:6 "rds" is not one of "docker"'], problems


def test_the_url_quotes_the_password_and_requires_tls():
    where = managed.address(
        {"databases": {"main": {"address": "db.example", "port": 5433}}}, "main"
    )
    assert where == managed.Address("db.example", 5433)
    assert managed.url(where, "a/b@c") == (
        "postgres://pilot:a%2Fb%40c@db.example:5433/postgres?sslmode=require"
    )
    assert managed.address({}, "main") is None
    assert managed.address({"databases": {"main": {"address": ""}}}, "main") is None


def test_the_url_needs_the_server_made_and_the_password_here(tmp_path):
    from pilot_tui.provision.server import saved_outputs

    def outputs() -> dict[str, object]:
        return saved_outputs(tmp_path)

    config = _checked('[[databases]]\nname = "main"\non = "rds"\n').config
    assert config is not None
    (db,) = rds.on_rds(config)
    with pytest.raises(managed.ManagedError, match="run `pilot-tui server up` first"):
        managed.linked_url(outputs(), tmp_path, db)
    (tmp_path / "outputs").mkdir()
    record = {"outputs": {"databases": {"main": {"address": "h", "port": 5432}}}}
    (tmp_path / "outputs" / "server.json").write_text(json.dumps(record))
    with pytest.raises(managed.ManagedError, match=r"main\.password"):
        managed.linked_url(outputs(), tmp_path, db)
    # RDS has it, and its password is not here: a stand-in, nothing written, and the
    # deploy still says to copy the file.
    assert managed.terraform_passwords(config, tmp_path, lambda _name: True) == {
        "main": managed.NOT_HERE
    }
    with pytest.raises(managed.ManagedError, match=r"main\.password"):
        managed.linked_url(outputs(), tmp_path, db)
    made = managed.terraform_passwords(config, tmp_path, lambda _name: False)
    assert managed.terraform_passwords(config, tmp_path, lambda _name: True) == made  # kept
    assert managed.linked_url(outputs(), tmp_path, db).startswith(
        f"postgres://pilot:{made['main']}@h:"
    )


def test_passwords_go_in_their_own_private_file_never_the_inputs(tmp_path):
    """The inputs file is left to be read; the passwords' file is 0600 and goes when no
    database needs it."""
    config = _checked('[[databases]]\nname = "main"\non = "rds"\n').config
    assert config is not None
    values = variables(config, "sandbox", tmp_path, "ssh-ed25519 AAAA", ["127.0.0.1/32"])
    assert values["databases"] == rds.terraform_inputs(config)
    made = managed.terraform_passwords(config, tmp_path / ".pilot", lambda _name: False)
    secrets = {"database_passwords": made}
    work = tmp_path / "work"
    source = tmp_path / "templates"
    source.mkdir()
    (source / "main.tf").write_text("")
    render([source], work, values, None, secrets)
    password = secrets["database_passwords"]["main"]
    assert password not in (work / TFVARS).read_text()
    assert json.loads((work / SECRET_TFVARS).read_text()) == secrets
    assert stat.S_IMODE((work / SECRET_TFVARS).stat().st_mode) == 0o600
    render([source], work, values, None, {})
    assert not (work / SECRET_TFVARS).exists()
    plain = _checked('[[databases]]\nname = "main"\n').config
    assert plain is not None
    # None is left out of the inputs file (an ejected template may not declare it)
    assert variables(plain, "sandbox", tmp_path, "k", ["127.0.0.1/32"])["databases"] is None


def test_an_rds_database_is_at_stake_whenever_the_server_goes():
    config = _checked('[[databases]]\nname = "main"\non = "rds"\n').config
    assert config is not None
    assert databases_at_stake(Inventory([]), config, server_goes=True) == ["main"]
    assert databases_at_stake(Inventory([]), config, server_goes=False) == []


def test_the_databases_a_destroy_plan_deletes():
    plan = Plan(
        [
            ResourceChange('aws_db_instance.database["main"]', "aws_db_instance", "delete"),
            ResourceChange('aws_db_instance.database["kept"]', "aws_db_instance", "update"),
            ResourceChange("aws_vpc.pilot", "aws_vpc", "delete"),
        ],
        None,
        [],
        destroy=True,
    )
    assert _databases_destroyed(plan) == ["main"]
    assert _databases_destroyed(None) == []


def test_final_snapshots_are_named_by_the_time_they_were_taken():
    assert rds.final_snapshot_name("acme", "main", 0) == "pilot-acme-main-final-19700101-000000"


def test_the_estimate_adds_each_rds_database_and_names_an_unknown_class():
    est = estimate("aws", "t3.small", (("main", "db.t4g.micro", 20),))
    assert [(i.what, i.monthly) for i in est.items][-2:] == [
        ("RDS main db.t4g.micro", 11.68),
        ("RDS main 20 GB", 2.3),
    ]
    assert est.total == round(21.23 + 11.68 + 2.3, 2)
    odd = estimate("aws", "t3.small", (("main", "db.x9.huge", 20),))
    assert "RDS main db.x9.huge is not in Pilot's price table" in odd.text()


def test_db_commands_on_an_rds_database_say_what_they_cannot_do(cli, tmp_path):
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    toml.write_text(toml.read_text() + '\n[[databases]]\nname = "main"\non = "rds"\n')
    # Docker host databases only: removing one, the agent's dumps, restoring over it.
    for command, said in (
        (["destroy", "main", "--confirm", "main"], "this command works on databases on the Docker"),
        (["backup", "main", "--on-server"], 'has backup.dumps = "off": the backup agent does not'),
        (["restore", "main", "--confirm", "main"], "a restore goes into a new database"),
    ):
        refused = cli("db", *command)
        assert refused.code == 2, (command, refused.err)
        assert said in refused.err, (command, refused.err)
    # Pilot's own dump and psql need the instance the server's apply makes: before it, said
    # so, and nothing asks for a Docker host.
    for command in (["backup", "main"], ["psql", "main", "-c", "select 1"]):
        unmade = cli("db", *command)
        assert unmade.code == 1, (command, unmade.err)
        assert 'database "main" is on RDS, and the Pilot Server\'s last apply did not make it' in (
            unmade.err
        )
    nothing = cli("db", "backups", "main")  # Pilot's dumps of it: read without a Docker host
    assert nothing.code == 0 and "no backups of main yet: pilot-tui db backup main" in nothing.err
    # The agent dumps it: the listing asks the Docker host whether the agent runs, and one
    # that cannot be reached (none here) is a warning, never a failed listing.
    toml.write_text(toml.read_text() + 'backup = { dumps = "daily" }\n')
    for command in (["list"], ["status", "main"]):
        shown = cli("db", *command)
        assert "whether the backup agent runs is unknown" in shown.err, (command, shown.err)
        assert "Pilot's dumps daily · agent unknown (the Docker host was not reached)" in (
            shown.out
        ), (command, shown.out)
    assert cli("db", "list").code == 0
    # Listing needs no Docker host when every database is on RDS.
    listed = cli("db", "list")
    assert listed.code == 0, listed.err
    assert "not made yet (pilot-tui server up)" in listed.out
    assert "backups: by RDS each day, kept 14 days" in listed.out
    status = cli("db", "status", "main")
    assert status.code == 1 and "not made yet" in status.out


def test_backup_dumps_is_for_managed_databases_only():
    problems = _problems('[[databases]]\nname = "main"\nbackup = { dumps = "daily" }\n')
    assert len(problems) == 1 and problems[0].startswith("12:20 "), problems
    assert "backup.dumps schedules Pilot's dumps of a database on RDS or Cloud SQL" in problems[0]


def test_the_agent_dumps_an_rds_database_through_a_client_container_once_it_is_made(tmp_path):
    """The agent's plan, as data: a job for a managed database whose backup.dumps is set,
    with the client container to make; none before the server's apply made it."""
    from pilot_tui.data import managed_client, passwords, scheduling
    from pilot_tui.deploy.host import DockerTarget

    sock = tmp_path / "docker.sock"
    sock.touch()
    local = DockerTarget("unix", f"unix://{sock}", socket=sock)
    state_dir = tmp_path / ".pilot"
    text = '[[databases]]\nname = "main"\non = "rds"\nbackup = { dumps = "hourly", keep = 3 }\n'
    config = _checked(text).config
    assert config is not None
    assert scheduling.scheduled(config) == ["main"]
    assert scheduling.agent_plan(config, local, state_dir) is None  # not made yet

    outputs = state_dir / "outputs"
    outputs.mkdir(parents=True)
    made = {"databases": {"main": {"address": "db.internal", "port": 5432}}}
    (outputs / "server.json").write_text(json.dumps({"home": "sandbox", "outputs": made}))
    passwords.keep(state_dir, "main", "s3cret-master")
    plan = scheduling.agent_plan(config, local, state_dir)
    assert plan is not None
    [job] = plan.settings["databases"]  # type: ignore[misc]
    assert (job["schedule"], job["keep"]) == ("hourly", 3)
    assert job["client"]["name"] == "pilot-dbclient-acme-main"
    assert job["client"]["labels"]["pilot.role"] == managed_client.CLIENT_ROLE
    assert "s3cret-master" not in json.dumps(job["client"])  # not in the container's settings
    env = job["plan"]["environment"]
    assert (env["PGHOST"], env["PGSSLMODE"], env["PGUSER"]) == ("db.internal", "require", "pilot")
    assert env["PGPASSWORD"] == "s3cret-master"  # the agent's 0600 settings, as Redis's
    off = _checked(text.replace('dumps = "hourly", ', "")).config
    assert off is not None and scheduling.scheduled(off) == []
    # Made, but its password is on another machine: the plan is refused (the agent is then
    # left as it runs), never one without this job, which would stop its dumps unsaid.
    passwords.password_file(state_dir, "main").unlink()
    with pytest.raises(managed.ManagedError, match="is not on this machine"):
        scheduling.agent_plan(config, local, state_dir)
