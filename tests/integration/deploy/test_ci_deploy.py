"""Deploys as the workflow `pilot-tui ci github` writes runs them: from a fresh checkout
(no .pilot/), with no access key, only the run's OIDC token exchanged for the role's
credentials and the repository's secrets the workflow passes. Against the local AWS API
(moto, through AWS_ENDPOINT_URL; it runs the zip Lambda on the tests' private dockerd).
GitHub's token service is a local stand-in (tests/support/github_tokens.py), and the
repository's secrets are a dict: nothing of GitHub runs here."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest
import yaml

from pilot_tui.apps import add_app
from pilot_tui.config.document import ProjectFile
from tests.support.ci_runs import run_job
from tests.support.deploy_fixtures import FN, HELLO, LAMBDA_FIXTURES, image_lambda_stand_ins

# No previews of web from pull requests here (previews.max = 0): those go through the
# server's worker (tests/integration/deploy/test_ci_server_deploy.py).
WEB = {
    "name": "web",
    "path": "web",
    "build": {"kind": "dockerfile"},
    "target": {"kind": "server"},
    "previews": {"max": 0},
}
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
    assert "pushes to that branch deploy fn, web, docs, with no stored key" in made.err
    # web, of the Docker host, through the worker (test_ci_server_deploy.py runs it)
    assert "web runs on the Pilot Server, which a run cannot reach" in made.err
    assert "`pilot-tui server worker`, left running where this .pilot/ is" in made.err
    assert "gh secret set API_TOKEN --repo acme/shop" in made.err
    for app in ("fn", "docs"):  # the runs go on from v1
        assert f"shared this machine's release history of {app}" in made.err
    written = (admin / ".github" / "workflows" / "pilot.yml").read_text()
    job = yaml.safe_load(written)["jobs"]["deploy"]
    assert job["steps"][-1]["run"] == "pilot-tui deploy fn web docs"
    # These runs are about the managed apps (no worker runs here: web's releases through
    # one are test_ci_server_deploy.py's).
    workflow = written.replace("pilot-tui deploy fn web docs", "pilot-tui deploy fn docs")
    # the app's secret reaches the deploy step only, not checkout or the install
    assert job["steps"][-1]["env"] == {"API_TOKEN": "${{ secrets.API_TOKEN }}"}
    assert "API_TOKEN" not in job["env"]
    assert "the-admins-token" not in workflow

    # Two pushes, each a fresh checkout: releases v2 and v3 in the one shared history.
    for run, value in ((1, "ci-token-1"), (2, "ci-token-2")):
        checkout = _checkout(admin, f"run{run}", f"push {run}\n")
        ran = run_job(workflow, checkout, {"API_TOKEN": value}, github_tokens, cli, monkeypatch)
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

    # A rollback started by hand (the workflow's rollback job): docs, which has no
    # secrets; not fn, whose releases' secrets' versions stay on the machine that made
    # them (a run has none), as `ci github` said.
    assert yaml.safe_load(written)[True]["workflow_dispatch"]["inputs"]["app"]["options"] == [
        "web",
        "docs",
    ]
    assert "fn is rolled back from here only: a run has none of the secrets'" in made.err
    checkout = _checkout(admin, "rollback", "")
    back = run_job(
        written,
        checkout,
        {},
        github_tokens,
        cli,
        monkeypatch,
        "rollback",
        inputs={"app": "docs", "release": "v2"},
    )
    assert back.code == 0, back.err
    assert back.out.startswith("docs\tv4\trollback to v2\t"), back.out
    rolled = json.loads(cli("releases", "docs", "--json").out)
    assert [(r["id"], r["status"]) for r in rolled][-1] == ("v4", "live")
    assert "acme/shop" in rolled[-1]["by"]

    # The hourly scheduled run removes the expired Lambda previews (not the laptop): a
    # preview made here, then past its TTL (its function's expiry moved back: time passing).
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
    preview = lam.get_function(FunctionName="pilot-acme-fn--feature")["Configuration"]
    lam.tag_resource(Resource=preview["FunctionArn"], Tags={"pilot.preview-expires": "1000"})
    shared = boto3.client("s3").list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/")
    assert "pilot/releases/fn--feature.json" in [o["Key"] for o in shared["Contents"]]
    checkout = _checkout(admin, "hourly", "")
    pruned = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch, job_name="prune")
    assert pruned.code == 0, pruned.err
    assert "deleted function pilot-acme-fn--feature" in pruned.err
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["pilot-acme-fn"]
    kept = boto3.client("s3").list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/releases/")
    assert sorted(o["Key"] for o in kept["Contents"]) == [
        "pilot/releases/docs.json",  # the preview's history is forgotten with it
        "pilot/releases/fn.json",
    ]

    # A run without the repository secret (GitHub passes "") fails, naming it; the live
    # release stays.
    checkout = _checkout(admin, "run3", "push 3\n")
    missing = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch)
    assert missing.code != 0
    assert "needs secret API_TOKEN: empty or unset in this run" in missing.err
    assert "gh secret set" in missing.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"

    # The workflow as written, with no worker taking requests: web is said not deployed,
    # naming what to start, and the others are (review: one app of the server stopped them
    # all); a checkout whose history would be lost: refused, by name.
    checkout = _checkout(admin, "run4", "push 4\n")
    ran = run_job(written, checkout, {"API_TOKEN": "ci-token-2"}, github_tokens, cli, monkeypatch)
    assert ran.code == 1, ran.err
    assert "web: deploy failed: no worker takes this project's deploy requests" in ran.err
    assert "pilot-tui server worker" in ran.err
    assert ran.out.startswith("fn\tv4\t") and "\ndocs\tv" in ran.out, ran.out
    assert "\nweb\t" not in ran.out
    asked = boto3.client("s3").list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/deploys/")
    assert asked["KeyCount"] == 0  # nothing asked of the worker
    checkout = _checkout(admin, "run5", "push 5\n")
    local = ProjectFile.load(checkout / "pilot.toml")
    local.save(local.with_value("state.backend", "local"))
    lost = run_job(workflow, checkout, {"API_TOKEN": "x"}, github_tokens, cli, monkeypatch)
    assert lost.code == 2 and 'state.backend is "local"' in lost.err, lost.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"

    # The state bucket unreachable (gone): the run deploys nothing it could not record.
    s3 = boto3.resource("s3", region_name="us-east-1")
    bucket = s3.Bucket("pilot-state-acme")
    bucket.object_versions.delete()
    bucket.delete()
    checkout = _checkout(admin, "run6", "push 6\n")
    unrecorded = run_job(workflow, checkout, {"API_TOKEN": "x"}, github_tokens, cli, monkeypatch)
    assert unrecorded.code != 0 and "a CI run deploys nothing it cannot record" in unrecorded.err
    live = lam.get_function(FunctionName="pilot-acme-fn", Qualifier="live")["Configuration"]
    assert live["Environment"]["Variables"]["API_TOKEN"] == "ci-token-2"


IMG = {
    "name": "img",
    "path": "img",
    "build": {"kind": "dockerfile"},
    # not watched: moto cannot invoke image functions (test_lambda_watch.py watches)
    "target": {"kind": "lambda", "package": "image", "port": 9000, "watch": 0},
}


def _with_image_app(admin, docker_client, registry, monkeypatch) -> str:
    """The image Lambda "img" added to the admin's project, its history in S3, with the
    stand-ins an image Lambda needs here; the registry's host."""
    host = image_lambda_stand_ins(docker_client, registry, admin / "adapter", monkeypatch)
    shutil.copytree(HELLO, admin / "img")
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(ProjectFile(pf.path, add_app(pf.text, IMG)).with_value("state.backend", "s3"))
    return host


