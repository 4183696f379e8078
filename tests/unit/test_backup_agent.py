"""The backup agent's parts that need no engine: schedules (cron's rules, checked in
pilot.toml with their place), when runs are due (missed runs taken once after downtime),
SigV4 signatures equal to botocore's, the agent's modules importing with the standard
library alone, and what the agent is made of for each kind of project, as data."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pilot_tui.config.validate import check_text
from pilot_tui.data import schedule, scheduling
from pilot_tui.data.agent import run, s3
from pilot_tui.data.backups import DumpPlan, ScheduledRun, record_scheduled_run
from pilot_tui.data.stores import LocalStore, StoreError
from pilot_tui.deploy.host import DockerTarget

AT = datetime(2026, 12, 3, 21, 40, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        ("daily", "2026-12-04T03:00", "2026-12-05T03:00"),
        ("hourly", "2026-12-03T22:00", "2026-12-03T23:00"),
        ("*/15 * * * *", "2026-12-03T21:45", "2026-12-03T22:00"),
        ("5/20 1 * * *", "2026-12-04T01:05", "2026-12-04T01:25"),
        ("0 9 * * mon-fri", "2026-12-04T09:00", "2026-12-07T09:00"),  # Fri, then Mon
        ("0 0 * * 7", "2026-12-06T00:00", "2026-12-13T00:00"),  # 7 is Sunday, as 0
        # Both day fields restricted: either admits (the 1st, 15th, or a Sunday).
        ("0 0 1,15 * sun", "2026-12-06T00:00", "2026-12-13T00:00"),
        ("30 2 29 feb *", "2028-02-29T02:30", "2032-02-29T02:30"),
    ],
)
def test_schedules_run_when_cron_would(text, first, second):
    parsed = schedule.parse(text)
    assert parsed is not None
    one = parsed.next_after(AT)
    assert one.isoformat(timespec="minutes") == first + "+00:00"
    assert parsed.next_after(one).isoformat(timespec="minutes") == second + "+00:00"


def test_off_is_no_schedule():
    assert schedule.parse("off") is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("0 25 * * *", "'25' is not allowed in the hour field (0-23)"),
        ("* * *", "five fields"),
        ("0 0 31 2 *", "never runs"),
        ("5-1 * * * *", "runs backwards"),
        ("weekly", "is not daily, hourly, off or a cron expression"),
    ],
)
def test_a_bad_schedule_is_named_at_its_place_in_pilot_toml(text, said):
    toml = (
        '[project]\nname = "acme"\n\n[[apps]]\nname = "api"\n\n'
        f'[[databases]]\nname = "main"\napps = ["api"]\nbackup = {{ schedule = "{text}" }}\n'
    )
    problems = check_text(toml).report.problems
    assert [(p.line, said in p.message) for p in problems] == [(10, True)], problems


def _job(name: str, text: str) -> run.Job:
    plan = DumpPlan(name, "postgres", 15, "pg_dump -Fc", "dump", ["true"], {})
    parsed = schedule.parse(text)
    assert parsed is not None
    return run.Job(plan, parsed, 3)


def _ran(at: str) -> ScheduledRun:
    return ScheduledRun(at, True, "backup 1", "daily", at)


def test_runs_are_due_after_their_last_and_a_run_missed_while_down_is_taken_once(tmp_path):
    hourly, daily = _job("main", "hourly"), _job("cache", "daily")
    start = AT.timestamp()
    last = {"main": start, "cache": start}
    assert run.due([hourly, daily], last, start + 60) == []
    at_ten = datetime(2026, 12, 3, 22, 0, tzinfo=UTC).timestamp()
    assert run.next_wake([hourly, daily], last) == at_ten
    assert run.due([hourly, daily], last, at_ten) == [hourly]

    # The host was down over last night's 03:00: the agent's first look takes it late.
    store = LocalStore(tmp_path)
    record_scheduled_run(store, "cache", _ran("2026-12-02T03:00:00+00:00"))
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).timestamp()
    last = {"cache": run.last_run(store, "cache", now)}
    assert run.due([daily], last, now) == [daily]
    # Too long ago (or never): from now on, not late.
    record_scheduled_run(store, "cache", _ran("2026-10-01T03:00:00+00:00"))
    assert run.last_run(store, "cache", now) == now
    assert run.last_run(store, "none", now) == now


def test_signatures_equal_botocores(monkeypatch):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = s3.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok/en=")
    body = b"part of a dump"
    payload = s3.hashlib.sha256(body).hexdigest()
    query = {"partNumber": "2", "uploadId": "a b/c+d"}
    host, path = "bucket.s3.eu-west-1.amazonaws.com", "/backups/main/20261203T101500Z.dump"
    ours = s3.sign(
        "PUT",
        host,
        path,
        query,
        {"x-amz-server-side-encryption": "AES256"},
        payload,
        creds,
        "eu-west-1",
        AT,
    )
    url = f"https://{host}{path}?partNumber=2&uploadId=a%20b%2Fc%2Bd"
    request = AWSRequest(
        "PUT",
        url,
        headers={"x-amz-server-side-encryption": "AES256", "X-Amz-Content-SHA256": payload},
        data=body,
    )
    signer = S3SigV4Auth(
        Credentials(creds.access_key, creds.secret_key, creds.token), "s3", "eu-west-1"
    )
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: AT.replace(tzinfo=None))
    signer.add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/2017-03-31/tags/arn:aws:lambda:eu-west-1:123456789012:function:pilot-a-w--b", {}),
        ("DELETE", "/2015-03-31/functions/pilot-acme-web--pr-7", {}),
        ("GET", "/2015-03-31/functions/pilot-acme-web--pr-7/configuration", {"Qualifier": "a b"}),
    ],
)
def test_lambdas_signatures_equal_botocores(monkeypatch, method, path, query):
    """Every service but S3 signs its path encoded twice: a Lambda ListTags names an ARN,
    whose colons are encoded in the request and again in what is signed."""
    import urllib.parse

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from pilot_tui.data.agent import aws

    creds = aws.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok/en=")
    host = "lambda.eu-west-1.amazonaws.com"
    ours = aws.sign(
        method, host, path, query, {}, aws.EMPTY_SHA256, creds, "eu-west-1", AT, "lambda"
    )
    url = f"https://{host}{urllib.parse.quote(path, safe='/~')}"
    if query:
        url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    request = AWSRequest(method, url, headers={"X-Amz-Content-SHA256": aws.EMPTY_SHA256})
    signer = SigV4Auth(
        Credentials(creds.access_key, creds.secret_key, creds.token), "lambda", "eu-west-1"
    )
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: AT.replace(tzinfo=None))
    signer.add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]


def test_the_agents_modules_import_with_the_standard_library_alone(tmp_path):
    """What the image carries is all it has: copied alone, with site-packages off."""
    for module in scheduling.AGENT_MODULES:
        target = tmp_path / "pilot_tui" / module
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((scheduling.PACKAGE / module).read_bytes())
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import pilot_tui.data.agent.run"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    usage = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            code + "; sys.exit(pilot_tui.data.agent.run.main(['-x']))",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PILOT_AGENT_SETTINGS": str(tmp_path / "none.json")},
    )
    assert usage.returncode == 2 and "cannot read the agent's settings" in usage.stdout
    # Nothing more either: the list is what the agent's entry point loads.
    listing = (
        code + "; import pilot_tui.data.agent.__main__; "
        "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() "
        "if n.startswith('pilot_tui'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-S", "-c", listing], capture_output=True, text=True, check=True
    )
    root = str(tmp_path / "pilot_tui") + "/"
    assert sorted(f.removeprefix(root) for f in loaded.stdout.split()) == sorted(
        scheduling.AGENT_MODULES
    )


BASE = '[project]\nname = "acme"\n\n[[apps]]\nname = "api"\n\n'
DB = '[[databases]]\nname = "main"\napps = ["api"]\n'


def _config(extra: str = "", db: str = DB):
    config = check_text(BASE + extra + db).config
    assert config is not None
    return config


def test_what_the_agent_is_made_of_for_each_kind_of_project(tmp_path):
    sock = tmp_path / "docker.sock"
    sock.write_text("")
    local = DockerTarget("unix", f"unix://{sock}", socket=sock)
    ssh = DockerTarget("ssh", "ssh://deploy@host", host="host", remote_socket="/run/docker.sock")

    plan = scheduling.agent_plan(_config(), local, tmp_path / ".pilot")
    assert plan is not None and plan.name == "pilot-backups-acme"
    assert plan.binds == {
        str(sock): "/var/run/docker.sock",
        str(tmp_path / ".pilot/backups"): "/backups",
    }
    assert plan.settings["store"] == {"kind": "local", "root": "/backups"}
    backups_dir = tmp_path / ".pilot" / "backups"  # ours before the engine would make it
    assert backups_dir.is_dir() and backups_dir.stat().st_mode & 0o777 == 0o700
    assert plan.environment == {} and plan.network_mode == "bridge"
    [job] = plan.settings["databases"]  # type: ignore[misc]
    assert (job["schedule"], job["keep"]) == ("daily", 14)
    assert "PILOT_PASSWORD" not in str(job) and "POSTGRES_PASSWORD" not in str(job)

    with pytest.raises(scheduling.AgentUnavailable, match="cannot reach"):
        scheduling.agent_plan(_config(), ssh, tmp_path / ".pilot")

    aws = '[server]\nhome = "aws"\n\n[state]\nbackend = "s3"\n\n'
    on_aws = scheduling.agent_plan(_config(aws), ssh, tmp_path / ".pilot")
    assert on_aws is not None
    assert on_aws.binds == {"/run/docker.sock": "/var/run/docker.sock"}
    assert on_aws.settings["store"]["kind"] == "s3"  # type: ignore[index]
    assert "endpoint" not in on_aws.settings["store"]  # type: ignore[operator]
    assert on_aws.environment == {}  # the instance role: no key leaves this machine
    # the instance role's credentials from IMDS, which the apps' containers may not reach
    # (one hop, the metadata guard): the agent asks from the host's network
    assert on_aws.network_mode == "host"

    sandbox = '[server]\nhome = "sandbox"\n\n[state]\nbackend = "s3"\n\n'
    in_sandbox = scheduling.agent_plan(_config(sandbox), local, tmp_path, "http://127.0.0.1:9")
    assert in_sandbox is not None and in_sandbox.network_mode == "host"
    assert in_sandbox.settings["store"]["endpoint"] == "http://127.0.0.1:9"  # type: ignore[index]

    host_s3 = '[server]\nhome = "host"\nhost = "ssh://deploy@host"\n\n[state]\nbackend = "s3"\n\n'
    with pytest.raises(scheduling.AgentUnavailable, match="instance role"):
        scheduling.agent_plan(_config(host_s3), ssh, tmp_path)
    gcs = '[server]\nhome = "gcp"\n\n[gcp]\nproject = "acme-1"\n\n[state]\nbackend = "gcs"\n\n'
    on_gcp = scheduling.agent_plan(_config(gcs), ssh, tmp_path)
    assert on_gcp is not None
    assert on_gcp.settings["store"] == {"kind": "gcs", "bucket": "pilot-state-acme"}
    assert on_gcp.environment == {}  # the server's service account: no key leaves here
    assert on_gcp.network_mode == "host"  # the metadata service, as on AWS
    gcs_sandbox = gcs.replace('home = "gcp"', 'home = "sandbox"')
    emulated = scheduling.agent_plan(_config(gcs_sandbox), local, tmp_path, "http://127.0.0.1:8")
    assert emulated is not None and emulated.network_mode == "host"
    assert emulated.settings["store"]["endpoint"] == "http://127.0.0.1:8"  # type: ignore[index]
    assert emulated.environment == {}
    host_gcs = gcs.replace('home = "gcp"', 'home = "host"\nhost = "ssh://deploy@host"')
    with pytest.raises(scheduling.AgentUnavailable, match="service account"):
        scheduling.agent_plan(_config(host_gcs), ssh, tmp_path)

    off = DB + 'backup = { schedule = "off" }\n'
    assert scheduling.agent_plan(_config(db=off), local, tmp_path) is None
    # A changed schedule is a changed agent (a deploy replaces it); the same one is not.
    hourly = scheduling.agent_plan(
        _config(db=DB + 'backup = { schedule = "hourly" }\n'), local, tmp_path / ".pilot"
    )
    assert hourly is not None and hourly.settings_hash != plan.settings_hash
    assert (
        scheduling.agent_plan(_config(), local, tmp_path / ".pilot").settings_hash
        == plan.settings_hash
    )  # type: ignore[union-attr]
    assert Path(scheduling.PACKAGE / "data" / "agent" / "run.py").is_file()


def test_the_schedule_column_says_how_the_last_run_went_or_why_none_comes():
    from pilot_tui.data.overview import DatabaseRow

    config = _config(db=DB + 'backup = { schedule = "hourly" }\n')
    row = DatabaseRow(config.databases[0], "running", "c", "v", (), agent_running=True)
    assert (row.schedule_text(), row.schedule_problem()) == ("hourly · no run yet", None)
    ran = ScheduledRun("2026-12-03T22:00:00+00:00", True, "backup X", "hourly", "…")
    assert replace(row, last_scheduled=ran).schedule_text() == (
        "hourly · ran 2026-12-03T22:00:00+00:00"
    )
    failed = ScheduledRun("2026-12-03T23:00:00+00:00", False, "failed: disk full", "hourly", "…")
    broken = replace(row, last_scheduled=failed)
    assert broken.schedule_problem() == "FAILED 2026-12-03T23:00:00+00:00: disk full"
    down = replace(row, agent_running=False)
    assert down.schedule_problem() == "agent not running (pilot-tui db schedule starts it)"
    off = _config(db=DB + 'backup = { schedule = "off" }\n').databases[0]
    unscheduled = replace(row, settings=off, agent_running=False)
    assert (unscheduled.schedule_text(), unscheduled.schedule_problem()) == ("off", None)


def test_the_server_templates_get_the_state_bucket_only_with_a_bucket_of_their_cloud(tmp_path):
    """terraform/aws grants the instance role backups/ of an S3 state bucket, terraform/gcp
    the service account backups/ of a GCS one; no bucket, no grant."""
    from pilot_tui.provision.tf.variables import variables

    def bucket_for(extra: str, home: str) -> object:
        return variables(_config(extra), home, tmp_path, "k", ["127.0.0.1/32"]).get("state_bucket")

    gcp = '[server]\nhome = "gcp"\n\n[gcp]\nproject = "acme-1"\n\n'
    assert bucket_for(gcp + '[state]\nbackend = "gcs"\n\n', "gcp") == "pilot-state-acme"
    assert bucket_for(gcp, "gcp") is None
    aws = '[server]\nhome = "aws"\n\n'
    assert bucket_for(aws + '[state]\nbackend = "s3"\n\n', "aws") == "pilot-state-acme"
    assert bucket_for(aws, "aws") is None


def test_a_gcs_chunk_gcs_kept_only_part_of_is_sent_again_from_where_it_stopped():
    """The resumable upload's protocol as data (no GCS here keeps less than it is sent: the
    emulator always keeps all): a 308 whose Range ends inside the chunk makes the client
    send the rest again, from there; one that keeps nothing new is an error."""
    from pilot_tui.data.agent.gcs import _persisted, _Upload

    class Store:
        def __init__(self, kept: list[int]) -> None:
            self.kept, self.sent = kept, []

        def where(self, key: str = "") -> str:
            return f"gs://b/backups/{key}"

        def _call(self, method, target, body, headers, ok, what):
            self.sent.append((headers["Content-Range"], len(body)))
            kept = self.kept.pop(0)
            if kept < 0:
                return 200, b"", {}
            return 308, b"", {"range": f"bytes=0-{kept - 1}"} if kept else {}

    assert _persisted("bytes=0-262143") == 262144 and _persisted(None) == 0
    part = 1024 * 1024
    store = Store([part // 2, part, -1])  # half kept, then the rest, then the end
    upload = _Upload(store, "main/1.dump", "https://session")  # type: ignore[arg-type]
    upload._upload(1, b"x" * part)
    upload.buffer += b"tail"
    upload.finish()
    assert store.sent == [
        (f"bytes 0-{part - 1}/*", part),
        (f"bytes {part // 2}-{part - 1}/*", part // 2),
        (f"bytes {part}-{part + 3}/{part + 4}", 4),
    ]
    stuck = _Upload(Store([0, 0]), "main/2.dump", "https://session")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="kept nothing"):
        stuck._upload(1, b"x" * part)


@pytest.mark.parametrize(
    ("service", "method", "path", "target", "body"),
    [
        (
            "lambda",
            "GET",
            "/2017-03-31/tags/arn:aws:lambda:eu-west-1:1:function:pilot-a-w--b",
            "",
            b"",
        ),
        ("lambda", "DELETE", "/2015-03-31/functions/pilot-acme-web--pr-7", "", b""),
        (
            "tagging",
            "POST",
            "/",
            "ResourceGroupsTaggingAPI_20170126.GetResources",
            b'{"ResourceTypeFilters": ["lambda:function"]}',
        ),
    ],
)
def test_what_the_agent_sends_is_signed_as_botocore_signs_it(
    monkeypatch, service, method, path, target, body
):
    """The request AwsApi.call puts on the wire (caught by a local HTTP server: the path
    as sent, every header, the body) signed again by botocore at the same instant: the same
    Authorization. moto takes any signature, so this is where the agent's is checked."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from pilot_tui.data.agent.aws import AwsApi
    from tests.support.local_http import QuietHandler, serving

    caught: dict[str, object] = {}

    class Catch(QuietHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            caught.update(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length),
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_DELETE = _any

    keys = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG"}
    keys["AWS_SESSION_TOKEN"] = "tok/en="
    with serving(Catch) as url:
        api = AwsApi("eu-west-1", keys, url)
        if target:
            api.json_call(service, target, json.loads(body))
        else:
            api.call(service, method, path)
    headers = {k.lower(): v for k, v in caught["headers"].items()}  # type: ignore[union-attr]
    sent_body = caught["body"]
    assert caught["method"] == method
    request = AWSRequest(
        method,
        url + str(caught["path"]),
        headers={
            k: v
            for k, v in headers.items()
            if k not in ("authorization", "host", "accept-encoding", "content-length")
        },
        data=sent_body,
    )
    signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: signed_at)
    SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tok/en="), service, "eu-west-1"
    ).add_auth(request)
    assert headers["authorization"] == request.headers["Authorization"]
