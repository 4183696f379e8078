"""Deploys as the workflow `pilot-tui ci github` writes runs them: from a fresh checkout
(no .pilot/), with no access key, only the run's OIDC token exchanged for the role's
credentials and the repository's secrets the workflow passes. Against the local AWS API
(moto, through AWS_ENDPOINT_URL; it runs the zip Lambda on the tests' private dockerd).
GitHub's token service is a local stand-in (tests/support/github_tokens.py), and the
repository's secrets are a dict: nothing of GitHub runs here."""

from __future__ import annotations

import json
import shlex
import shutil

import boto3
import pytest
import yaml

from pilot_tui.apps import add_app
from pilot_tui.config.document import ProjectFile
from tests.support.deploy_fixtures import FN, LAMBDA_FIXTURES

WEB = {"name": "web", "path": "web", "build": {"kind": "dockerfile"}, "target": {"kind": "server"}}
DOCS = {
    "name": "docs",
    "path": "docs",
    "build": {"kind": "static", "output": "."},
    "target": {"kind": "s3-cloudfront"},
}


@pytest.fixture
def lambda_env(lambda_runtime, monkeypatch):
    """moto's Lambda runtime settings, in the environment before moto starts."""
    for name, value in lambda_runtime.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def admin(tmp_path, cli, lambda_env, moto, monkeypatch):
    """The admin's project (an AWS home; the zip Lambda "fn" and the Docker-host app "web")
    in ``tmp_path``, with their own credentials (moto's, which runs the function)."""
    assert cli("init", "--name", "acme").code == 0
    text = ProjectFile.load(tmp_path / "pilot.toml").with_value("server.home", "aws")
    shutil.copytree(LAMBDA_FIXTURES / "hello_fn", tmp_path / "fn")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    # not watched: the runs' releases are the subject here (test_lambda_watch.py watches)
    fn = {**FN, "target": {**FN["target"], "watch": 0}}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<h1>docs</h1>\n")
    (tmp_path / "pilot.toml").write_text(add_app(add_app(add_app(text, fn), WEB), DOCS))
    return tmp_path


def _run(
    workflow: str,
    checkout,
    repository_secrets: dict[str, str],
    tokens,
    cli,
    monkeypatch,
    job_name: str = "deploy",
):
    """The workflow's job ``job_name`` in ``checkout``: its env (each `${{ secrets.X }}` from
    ``repository_secrets``, as GitHub fills it; an unset one is empty, as on GitHub), the
    run's token service, no key; its last step run. The Result."""
    job = yaml.safe_load(workflow)["jobs"][job_name]
    step = job["steps"][-1]
    asked = len(tokens.asked)
    with monkeypatch.context() as m:
        m.delenv("AWS_ACCESS_KEY_ID")
        m.delenv("AWS_SECRET_ACCESS_KEY")
        m.delenv("API_TOKEN", raising=False)
        for name, value in tokens.env(job["env"]["PILOT_AWS_ROLE_ARN"]).items():
            m.setenv(name, value)
        for name, value in {**job["env"], **step.get("env", {})}.items():
            if value.startswith("${{ secrets."):
                secret = value.removeprefix("${{ secrets.").removesuffix(" }}")
                m.setenv(name, repository_secrets.get(secret, ""))  # GitHub's "" if unset
            else:
                m.setenv(name, value)
        m.chdir(checkout)
        command = shlex.split(step["run"])
        assert command[0] == "pilot-tui"
        ran = cli(*command[1:])
    assert ran.code != 0 or len(tokens.asked) > asked  # it deployed with the run's token
    return ran


def _checkout(admin, name: str, change: str):
    """A fresh clone of the repository: what git has, never .pilot/."""
    checkout = admin / name
    checkout.mkdir()
    shutil.copy(admin / "pilot.toml", checkout / "pilot.toml")
    for app in ("fn", "web", "docs"):
        shutil.copytree(admin / app, checkout / app)
    (checkout / "fn" / "change.txt").write_text(change)
    (checkout / "docs" / "change.txt").write_text(change)
    return checkout