def test_a_push_builds_an_image_app_on_the_runners_own_engine(
    admin, cli, moto, github_tokens, registry, docker_client, monkeypatch
):
    """An image Lambda deployed by a push's run: its image built on the runner's own
    Docker engine (the tests' private one, named by DOCKER_HOST as on a runner), pushed
    with the ECR login the run's role gets, the function made from the pushed digest; no
    Pilot Server is known to the run (a fresh checkout has no .pilot/). (Its pull
    requests' previews: the test after this one.)

    Stand-ins, said so: ECR's registry is a real registry on 127.0.0.1 (PILOT_REGISTRY),
    the Lambda Web Adapter a local image; moto cannot invoke image functions, so what
    Lambda was given is checked."""
    host = _with_image_app(admin, docker_client, registry, monkeypatch)

    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "pushes to that branch deploy fn, web, docs, img, with no stored key" in made.err
    written = (admin / ".github" / "workflows" / "pilot.yml").read_text()
    assert "pilot-tui deploy fn web docs img" in written
    # about img: web's releases through the worker are test_ci_server_deploy.py's
    workflow = written.replace("pilot-tui deploy fn web docs img", "pilot-tui deploy fn docs img")
    jobs = yaml.safe_load(workflow)["jobs"]
    assert jobs["deploy"]["steps"][-1]["run"] == "pilot-tui deploy fn docs img"
    assert jobs["prune"]["steps"][-1]["run"] == "pilot-tui preview prune fn img"

    checkout = _checkout(admin, "run1", "push 1\n")
    shutil.copytree(admin / "img", checkout / "img")
    # a server's record in the checkout (committed by mistake) is never used: its address
    # answers nothing, and the run builds on the runner's engine all the same
    (checkout / ".pilot" / "outputs").mkdir(parents=True)
    record = {"outputs": {"docker_host": "ssh://ubuntu@192.0.2.1"}}
    (checkout / ".pilot" / "outputs" / "server.json").write_text(json.dumps(record))
    ran = run_job(workflow, checkout, {"API_TOKEN": "ci-token"}, github_tokens, cli, monkeypatch)
    assert ran.code == 0, ran.err
    assert "\nimg\tv1\t" in ran.out, ran.out
    lam = boto3.client("lambda", region_name="us-east-1")
    function = lam.get_function(FunctionName="pilot-acme-img", Qualifier="live")
    assert function["Configuration"]["PackageType"] == "Image"
    image = function["Code"]["ImageUri"]
    assert image.startswith(f"{host}/pilot-acme") and "@sha256:" in image
    # the pushed image was built here, on the runner's engine: the app's and its wrapper
    [wrapper] = [
        i
        for i in docker_client.images.list("pilot/acme-img")
        if any(t.endswith("-lambda") for t in i.tags)
    ]
    assert "AWS_LWA_PORT=9000" in wrapper.attrs["Config"]["Env"]
    monkeypatch.chdir(admin)
    [record] = json.loads(cli("releases", "img", "--json").out)
    assert (record["image"], record["status"]) == (image, "live")
    assert "acme/shop" in record["by"]


