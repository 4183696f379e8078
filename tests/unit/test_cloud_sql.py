"""Databases with on = "cloud-sql". No Cloud SQL emulator and no Google provider can be had
here, so this is as data and against a FAKE Cloud SQL Admin API (``FakeCloudSql``, below:
instances with labels, operations that run then finish, an error when asked), said plainly:
the checks at their place, the Terraform inputs, the requests Pilot sends, the final export
to the state bucket, deletion protection lifted and put back, what a destroy puts at stake,
the cost estimate, and the `db` commands' answers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.config.validate import check_text
from pilot_tui.data import cloud_sql, managed
from pilot_tui.errors import EXIT_INVALID
from pilot_tui.prices import estimate
from pilot_tui.provision.terraform_run import Plan
from pilot_tui.provision.tf.plan import ResourceChange
from pilot_tui.provision.tf.variables import variables
from pilot_tui.runner import Interrupt
from pilot_tui.teardown.remove import Teardown, _databases_destroyed
from pilot_tui.teardown.scan import Scan
from pilot_tui.teardown.things import Inventory, Thing, databases_at_stake, inventory

HEAD = (
    '[project]\nname = "acme"\n\n[gcp]\nproject = "acme-prod"\n\n[state]\nbackend = "{backend}"'
    '\n\n[server]\nhome = "{home}"\n\n[[apps]]\nname = "api"\n\n'
)
ONE = '[[databases]]\nname = "main"\non = "cloud-sql"\napps = ["api"]\n'


def _checked(databases: str, home: str = "gcp", backend: str = "gcs"):
    return check_text(HEAD.format(home=home, backend=backend) + databases)


def _config(databases: str = ONE, backend: str = "gcs"):
    config = _checked(databases, backend=backend).config
    assert config is not None, _checked(databases, backend=backend).report.problems
    return config


class FakeCloudSql:
    """A FAKE Cloud SQL Admin API (v1) as a gcp_api.Transport: no emulator exists. It keeps
    instances with their labels and protection, answers a list with one page per instance
    (so paging is exercised), and runs each operation for one poll before it is DONE (or
    fails, for an instance named in ``failing``)."""

    def __init__(self, *instances: tuple[str, str]) -> None:
        self.instances = {
            instance: {
                "name": instance,
                "settings": {
                    "userLabels": {"pilot-project": "acme", "pilot-database": database},
                    "deletionProtectionEnabled": True,
                },
            }
            for database, instance in instances
        }
        self.sent: list[ApiRequest] = []
        self.exports: list[tuple[str, str]] = []
        self.operations: dict[str, dict] = {}
        self.failing: set[str] = set()
        self.refuse: int | None = None  # an HTTP status every call gets

    def __call__(self, request: ApiRequest) -> dict:
        self.sent.append(request)
        if self.refuse is not None:
            raise ApiError(self.refuse, "the caller does not have permission", request)
        path = request.url.removeprefix(cloud_sql.API)
        if path.startswith("operations/"):
            operation = self.operations[path.removeprefix("operations/")]
            operation["status"] = "DONE"
            return dict(operation)
        parts = path.split("/")  # projects, P, instances[, NAME[, export]]
        assert parts[:3] == ["projects", "acme-prod", "instances"], path
        if len(parts) == 3:
            # The filter as Cloud SQL reads it: settings.userLabels.KEY:VALUE.
            key, _, value = str((request.params or {}).get("filter", "")).partition(":")
            assert key.startswith("settings.userLabels."), key
            label = key.removeprefix("settings.userLabels.")
            names = sorted(
                n
                for n, item in self.instances.items()
                if item["settings"].get("userLabels", {}).get(label) == value
            )
            page = int((request.params or {}).get("pageToken") or 0)
            answer: dict = {"items": [self.instances[n] for n in names[page : page + 1]]}
            if page + 1 < len(names):
                answer["nextPageToken"] = str(page + 1)
            return answer
        instance = parts[3]
        if instance not in self.instances:
            raise ApiError(404, "The Cloud SQL instance does not exist.", request)
        if len(parts) == 5 and parts[4] == "export":
            assert request.body is not None
            self.exports.append((instance, request.body["exportContext"]["uri"]))
        elif request.method == "DELETE":
            if self.protected(instance):
                raise ApiError(400, "The instance is protected from deletion.", request)
            del self.instances[instance]
        elif request.method == "PATCH":
            assert request.body is not None
            on = request.body["settings"]["deletionProtectionEnabled"]
            self.instances[instance]["settings"]["deletionProtectionEnabled"] = on
        return self._operation(instance)

    def _operation(self, instance: str) -> dict:
        name = f"op-{len(self.operations)}"
        operation = {
            "kind": "sql#operation",
            "name": name,
            "status": "RUNNING",
            "selfLink": f"{cloud_sql.API}operations/{name}",
        }
        if instance in self.failing:
            operation["error"] = {"errors": [{"code": "ERROR", "message": "export failed"}]}
        self.operations[name] = dict(operation)
        return operation

    def protected(self, instance: str) -> bool:
        return bool(self.instances[instance]["settings"]["deletionProtectionEnabled"])


def _databases(api: FakeCloudSql, bucket: str | None = "pilot-state-acme"):
    return cloud_sql.CloudSqlDatabases(api, "acme-prod", "acme", bucket, sleep=lambda _s: None)


# -- pilot.toml -----------------------------------------------------------------------
def test_a_cloud_sql_database_with_its_defaults():
    config = _config()
    (db,) = cloud_sql.on_cloud_sql(config)
    assert db.service is not None and db.service.title == "Cloud SQL"
    assert db.machine == "db-g1-small"  # an empty managed.instance: the service's default
    assert config.managed_databases() == [db] and config.databases_on("docker") == []
    assert cloud_sql.terraform_inputs(config) == {
        "main": {
            "version": "POSTGRES_16",
            "tier": "db-g1-small",
            "disk_gb": 20,
            "max_disk_gb": 100,
            "backups_kept": 14,
        }
    }
    values = variables(config, "gcp", Path("/project"), "ssh-ed25519 AAAA", ["127.0.0.1/32"])
    assert values["databases"] == cloud_sql.terraform_inputs(config)
    assert values["state_bucket"] == "pilot-state-acme"


@pytest.mark.parametrize(
    ("home", "extra", "said", "line"),
    [
        (
            "aws",
            "",
            'on = "cloud-sql" puts the database in the network of the Pilot Server on ',
            18,
        ),
        ("sandbox", "", "or a server on Google Cloud", 18),
        ("gcp", 'managed = { instance = "db.t4g.micro" }', "is not a Cloud SQL machine", 20),
        (
            "gcp",
            'backup = { schedule = "hourly" }',
            "Cloud SQL takes its own backups once a day",
            20,
        ),
        ("gcp", "backup = { keep = 400 }", "at most 365 backups", 20),
        ("gcp", "backup = { keep = 1 }", "keeps at least 2 automated backups", 20),
    ],
)
def test_each_mistake_is_named_at_its_place(home, extra, said, line):
    problems = [
        f"{p.line}:{p.col} {p.message}"
        for p in _checked(ONE + extra + "\n", home=home).report.problems
    ]
    assert len(problems) == 1 and said in problems[0], problems
    assert problems[0].startswith(f"{line}:"), problems  # at its place


def test_a_name_too_long_with_the_suffix_is_refused():
    # pilot-acme-platforms- (21) + 40 = 61 characters: an RDS name would pass, Cloud SQL's
    # 5-character suffix makes it 66.
    text = HEAD.format(home="gcp", backend="gcs")
    text = text.replace('name = "acme"', 'name = "acme-platforms"', 1)
    name = "d" * 40
    text += f'[[databases]]\nname = "{name}"\non = "cloud-sql"\n'
    problems = [p.message for p in check_text(text).report.problems]
    assert len(problems) == 1 and "and 5 more characters" in problems[0], problems


# -- requests, as data ----------------------------------------------------------------
def test_the_requests_pilot_sends():
    listing = cloud_sql.instances_request("acme-prod", "acme")
    assert listing.method == "GET"
    assert listing.url == "https://sqladmin.googleapis.com/v1/projects/acme-prod/instances"
    assert listing.params == {"filter": "settings.userLabels.pilot-project:acme"}
    export = cloud_sql.export_request("acme-prod", "pilot-acme-main-1a2b", "gs://b/x.sql.gz")
    assert export.url.endswith("/instances/pilot-acme-main-1a2b/export")
    assert export.body == {
        "exportContext": {
            "kind": "sql#exportContext",
            "fileType": "SQL",
            "uri": "gs://b/x.sql.gz",
            "databases": ["postgres"],
        }
    }
    patch = cloud_sql.protection_request("acme-prod", "pilot-acme-main-1a2b", on=False)
    assert (patch.method, patch.body) == (
        "PATCH",
        {"settings": {"deletionProtectionEnabled": False}},
    )
    assert cloud_sql.final_export_uri("pilot-state-acme", "main", "pilot-acme-main-1a2b", 0) == (
        "gs://pilot-state-acme/backups/main/final-19700101-000000-pilot-acme-main-1a2b.sql.gz"
    )


# -- the destroy's steps, against the fake ----------------------------------------------
def test_instances_are_found_by_their_labels_across_pages():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("jobs", "pilot-acme-jobs-9f00"))
    api.instances["someone-else"] = {"name": "someone-else", "settings": {"userLabels": {}}}
    other = {"pilot-project": "acme-dev", "pilot-database": "main"}  # a neighbour project
    api.instances["pilot-acme-dev-main-0000"] = {"name": "x", "settings": {"userLabels": other}}
    found = _databases(api).instances()
    assert found == [("jobs", "pilot-acme-jobs-9f00"), ("main", "pilot-acme-main-1a2b")]
    assert sum(1 for r in api.sent if r.params and "pageToken" in r.params) == 1
    assert _databases(api).exists("main") and not _databases(api).exists("gone")


def test_the_final_backup_is_an_export_to_the_state_bucket_then_kept():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("jobs", "pilot-acme-jobs-9f00"))
    said: list[str] = []
    kept = _databases(api).final_backups(["main", "gone"], said.append, lambda: False)
    ((instance, uri),) = api.exports
    assert instance == "pilot-acme-main-1a2b"
    assert uri.startswith("gs://pilot-state-acme/backups/main/final-") and uri.endswith(".sql.gz")
    assert len(kept) == 1 and uri in kept[0] and "gcloud sql import sql" in kept[0]
    assert f"exporting Cloud SQL database main (pilot-acme-main-1a2b) to {uri}" in said
    # waited for: the operation was polled until DONE
    assert any(r.url.endswith("/operations/op-0") for r in api.sent)
    assert all(api.protected(i) for i in api.instances)  # nothing lifted by a backup


def test_a_final_export_needs_the_state_bucket():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"))
    with pytest.raises(cloud_sql.CloudSqlError, match=r'state\.backend = "gcs"'):
        _databases(api, bucket=None).final_backups(["main"], print, lambda: False)
    assert api.exports == []


def test_a_failed_or_stopped_export_stops_the_destroy_with_protection_on():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"))
    api.failing.add("pilot-acme-main-1a2b")
    with pytest.raises(cloud_sql.CloudSqlError, match=r"export failed.*protection is still on"):
        _databases(api).final_backups(["main"], print, lambda: False)
    api.failing.clear()
    with pytest.raises(cloud_sql.CloudSqlError, match="stopped while operation"):
        _databases(api).final_backups(["main"], print, lambda: True)
    assert api.protected("pilot-acme-main-1a2b")


def test_protection_is_lifted_only_on_what_is_there_and_put_back():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("jobs", "pilot-acme-jobs-9f00"))
    said: list[str] = []
    databases = _databases(api)
    lifted = databases.lift_protection(["main", "gone"], said.append)
    assert lifted == ["pilot-acme-main-1a2b"]
    assert not api.protected("pilot-acme-main-1a2b") and api.protected("pilot-acme-jobs-9f00")
    del api.instances["pilot-acme-jobs-9f00"]  # gone meanwhile: nothing to put back there
    databases.protect_again([*lifted, "pilot-acme-jobs-9f00"], said.append)
    assert api.protected("pilot-acme-main-1a2b")
    assert said[-1] == "deletion protection of pilot-acme-main-1a2b is on again"


def test_the_teardown_undoes_a_half_lift_when_cloud_sql_refuses(tmp_path):
    """One lifted, the next refused: the teardown records it, says nothing may go, and
    puts the first back."""
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("jobs", "pilot-acme-jobs-9f00"))
    teardown = Teardown(_config(), tmp_path, Scan("acme"))
    teardown._managed = _databases(api)
    real = api.__call__

    def refuse_jobs(request: ApiRequest) -> dict:
        if request.method == "PATCH" and "jobs" in request.url:
            raise ApiError(403, "not allowed", request)
        return real(request)

    teardown._managed.transport = refuse_jobs
    assert teardown.lift_protection(["main", "jobs"], print) is None
    assert "not allowed" in teardown.failures[0]
    assert api.protected("pilot-acme-main-1a2b") and api.protected("pilot-acme-jobs-9f00")


def test_a_refusal_names_cloud_sql():
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"))
    api.refuse = 403
    with pytest.raises(cloud_sql.CloudSqlError, match=r"Cloud SQL: GET .*HTTP 403"):
        _databases(api).exists("main")


def test_the_cli_refuses_to_remove_the_bucket_its_final_export_would_go_to(tmp_path, capsys):
    """Decided before the question: refused while the bucket would go, skipped and said
    with --drop-backups, taken and kept when the bucket stays."""
    from pilot_tui.cli.teardown_cmd import FinalBackups, _final_backups, _final_plan

    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"))
    teardown = Teardown(_config(), tmp_path, Scan("acme"))
    teardown._managed = _databases(api)
    bucket = Thing("state bucket", "gs://pilot-state-acme", "[state] in pilot.toml")
    ns = argparse.Namespace(drop_backups=False)
    server_goes = object()  # any server: the destroy takes the Pilot Server down
    goes = Inventory([bucket])
    assert _final_plan(ns, teardown, goes, server_goes) == EXIT_INVALID
    assert "--keep-state" in capsys.readouterr().err and api.exports == []
    ns.drop_backups = True
    skipped = _final_plan(ns, teardown, goes, server_goes)
    assert skipped == FinalBackups(managed=(), skipped=("main",))
    assert "No final backup of main: the state bucket goes too" in capsys.readouterr().out
    assert _final_backups(ns, teardown, skipped, Interrupt()) is None and api.exports == []
    ns.drop_backups = False
    planned = _final_plan(ns, teardown, Inventory([], keep=[bucket]), server_goes)
    assert planned == FinalBackups(managed=("main",))
    assert _final_backups(ns, teardown, planned, Interrupt()) is None
    assert len(api.exports) == 1 and api.exports[0][1] in teardown.final_kept[0]


# -- what a destroy puts at stake ------------------------------------------------------
def test_a_cloud_sql_database_is_at_stake_whenever_the_server_goes():
    config = _config()
    assert databases_at_stake(Inventory([]), config, server_goes=True) == ["main"]
    assert databases_at_stake(Inventory([]), config, server_goes=False) == []
    # one pilot.toml no longer lists, found in Terraform's plan
    lost = Thing("Terraform resource", 'google_sql_database_instance.database["old"]', "state")
    assert Inventory([lost]).managed_databases("acme") == ["old"]
    plan = Plan(
        [
            ResourceChange(lost.name, "google_sql_database_instance", "delete"),
            ResourceChange('google_sql_user.pilot["old"]', "google_sql_user", "delete"),
        ],
        None,
        [],
        destroy=True,
    )
    assert _databases_destroyed(plan) == ["old"]


def test_the_estimate_prices_cloud_sql_tiers():
    est = estimate("gcp", "e2-small", (("main", "db-g1-small", 20),))
    assert [(i.what, i.monthly) for i in est.items][-2:] == [
        ("Cloud SQL main db-g1-small", 25.55),
        ("Cloud SQL main 20 GB", 3.4),
    ]
    custom = estimate("gcp", "e2-small", (("main", "db-custom-2-7680", 20),))
    assert custom.items[-2].monthly == round((2 * 0.0413 + 7.5 * 0.007) * 730, 2)
    odd = estimate("gcp", "e2-small", (("main", "db-n1-highmem-2", 20),))
    assert "Cloud SQL main db-n1-highmem-2 is not in Pilot's price table" in odd.text()


# -- the db commands -------------------------------------------------------------------
def test_db_commands_refuse_a_cloud_sql_database_and_list_it_without_docker(cli, tmp_path):
    assert cli("init", "--name", "acme").code == 0
    toml = tmp_path / "pilot.toml"
    text = toml.read_text()
    for old, new in (
        ('home = "sandbox"', 'home = "gcp"'),
        ('region = "us-central1"', 'region = "us-central1"\nproject = "acme-prod"'),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    toml.write_text(text + '\n[[databases]]\nname = "main"\non = "cloud-sql"\n')
    refused = cli("db", "restore", "main", "--confirm", "main")
    assert refused.code == 2, refused
    assert "main is on Cloud SQL: a restore goes into a new database" in refused.err
    assert "gcloud sql backups restore" in refused.err
    unmade = cli("db", "backup", "main")  # Pilot's dump: once the server's apply made it
    assert unmade.code == 1 and "last apply did not make it" in unmade.err
    status = cli("db", "status", "main")
    assert status.code != 0 and "not made yet (pilot-tui server up)" in status.out
    outputs = tmp_path / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    made = {"main": {"address": "10.20.0.3", "port": 5432, "instance": "pilot-acme-main-1a2b"}}
    (outputs / "server.json").write_text(
        json.dumps({"home": "gcp", "outputs": {"databases": made}})
    )
    status = cli("db", "status", "main")
    assert status.code == 0, status
    assert "on Cloud SQL at 10.20.0.3" in status.out
    assert "Cloud SQL instance pilot-acme-main-1a2b" in status.out
    assert "by Cloud SQL each day, kept 14 backups" in status.out
    listed = cli("db", "list", "--json")
    assert listed.code == 0, listed
    (row,) = json.loads(listed.out)
    assert row["on"] == "cloud-sql" and row["state"] == "on Cloud SQL at 10.20.0.3"
    # the apps' URL: the private address, TLS required
    from pilot_tui.data import passwords

    passwords.keep(tmp_path / ".pilot", "main", "s3cret")
    config = _config()
    (db,) = config.managed_databases()
    url = managed.linked_url({"databases": made}, tmp_path / ".pilot", db)
    assert url == "postgres://pilot:s3cret@10.20.0.3:5432/postgres?sslmode=require"


def test_the_destroy_says_what_it_keeps_of_a_cloud_sql_database(tmp_path, capsys):
    from pilot_tui.cli.teardown_cmd import FinalBackups, _say_final_backups

    doomed = Thing("Terraform resource", 'google_sql_database_instance.database["main"]', "state")
    teardown = Teardown(_config(), tmp_path, Scan("acme"))
    _say_final_backups(teardown, Inventory([doomed]), FinalBackups(managed=("main",)))
    assert "Each Cloud SQL database gets a final export to the state bucket first" in (
        capsys.readouterr().out
    )
    teardown.final_backup = False
    _say_final_backups(teardown, Inventory([doomed]), FinalBackups())
    assert "No final export to the state bucket of the Cloud SQL databases" in (
        capsys.readouterr().out
    )


def test_an_instance_terraform_lost_is_found_by_its_labels_and_removed(tmp_path):
    """The scan lists the project's instances by label: one Terraform holds is listed once,
    as Terraform's; one it lost is listed as found by its labels, is at stake, and the
    destroy lifts its protection and deletes it (a refused delete puts protection back)."""
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("old", "pilot-acme-old-77aa"))
    scan = Scan("acme", cloud_sql=_databases(api))
    found, problems = scan.run()
    assert problems == []
    held = {'google_sql_database_instance.database["main"]': "pilot-acme-main-1a2b"}
    inv = inventory(found, list(held), held, keep_state=False)
    (lost,) = [t for t in inv.remove if t.kind == "Cloud SQL instance"]
    assert lost.name == "pilot-acme-old-77aa" and "not in Terraform state" in lost.found
    assert "pilot-database=old" in lost.found
    assert inv.managed_databases("acme") == ["main", "old"]
    config = _config()
    assert databases_at_stake(inv, config, server_goes=True) == ["main", "old"]
    teardown = Teardown(config, tmp_path, scan)
    api.refuse = None
    real = api.__call__
    refused = {"on": True}

    def refuse_delete(request: ApiRequest) -> dict:
        if request.method == "DELETE" and refused["on"]:
            raise ApiError(403, "not allowed to delete", request)
        return real(request)

    scan.cloud_sql.transport = refuse_delete
    said: list[str] = []
    teardown.remove_untracked([lost], said.append)
    assert "not allowed to delete" in teardown.failures[0]
    assert api.protected("pilot-acme-old-77aa")  # put back after the refusal
    refused["on"] = False
    teardown.failures.clear()
    teardown.remove_untracked([lost], said.append)
    assert teardown.failures == [] and "pilot-acme-old-77aa" not in api.instances
    assert said[-1] == "deleted Cloud SQL instance pilot-acme-old-77aa"
    assert "pilot-acme-main-1a2b" in api.instances  # Terraform's to remove, not this step's


def test_terraform_state_names_an_instance_as_the_scan_does():
    from pilot_tui.provision.server import _cloud_id

    values = {"id": "projects/acme-prod/instances/x", "name": "pilot-acme-main-1a2b"}
    assert _cloud_id("google_sql_database_instance", values) == "pilot-acme-main-1a2b"


def test_two_instances_of_one_database_are_both_backed_up_and_released():
    """A state lost, then `up` again: the old instance and the new one carry one name.
    Both get a final export and both are unprotected: neither is left protected or
    unsaved behind Terraform's destroy."""
    api = FakeCloudSql(("main", "pilot-acme-main-1a2b"), ("main", "pilot-acme-main-77aa"))
    databases = _databases(api)
    kept = databases.final_backups(["main"], print, lambda: False)
    assert sorted(instance for instance, _ in api.exports) == [
        "pilot-acme-main-1a2b",
        "pilot-acme-main-77aa",
    ]
    assert len(kept) == 2 and len({uri for _, uri in api.exports}) == 2
    assert databases.lift_protection(["main"], print) == [
        "pilot-acme-main-1a2b",
        "pilot-acme-main-77aa",
    ]
    assert not any(api.protected(i) for i in api.instances)


def test_a_project_whose_cloud_sql_api_is_off_has_no_instance():
    api = FakeCloudSql()

    def off(request: ApiRequest) -> dict:
        raise ApiError(
            403,
            "Cloud SQL Admin API has not been used in project acme-prod before or it is disabled.",
            request,
        )

    assert cloud_sql.CloudSqlDatabases(off, "acme-prod", "acme", None).instances() == []
    api.refuse = 403  # any other refusal is said
    with pytest.raises(cloud_sql.CloudSqlError, match="does not have permission"):
        _databases(api).instances()