def test_pushes_deploy_what_ci_can_from_fresh_checkouts_into_the_shared_history(
    admin, cli, moto, github_tokens, monkeypatch
):
    # A local history would be lost with each runner: refused, nothing made or written.
    refused = cli("ci", "github", "--repo", "acme/shop")
    assert refused.code == 2 and 'state.backend is "local"' in refused.err, refused.err
    assert "pilot-tui config set state.backend s3" in refused.err
    assert not (admin / ".github").exists()
    iam = boto3.client("iam", region_name="us-east-1")
    assert [r for r in iam.list_roles()["Roles"] if "github" in r["RoleName"]] == []

    monkeypatch.setenv("API_TOKEN", "the-admins-token")
    first = cli("deploy", "fn", "docs")  # v1s, in this machine's history only
    assert first.code == 0, first.err
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("state.backend", "s3"))
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "pushes to that branch deploy fn, docs, with no stored key" in made.err
    assert "not web: it runs on the Docker host, which a CI run cannot reach" in made.err
    assert "gh secret set API_TOKEN --repo acme/shop" in made.err
    for app in ("fn", "docs"):  # the runs go on from v1
        assert f"shared this machine's release history of {app}" in made.err
    workflow = (admin / ".github" / "workflows" / "pilot.yml").read_text()
    job = yaml.safe_load(workflow)["jobs"]["deploy"]
    assert job["steps"][-1]["run"] == "pilot-tui deploy fn docs"
    # the app's secret reaches the deploy step only, not checkout or the install
    assert job["steps"][-1]["env"] == {"API_TOKEN": "${{ secrets.API_TOKEN }}"}
    assert "API_TOKEN" not in job["env"]
    assert "the-admins-token" not in workflow

    # Two pushes, each a fresh checkout: releases v2 and v3 in the one shared history.
    for run, value in ((1, "ci-token-1"), (2, "ci-token-2")):
        checkout = _checkout(admin, f"run{run}", f"push {run}\n")
        ran = _run(workflow, checkout, {"API_TOKEN": value}, github_tokens, cli, monkeypatch)
        assert ran.code == 0, ran.err
        assert ran.out.startswith(f"fn\tv{run + 1}\t")
        assert f"\ndocs\tv{run + 1}\t" in ran.out
    lam = boto3.client("lambda", region_name="us-east-1")
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"
    monkeypatch.chdir(admin)
    listed = cli("releases", "fn", "--json")
    assert listed.code == 0, listed.err
    records = json.loads(listed.out)  # oldest first
    assert [(r["id"], r["status"]) for r in records] == [
        ("v1", "superseded"),
        ("v2", "superseded"),
        ("v3", "live"),
    ]
    assert "acme/shop" in records[2]["by"] and "acme/shop" not in (records[0]["by"] or "")
    assert "ci-token" not in listed.out

    # The hourly scheduled run removes the expired Lambda previews (not the laptop): a
    # preview made here, then past its TTL (its alias's expiry moved back: time passing).
    monkeypatch.chdir(admin)
    made_preview = cli("deploy", "fn", "--preview", "feature")
    assert made_preview.code == 0, made_preview.err
    # listed, though web's previews cannot be (no server): that is said, not a failure
    listed = cli("preview", "list", "--json")
    assert listed.code == 0, listed.err
    assert "the previews of web are not listed: no Pilot Server is recorded" in listed.err
    assert [p["full_name"] for p in json.loads(listed.out)] == ["fn--feature"]
    jobs = yaml.safe_load(workflow)["jobs"]
    assert jobs["prune"]["if"] == "github.event_name == 'schedule'"
    assert (
        jobs["prune"]["steps"][-1]["run"] == "pilot-tui preview prune fn"
    )  # not docs: no previews
    assert yaml.safe_load(workflow)[True]["schedule"] == [{"cron": "17 * * * *"}]
    alias = lam.get_alias(FunctionName="pilot-acme-fn", Name="preview--feature")
    labels = json.loads(alias["Description"])
    lam.update_alias(
        FunctionName="pilot-acme-fn",
        Name="preview--feature",
        Description=json.dumps({**labels, "pilot.preview-expires": "1000"}),
    )
    shared = boto3.client("s3").list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/")
    assert "pilot/releases/fn--feature.json" in [o["Key"] for o in shared["Contents"]]
    checkout = _checkout(admin, "hourly", "")
    pruned = _run(workflow, checkout, {}, github_tokens, cli, monkeypatch, job_name="prune")
    assert pruned.code == 0, pruned.err
    assert "deleted alias preview--feature of pilot-acme-fn" in pruned.err
    aliases = lam.list_aliases(FunctionName="pilot-acme-fn")["Aliases"]
    assert [a["Name"] for a in aliases] == ["live"]
    kept = boto3.client("s3").list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/releases/")
    assert sorted(o["Key"] for o in kept["Contents"]) == [
        "pilot/releases/docs.json",  # the preview's history is forgotten with it
        "pilot/releases/fn.json",
    ]

    # A run without the repository secret (GitHub passes "") fails, naming it; the live
    # release stays.
    checkout = _checkout(admin, "run3", "push 3\n")
    missing = _run(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    assert missing.code != 0
    assert "needs secret(s) API_TOKEN: empty or unset in this run" in missing.err
    assert "gh secret set" in missing.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"

    # An app CI cannot deploy, or a checkout whose history would be lost: refused, by name.
    hand_written = workflow.replace("pilot-tui deploy fn docs", "pilot-tui deploy fn web")
    checkout = _checkout(admin, "run4", "push 4\n")
    web = _run(hand_written, checkout, {"API_TOKEN": "x"}, github_tokens, cli, monkeypatch)
    assert web.code == 2 and "app 'web' cannot be deployed from CI" in web.err, web.err
    checkout = _checkout(admin, "run5", "push 5\n")
    local = ProjectFile.load(checkout / "pilot.toml")
    local.save(local.with_value("state.backend", "local"))
    lost = _run(workflow, checkout, {"API_TOKEN": "x"}, github_tokens, cli, monkeypatch)
    assert lost.code == 2 and 'state.backend is "local"' in lost.err, lost.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"

    # The state bucket unreachable (gone): the run deploys nothing it could not record.
    s3 = boto3.resource("s3", region_name="us-east-1")
    bucket = s3.Bucket("pilot-state-acme")
    bucket.object_versions.delete()
    bucket.delete()
    checkout = _checkout(admin, "run6", "push 6\n")
    unrecorded = _run(workflow, checkout, {"API_TOKEN": "x"}, github_tokens, cli, monkeypatch)
    assert unrecorded.code != 0 and "a CI run deploys nothing it cannot record" in unrecorded.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"


def test_ci_github_refuses_secret_names_a_job_has_already(admin, cli):
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("state.backend", "s3"))
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("apps[0].secrets", ["GITHUB_TOKEN", "OK"]))
    refused = cli("ci", "github", "--repo", "acme/shop")
    assert refused.code == 2 and "secret(s) GITHUB_TOKEN cannot come from" in refused.err
    assert not (admin / ".github").exists()