def test_pull_requests_get_previews_of_an_image_app_pushed_to_its_previews_own_repository(
    admin, cli, moto, github_tokens, registry, docker_client, aws_calls, monkeypatch
):
    """An image Lambda's pull requests get previews too: the run builds the image on the
    runner's engine and pushes it to the app's previews' repository, which `ci github`
    made (the pull requests' role may push there, never to the app's own repository, and
    make none), with the policy letting Lambda pull that Lambda itself would add. Every
    call the runs make is one the previews' policy permits; so are a push's and a pull's
    ECR actions on that repository (as data: the push reaches the local registry, not the
    API), and not on the app's repository.

    Stand-ins, said so: ECR's registry is a real registry on 127.0.0.1 (PILOT_REGISTRY;
    moto has ECR's API, not its registry), the Lambda Web Adapter a local image; moto
    cannot invoke image functions, so what Lambda was given is checked."""
    from pilot_tui.cloud.policy_aws import preview_policy
    from tests.support.iam_requests import ECR_PULL, ECR_PUSH, ecr_repository_arn
    from tests.unit.test_deployer_policy import allows

    host = _with_image_app(admin, docker_client, registry, monkeypatch)

    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    jobs = yaml.safe_load((admin / ".github" / "workflows" / "pilot.yml").read_text())["jobs"]
    assert [
        s["run"] for s in jobs["preview"]["steps"] if "pilot-tui deploy" in s.get("run", "")
    ] == [
        "pilot-tui deploy fn --preview pr-${{ github.event.number }}",
        "pilot-tui deploy img --preview pr-${{ github.event.number }}",
    ]
    assert jobs["prune"]["steps"][-1]["run"] == "pilot-tui preview prune fn img"
    iam = boto3.client("iam", region_name="us-east-1")
    inline = iam.get_role_policy(RoleName="pilot-acme-github-previews", PolicyName="pilot-deploy")
    policy = inline["PolicyDocument"]
    assert policy == preview_policy("acme", "123456789012", "us-east-1", ["fn", "img"], ["img"])
    # The previews' repository, made by `ci github`, with the statement Lambda itself adds
    # to let it pull (the pull requests' role may not set a repository's policy).
    from pilot_tui.deploy.registry import LAMBDA_PULLS

    assert "ECR repository pilot-acme-img/previews" in made.err
    ecr = boto3.client("ecr", region_name="us-east-1")
    [repo] = ecr.describe_repositories(repositoryNames=["pilot-acme-img/previews"])["repositories"]
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert {"Key": "pilot:project", "Value": "acme"} in tags
    pulls = json.loads(
        ecr.get_repository_policy(repositoryName="pilot-acme-img/previews")["policyText"]
    )
    assert pulls["Statement"] == [LAMBDA_PULLS]

    github_tokens.sub = "repo:acme/shop:pull_request"
    checkout = _checkout(admin, "pr7", "pull request\n")
    shutil.copytree(admin / "img", checkout / "img")
    aws_calls.clear()
    ran = run_job(
        workflow := (admin / ".github" / "workflows" / "pilot.yml").read_text(),
        checkout,
        {"PREVIEW_API_TOKEN": "pv"},
        github_tokens,
        cli,
        monkeypatch,
        "preview",
        7,
    )
    asked = aws_calls.requests()
    assert ran.code == 0, ran.err
    assert "img--pr-7\tv1\t" in ran.out, ran.out
    lam = boto3.client("lambda", region_name="us-east-1")
    preview = lam.get_function(FunctionName="pilot-acme-img--pr-7", Qualifier="live")
    image = preview["Code"]["ImageUri"]
    assert image.startswith(f"{host}/pilot-acme-img/previews@sha256:"), image
    assert preview["Tags"]["pilot.preview-of"] == "img"
    refused = [r for r in asked if not allows(policy, *r)]
    assert refused == []
    assert ("ecr:BatchGetImage", {}, ecr_repository_arn(image, "us-east-1")) in asked
    previews_repo = ecr_repository_arn(image, "us-east-1")
    apps_repo = "arn:aws:ecr:us-east-1:123456789012:repository/pilot-acme-img"
    for action in (*ECR_PUSH, *ECR_PULL):  # the push's, which reach the registry, not moto
        assert allows(policy, f"ecr:{action}", {}, previews_repo)
        assert not allows(policy, f"ecr:{action}", {}, apps_repo), action
    assert not allows(policy, "ecr:CreateRepository", {}, previews_repo)
    assert not allows(policy, "ecr:SetRepositoryPolicy", {}, previews_repo)

    # Closed: the preview goes; its tags are looked for in its repository (and in the
    # app's, where an earlier Pilot pushed them: refused to this role, said nothing of).
    aws_calls.clear()
    closed = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch, "preview-remove", 7)
    assert closed.code == 0, closed.err
    assert "deleted function pilot-acme-img--pr-7" in closed.err
    assert "warning" not in closed.err, closed.err
    removal = aws_calls.requests()
    assert ("ecr:ListImages", {}, previews_repo) in removal
    assert [r for r in removal if not allows(policy, *r) and r[2] != apps_repo] == []


def test_ci_github_refuses_secret_names_a_job_has_already(admin, cli):
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("state.backend", "s3"))
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("apps[0].secrets", ["GITHUB_TOKEN", "PREVIEW_KEY", "OK"]))
    refused = cli("ci", "github", "--repo", "acme/shop")
    assert refused.code == 2, refused.err
    assert "secrets GITHUB_TOKEN, PREVIEW_KEY cannot come from" in refused.err
    assert not (admin / ".github").exists()


def test_pull_requests_get_previews_by_a_role_that_may_touch_nothing_else(
    admin, cli, moto, github_tokens, aws_calls, monkeypatch
):
    """Each pull request of the repository gets its preview of fn, deployed on each push
    to it and removed when it is closed, by the previews' own role: every call those runs
    make is one the previews' policy permits (moto enforces no IAM: each recorded call
    goes through the policy evaluator), and nothing of the app's function or history is
    changed. A main-branch deploy's calls are refused by that same policy."""
    from pilot_tui.cloud.policy_aws import ci_policy, preview_policy
    from tests.unit.test_deployer_policy import allows

    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("state.backend", "s3"))
    monkeypatch.setenv("API_TOKEN", "the-admins-token")
    assert cli("deploy", "fn").code == 0  # the app's v1, from the laptop
    made = cli("ci", "github", "--repo", "acme/shop")
    assert made.code == 0, made.err
    assert "pilot-acme-github-previews: only acme/shop's pull requests' runs" in made.err
    assert "gh secret set PREVIEW_API_TOKEN --repo acme/shop" in made.err
    workflow = (admin / ".github" / "workflows" / "pilot.yml").read_text()
    jobs = yaml.safe_load(workflow)["jobs"]
    previews_role = "arn:aws:iam::123456789012:role/pilot-acme-github-previews"
    assert jobs["preview"]["env"]["PILOT_AWS_ROLE_ARN"] == previews_role
    assert jobs["preview-remove"]["env"]["PILOT_AWS_ROLE_ARN"] == previews_role
    iam = boto3.client("iam", region_name="us-east-1")
    inline = iam.get_role_policy(RoleName="pilot-acme-github-previews", PolicyName="pilot-deploy")
    policy = inline["PolicyDocument"]
    assert policy == preview_policy("acme", "123456789012", "us-east-1", ["fn"])
    deployer = ci_policy("acme", "123456789012", "us-east-1")  # the branch's role's

    lam = boto3.client("lambda", region_name="us-east-1")
    app_before = lam.list_versions_by_function(FunctionName="pilot-acme-fn")["Versions"]
    s3 = boto3.client("s3", region_name="us-east-1")
    app_history = s3.get_object(Bucket="pilot-state-acme", Key="pilot/releases/fn.json")
    app_history_bytes = app_history["Body"].read()

    # Pull request 12 opened, then pushed to again: its preview, v1 then v2, with the
    # repository's PREVIEW_API_TOKEN (never the app's API_TOKEN).
    github_tokens.sub = "repo:acme/shop:pull_request"
    secrets_ = {"API_TOKEN": "prod-token-never-in-a-preview", "PREVIEW_API_TOKEN": "pv-token"}
    summary = admin / "step-summary.md"  # the run's summary page: where the preview is
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    aws_calls.clear()
    for push in (1, 2):
        checkout = _checkout(admin, f"pr12-{push}", f"pull request push {push}\n")
        ran = run_job(workflow, checkout, secrets_, github_tokens, cli, monkeypatch, "preview", 12)
        assert ran.code == 0, ran.err
        assert ran.out.startswith(f"fn--pr-12\tv{push}\t"), ran.out
    asked = aws_calls.requests()  # (before this test's own calls below)
    url = lam.get_function_url_config(FunctionName="pilot-acme-fn--pr-12", Qualifier="live")
    assert summary.read_text().splitlines() == [
        f"- `fn--pr-12` v{push} is live: <{url['FunctionUrl']}>" for push in (1, 2)
    ]
    preview = lam.get_function(FunctionName="pilot-acme-fn--pr-12", Qualifier="live")
    assert preview["Configuration"]["Environment"]["Variables"]["API_TOKEN"] == "pv-token"
    assert preview["Tags"]["pilot.preview-of"] == "fn"
    # a pull request's code runs as the previews' role (their logs only), not the apps'
    runs_as = preview["Configuration"]["Role"]
    assert runs_as == "arn:aws:iam::123456789012:role/pilot-acme-lambda-previews"
    shared = s3.get_object(Bucket="pilot-state-acme", Key="pilot/releases/fn--pr-12.json")
    records = json.loads(shared["Body"].read())
    assert [r["id"] for r in records] == ["v1", "v2"] and "acme/shop" in records[-1]["by"]

    # What those runs asked of AWS, each permitted by the previews' policy; the app's
    # function and history untouched.
    refused = [r for r in asked if not allows(policy, *r)]
    assert refused == []
    actions = {action for action, _, _ in asked}
    assert {"lambda:CreateFunction", "lambda:UpdateFunctionCode", "s3:PutObject"} <= actions
    function = "arn:aws:lambda:us-east-1:123456789012:function:pilot-acme-fn"
    on_the_app = {a for a, _, r in asked if r == function or r.startswith(f"{function}:")}
    assert on_the_app == {"lambda:ListAliases"}  # earlier Pilots' previews: seen, not changed
    assert lam.list_versions_by_function(FunctionName="pilot-acme-fn")["Versions"] == app_before
    app_history = s3.get_object(Bucket="pilot-state-acme", Key="pilot/releases/fn.json")
    assert app_history["Body"].read() == app_history_bytes

    # The tagging API the previews are found by can lag a new function (real AWS's, by a
    # minute): a listing that leaves pr-12 out stands in for that. The hourly prune, which
    # removes the previews whose history outlived them, keeps it: its function is there.
    from pilot_tui.deploy.targets.lambda_.function import LambdaFunction

    listed = LambdaFunction.previews
    monkeypatch.setattr(LambdaFunction, "previews", lambda self, ttl=None: [])
    github_tokens.sub = "repo:acme/shop:ref:refs/heads/main"
    hourly = _checkout(admin, "pr12-hourly", "")
    aws_calls.clear()
    pruned = run_job(workflow, hourly, {}, github_tokens, cli, monkeypatch, "prune")
    by_the_branch = aws_calls.requests()  # the branch's role: ci_policy
    assert pruned.code == 0, pruned.err
    assert [r for r in by_the_branch if not allows(deployer, *r)] == []
    assert "pilot-acme-fn--pr-12" in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    s3.head_object(Bucket="pilot-state-acme", Key="pilot/releases/fn--pr-12.json")  # kept

    # Closed: the preview goes, function, logs and history, though still not listed; a
    # second close (or one before any preview was made) has nothing to do and does not fail.
    github_tokens.sub = "repo:acme/shop:pull_request"
    aws_calls.clear()
    checkout = _checkout(admin, "pr12-closed", "")
    closed = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch, "preview-remove", 12)
    removal = aws_calls.requests()
    assert closed.code == 0, closed.err
    assert "deleted function pilot-acme-fn--pr-12" in closed.err
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["pilot-acme-fn"]
    kept = s3.list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/releases/")["Contents"]
    assert "pilot/releases/fn--pr-12.json" not in [o["Key"] for o in kept]
    assert [r for r in removal if not allows(policy, *r)] == []
    assert "lambda:DeleteFunction" in {action for action, _, _ in removal}
    again = run_job(workflow, checkout, {}, github_tokens, cli, monkeypatch, "preview-remove", 12)
    assert again.code == 0 and "nothing to remove" in again.err, again.err
    monkeypatch.setattr(LambdaFunction, "previews", listed)  # the listing whole again

    # The hourly prune with the branch's role (ci_policy) lists the previews by
    # their tags, and may.
    github_tokens.sub = "repo:acme/shop:ref:refs/heads/main"
    aws_calls.clear()
    pruned = run_job(workflow, hourly, {}, github_tokens, cli, monkeypatch, "prune")
    by_the_branch = aws_calls.requests()
    assert pruned.code == 0, pruned.err
    assert "tag:GetResources" in {action for action, _, _ in by_the_branch}
    assert [r for r in by_the_branch if not allows(deployer, *r)] == []

    # The evaluator says no too: a push's deploy of the app asks what the previews' role
    # may not (the app's own function and history).
    aws_calls.clear()
    checkout = _checkout(admin, "main-push", "push\n")
    # (not web: no worker runs here to release it; test_ci_server_deploy.py's)
    managed = workflow.replace("pilot-tui deploy fn web docs", "pilot-tui deploy fn docs")
    assert managed != workflow
    pushed = run_job(managed, checkout, {"API_TOKEN": "t"}, github_tokens, cli, monkeypatch)
    on_fn = aws_calls.requests(  # (not docs': its site bucket)
        lambda call: (
            call.service in ("lambda", "sts") or call.params.get("Bucket") == "pilot-state-acme"
        )
    )
    denied = {(a, r) for a, c, r in on_fn if not allows(policy, a, c, r)}
    assert pushed.code == 0, pushed.err
    assert [r for r in on_fn if not allows(deployer, *r)] == []  # as the branch's role may
    assert ("lambda:UpdateFunctionCode", function) in denied
    assert ("lambda:UpdateAlias", function) in denied
    assert ("s3:PutObject", "arn:aws:s3:::pilot-state-acme/pilot/releases/fn.json") in denied

    # `ci remove` keeps the role previews run as while one still does (found walking the
    # app: it was removed from under a live preview), and removes it once none does.
    assert cli("deploy", "fn", "--preview", "pr-13").code == 0  # from the laptop, as it
    kept = cli("ci", "remove")
    assert kept.code == 0, kept.err
    assert "kept IAM role pilot-acme-lambda-previews: the previews pilot-acme-fn--pr-13" in kept.err
    assert "removed IAM role pilot-acme-github-previews" in kept.err
    iam.get_role(RoleName="pilot-acme-lambda-previews")
    assert cli("preview", "destroy", "fn", "pr-13", "--yes").code == 0
    gone = cli("ci", "remove")
    assert "removed IAM role pilot-acme-lambda-previews" in gone.err, gone.err


def test_a_run_about_an_app_on_the_server_is_refused_before_anything_is_opened(
    admin, cli, moto, github_tokens, monkeypatch
):
    """Regression (review): a CI run opened the runner's own engine for any command, so a
    hand-edited prune step naming no app (`pilot-tui preview prune`) found none of the
    previews running on the Pilot Server there and forgot their shared histories. Now a
    run's command about an app it cannot reach is refused, naming it, and nothing goes."""
    pf = ProjectFile.load(admin / "pilot.toml")
    pf.save(pf.with_value("state.backend", "s3"))
    assert cli("ci", "github", "--repo", "acme/shop").code == 0
    workflow = yaml.safe_load((admin / ".github" / "workflows" / "pilot.yml").read_text())
    workflow["jobs"]["prune"]["steps"][-1]["run"] = "pilot-tui preview prune"
    s3 = boto3.client("s3", region_name="us-east-1")
    kept = {"id": "v1", "app": "web--feat", "image": "pilot/acme-web:x", "status": "live"}
    key = "pilot/releases/web--feat.json"
    s3.put_object(Bucket="pilot-state-acme", Key=key, Body=json.dumps([kept]))
    checkout = _checkout(admin, "hourly", "")
    # a checkout holding a server's record (committed by mistake): still never used
    (checkout / ".pilot" / "outputs").mkdir(parents=True)
    record = {"outputs": {"docker_host": "ssh://ubuntu@192.0.2.1"}}
    (checkout / ".pilot" / "outputs" / "server.json").write_text(json.dumps(record))
    text = yaml.safe_dump(workflow)
    pruned = run_job(text, checkout, {}, github_tokens, cli, monkeypatch, job_name="prune")
    assert pruned.code == 2, pruned.err
    assert "this CI run cannot act on web: it runs on the Docker host" in pruned.err
    assert "name the apps CI deploys" in pruned.err
    listed = s3.list_objects_v2(Bucket="pilot-state-acme", Prefix="pilot/releases/")
    assert key in [o["Key"] for o in listed["Contents"]]  # the server's preview's history


def test_a_runner_without_docker_is_told_what_builds_there(tmp_path):
    from pilot_tui.deploy.host import HostError, runner_engine

    missing = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(HostError) as caught:
        runner_engine({"DOCKER_HOST": missing})
    message = str(caught.value)
    assert message.startswith("a CI run builds the apps' images on the runner's own Docker")
    assert f"none answers at {missing}" in message and "ubuntu-latest" in message
    with pytest.raises(HostError, match=r"tcp://127\.0\.0\.1:2375 is not one"):
        runner_engine({"DOCKER_HOST": "tcp://127.0.0.1:2375"})
    # an app built with buildpacks: `pack` is not on a runner
    from pilot_tui.config.schema import AppSettings, BuildpacksBuild, LambdaTarget
    from pilot_tui.deploy.from_ci import why_not

    packed = AppSettings(name="api", build=BuildpacksBuild(), target=LambdaTarget(package="image"))
    assert why_not(packed) == "it is built with buildpacks, whose `pack` a CI runner does not have"
