"""The Terraform templates: formatted, valid, and only the apps' web port open to the world.

The aws template is validated by the real Terraform with the real hashicorp/aws provider
(it is also applied against the sandbox in tests/server/). The google provider cannot be
installed here (no network beyond PyPI), so the gcp template is checked with `terraform fmt`
and by parsing it with python-hcl2: a stand-in for `terraform validate`, said plainly.
"""

from __future__ import annotations

import re
import shutil

import hcl2
import pytest

from pilot_tui.provision.tf.toolchain import resolve
from pilot_tui.runner import Command, capture
from tests.support.paths import REPO

TEMPLATES = REPO / "terraform"


def unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def resources(home: str) -> dict[tuple[str, str], dict]:
    out = {}
    for tf in (TEMPLATES / home).glob("*.tf"):
        for block in hcl2.load(tf.open()).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    out[(unquote(rtype), unquote(name))] = body
    return out


def locals_of(home: str) -> dict:
    merged = {}
    for tf in (TEMPLATES / home).glob("*.tf"):
        for block in hcl2.load(tf.open()).get("locals", []):
            merged.update(block)
    return merged


@pytest.fixture(scope="module")
def terraform():
    return resolve(None, sandbox=True)


def test_templates_are_terraform_fmt_clean(terraform):
    result = capture(
        Command(
            (terraform.path, "fmt", "-check", "-recursive", "-diff", str(TEMPLATES)),
            env=terraform.env,
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_aws_template_validates_with_the_real_provider(terraform, tmp_path):
    for source in (TEMPLATES / "common", TEMPLATES / "aws"):
        for f in source.iterdir():
            if f.suffix in (".tf", ".tpl"):
                shutil.copy(f, tmp_path / f.name)
    init = capture(
        Command(
            (terraform.path, "init", "-backend=false", "-input=false", "-no-color"),
            cwd=tmp_path,
            env=terraform.env,
        )
    )
    assert init.returncode == 0, init.stdout + init.stderr
    validate = capture(
        Command((terraform.path, "validate", "-no-color"), cwd=tmp_path, env=terraform.env)
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_aws_ingress_comes_only_from_allowed_cidrs():
    group = resources("aws")[("aws_security_group", "server")]
    admin, web = group["dynamic"]
    content = admin['"ingress"' if '"ingress"' in admin else "ingress"]["content"][0]
    assert content["cidr_blocks"] == "${var.allowed_cidrs}"
    # The apps' port (server.http_port) is the one meant for everyone.
    web = web['"ingress"' if '"ingress"' in web else "ingress"]
    assert web["for_each"] == "${var.web_ports}"
    assert web["content"][0]["cidr_blocks"] == "${var.web_cidrs}"
    ports = locals_of("aws")["ports"]
    assert sorted(map(int, re.findall(r"port\s*=\s*(\d+)", ports))) == [22, 2376, 9701, 9702]
    assert "2376" in ports.split("mtls")[1].split(":")[0]  # 2376 only with docker_access mtls


def test_gcp_firewall_and_service_account_are_least_privilege():
    res = resources("gcp")
    firewall = res[("google_compute_firewall", "server")]
    assert firewall["source_ranges"] == "${var.allowed_cidrs}"
    web = res[("google_compute_firewall", "web")]
    assert web["source_ranges"] == "${var.web_cidrs}"
    assert "var.web_ports" in web["allow"][0]["ports"]
    assert unquote(firewall["direction"]) == "INGRESS"
    assert firewall["allow"][0]["ports"] == "${local.ports}"
    ports = locals_of("gcp")["ports"]
    assert set(re.findall(r"\d{2,5}", ports)) == {"22", "2376", "9701", "9702"}
    roles = [unquote(r) for r in locals_of("gcp")["server_roles"]]
    assert roles and all(r.startswith("roles/") for r in roles)
    assert not {"roles/owner", "roles/editor"} & set(roles)
    binding = res[("google_project_iam_member", "server")]
    assert binding["role"] == "${each.value}"
    instance = res[("google_compute_instance", "server")]
    assert instance["service_account"][0]["email"] == "${google_service_account.server.email}"


@pytest.mark.parametrize("home", ["aws", "gcp", "common"])
def test_no_template_opens_docker_plain_tcp_or_the_world_inbound(home):
    text = "\n".join(
        line.split("#")[0]
        for p in (TEMPLATES / home).iterdir()
        if p.is_file() and p.suffix != ".md"
        for line in p.read_text().splitlines()
    )
    assert "2375" not in text
    if home == "gcp":
        assert "0.0.0.0/0" not in text
    if home == "aws":
        # 0.0.0.0/0 appears only as egress and as the internet route, never as ingress.
        for match in re.finditer(r"0\.0\.0\.0/0", text):
            context = text[max(0, match.start() - 300) : match.start()]
            assert "egress" in context or "aws_route" in context, context


@pytest.mark.parametrize("access", ["ssh", "mtls"])
@pytest.mark.parametrize("engine", ["pilot", "waypoint"])
def test_cloud_init_renders_to_valid_yaml_for_every_choice(terraform, tmp_path, access, engine):
    import yaml

    shutil.copy(TEMPLATES / "common" / "cloud-init.yaml.tpl", tmp_path)
    expr = (
        f'templatefile("cloud-init.yaml.tpl", {{docker_access = "{access}", engine = "{engine}"}})'
    )
    result = capture(
        Command((terraform.path, "console"), cwd=tmp_path, env=terraform.env), stdin=expr
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.strip().removeprefix("<<EOT").removesuffix("EOT").strip() + "\n"
    assert text.startswith("#cloud-config")
    doc = yaml.safe_load(text)
    assert "docker.io" in doc["packages"]
    commands = "\n".join(doc["runcmd"])
    units = "\n".join(f["content"] for f in doc.get("write_files", []))
    assert "2375" not in commands + units
    if access == "mtls":
        assert "-H tcp://0.0.0.0:2376 --tlsverify" in units and "--tlscacert=" in units
    else:
        assert "tcp://" not in units + commands and "systemctl enable --now docker" in commands
    assert ("waypoint install -platform=docker" in commands) == (engine == "waypoint")


def test_the_aws_server_hands_imds_tokens_to_the_host_alone():
    """One hop: the host's own network (the agent runs on it) gets an IMDSv2 token; a
    container's request, a hop further, gets none."""
    server = resources("aws")[("aws_instance", "server")]
    [options] = server["metadata_options"]
    assert unquote(options["http_tokens"]) == "required"
    assert options["http_put_response_hop_limit"] == 1


@pytest.mark.parametrize("home", ["aws", "gcp"])
def test_shared_files_do_not_shadow_a_homes_own(home):
    common = {p.name for p in (TEMPLATES / "common").iterdir()}
    own = {p.name for p in (TEMPLATES / home).iterdir()}
    assert common & own == set()


def test_aws_server_role_may_touch_only_the_backups_of_its_state_bucket():
    """The backup agent's instance role, read as text (its policy is a jsonencode
    expression): object actions on backups/* of the state bucket, listing only with the
    backups/ prefix, never a wildcard action or another resource; and only with S3 state
    (the role itself also exists for removing Lambda previews: the next test)."""
    found = resources("aws")
    role = found[("aws_iam_role", "server")]
    assert "local.server_role ? 1 : 0" in str(role["count"])
    backups = found[("aws_iam_role_policy", "server_backups")]
    assert "state_bucket == null ? 0 : 1" in str(backups["count"])
    policy = str(backups["policy"])
    arns = set(re.findall(r"arn:aws:s3:::[^'\"]+", policy))
    assert arns == {
        "arn:aws:s3:::${var.state_bucket}/backups/*",
        "arn:aws:s3:::${var.state_bucket}",
    }
    actions = set(re.findall(r"s3:[A-Za-z*]+", policy)) - {"s3:prefix"}
    assert actions == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    }
    assert "backups/*" in policy.split("ListBackups", 1)[1]  # the listing's prefix condition
    instance = found[("aws_instance", "server")]
    assert "aws_iam_instance_profile.server[0].name" in str(instance["iam_instance_profile"])


def test_aws_databases_are_private_encrypted_backed_up_and_protected():
    """RDS as the template writes it: storage encrypted, never public, in subnets with no
    route out, reachable on 5432 from the Pilot Server's security group and nothing else,
    automated backups kept backup.keep days, deletion protection on."""
    found = resources("aws")
    db = found[("aws_db_instance", "database")]
    assert db["for_each"] == "${var.databases}"
    assert db["storage_encrypted"] is True and db["publicly_accessible"] is False
    assert db["deletion_protection"] is True
    assert db["backup_retention_period"] == "${each.value.backup_days}"
    assert db["password"] == "${var.database_passwords[each.key]}"
    assert db["lifecycle"][0]["ignore_changes"] == ["password"]  # set once, never reset
    assert db["vpc_security_group_ids"] == ["${aws_security_group.database[0].id}"]
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.pilot[0].name}"
    group = found[("aws_security_group", "database")]
    (rule,) = group["ingress"]
    assert (rule["from_port"], rule["to_port"]) == (5432, 5432)
    assert rule["security_groups"] == ["${aws_security_group.server.id}"]
    assert "cidr_blocks" not in rule and "ipv6_cidr_blocks" not in rule
    assert "egress" not in group
    # The databases' subnets are tied to no route table: the VPC's main one, local only.
    associations = [
        body for (rtype, _), body in found.items() if rtype == "aws_route_table_association"
    ]
    assert all("aws_subnet.public" in str(a["subnet_id"]) for a in associations)
    subnet = found[("aws_subnet", "database")]
    assert "map_public_ip_on_launch" not in subnet
    # The password is sensitive, so Terraform never prints it.
    variables = {}
    for block in hcl2.load((TEMPLATES / "aws" / "databases.tf").open()).get("variable", []):
        variables.update({unquote(name): body for name, body in block.items()})
    assert variables["database_passwords"]["sensitive"] is True


def test_gcp_server_account_may_touch_only_the_backups_of_its_state_bucket():
    """The backup agent's grant on GCP, as data (the Google provider cannot be had here): a
    custom role of four object permissions, bound on the state bucket only, under a
    condition that admits objects below backups/ and listing with the backups/ prefix only;
    and only with GCS state."""
    found = resources("gcp")
    role = found[("google_project_iam_custom_role", "backups")]
    assert "state_bucket == null ? 0 : 1" in str(role["count"])
    assert sorted(map(unquote, role["permissions"])) == [
        "storage.objects.create",
        "storage.objects.delete",
        "storage.objects.get",
        "storage.objects.list",
    ]
    binding = found[("google_storage_bucket_iam_member", "server_backups")]
    assert binding["bucket"] == "${var.state_bucket}"
    assert binding["role"] == "${google_project_iam_custom_role.backups[0].id}"
    assert unquote(binding["member"]) == "serviceAccount:${google_service_account.server.email}"
    expression = binding["condition"][0]["expression"]
    objects = (
        'resource.name.startsWith(\\"projects/_/buckets/${var.state_bucket}/objects/backups/\\")'
    )
    listing = (
        'resource.name == \\"projects/_/buckets/${var.state_bucket}\\" && api.getAttribute('
        '\\"storage.googleapis.com/objectListPrefix\\", \\"\\").startsWith(\\"backups/\\")'
    )
    assert expression == f'"{objects} || ({listing})"'  # as written: a quoted HCL string


def test_gcp_server_account_may_list_services_and_remove_previews_only():
    """The agent's Cloud Run previews, as data (the Google provider cannot be had here):
    only when an app runs them, the server's account may list services on the project
    (run.services.list alone) and is given a role of run.services.delete alone, which each
    preview's deploy grants on that preview's own service (never on the project)."""
    found = resources("gcp")
    listing = found[("google_project_iam_custom_role", "previews")]
    pruner = found[("google_project_iam_custom_role", "preview_pruner")]
    for role in (listing, pruner):
        assert "var.cloud_run_previews ? 1 : 0" in str(role["count"])
    assert list(map(unquote, listing["permissions"])) == ["run.services.list"]
    assert list(map(unquote, pruner["permissions"])) == ["run.services.delete"]
    bound = [key for key in found if key[0].endswith("_iam_member")]
    granted = found[("google_project_iam_member", "server_previews")]
    assert granted["role"] == "${google_project_iam_custom_role.previews[0].id}"
    assert unquote(granted["member"]) == "serviceAccount:${google_service_account.server.email}"
    # the pruner role is bound by no template: by each preview's deploy, on its service
    assert not any("preview_pruner" in str(found[key].get("role")) for key in bound), bound
    # and reads the deploy leases alone of the state bucket (not listing them)
    leases = found[("google_storage_bucket_iam_member", "server_preview_leases")]
    assert "var.cloud_run_previews && var.state_bucket != null ? 1 : 0" in str(leases["count"])
    assert (leases["bucket"], unquote(leases["role"])) == (
        "${var.state_bucket}",
        "roles/storage.objectViewer",
    )
    assert unquote(leases["member"]) == "serviceAccount:${google_service_account.server.email}"
    assert leases["condition"][0]["expression"] == (
        '"resource.name.startsWith(\\"projects/_/buckets/${var.state_bucket}/objects/'
        'pilot/locks/\\")"'
    )
    outputs = {}
    for block in hcl2.load((TEMPLATES / "gcp" / "outputs.tf").open()).get("output", []):
        outputs.update({unquote(name): body for name, body in block.items()})
    assert "preview_pruner[0].id" in str(outputs["cloud_run_pruner_role"]["value"])
    assert outputs["cloud_run_previews"]["value"] == "${var.cloud_run_previews}"


def test_gcp_databases_are_private_encrypted_backed_up_and_protected():
    """Cloud SQL as the template writes it, as data (the Google provider cannot be had
    here): no public address, on the server's own network through private services access,
    TLS only, automated daily backups kept backup.keep and point-in-time recovery, Cloud
    SQL's own deletion protection on (Pilot lifts it after a final export), the password
    sensitive, set once and never reset, and the instance's account may write its final
    export under backups/NAME/ of the state bucket and nowhere else."""
    found = resources("gcp")
    db = found[("google_sql_database_instance", "database")]
    assert db["for_each"] == "${var.databases}"
    assert "random_id.database[each.key].hex" in db["name"]  # a name free to reuse at once
    settings = db["settings"][0]
    assert settings["deletion_protection_enabled"] is True
    assert settings["disk_autoresize"] is True
    assert settings["disk_autoresize_limit"] == "${each.value.max_disk_gb}"
    (ip,) = settings["ip_configuration"]
    assert ip["ipv4_enabled"] is False and "authorized_networks" not in ip
    assert ip["private_network"] == "${google_compute_network.pilot.id}"
    assert unquote(ip["ssl_mode"]) == "ENCRYPTED_ONLY"
    (backups,) = settings["backup_configuration"]
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True
    (kept,) = backups["backup_retention_settings"]
    assert kept["retained_backups"] == "${each.value.backups_kept}"
    # Cloud SQL wants more backups kept than days of log (pilot.toml keeps at least 2)
    assert backups["transaction_log_retention_days"] == "${min(7, each.value.backups_kept - 1)}"
    assert "pilot-database" in str(settings["user_labels"])  # how Pilot finds it again
    assert "local.labels" in str(settings["user_labels"])
    peering = found[("google_compute_global_address", "databases")]
    assert unquote(peering["purpose"]) == "VPC_PEERING"
    assert peering["network"] == "${google_compute_network.pilot.id}"
    user = found[("google_sql_user", "pilot")]
    assert user["password"] == "${var.database_passwords[each.key]}"
    assert user["lifecycle"][0]["ignore_changes"] == ["password"]
    grant = found[("google_storage_bucket_iam_member", "database_exports")]
    assert grant["bucket"] == "${var.state_bucket}"
    assert "service_account_email_address" in grant["member"]
    expression = grant["condition"][0]["expression"]
    assert expression == (
        '"resource.name.startsWith(\\"projects/_/buckets/${var.state_bucket}/objects/'
        'backups/${each.key}/\\")"'
    )
    variables = {}
    for block in hcl2.load((TEMPLATES / "gcp" / "databases.tf").open()).get("variable", []):
        variables.update({unquote(name): body for name, body in block.items()})
    assert variables["database_passwords"]["sensitive"] is True
    outputs = {}
    for block in hcl2.load((TEMPLATES / "gcp" / "outputs.tf").open()).get("output", []):
        outputs.update({unquote(name): body for name, body in block.items()})
    value = str(outputs["databases"]["value"])
    assert "private_ip_address" in value and "instance" in value


def test_aws_server_role_may_remove_lambda_previews_only_with_such_apps():
    """The agent's Lambda previews, as the template writes them: only with some app
    running previews on Lambda, whether or not there is a state bucket (the server's role
    exists for either); the leases are read only with one. Its effect, rendered by
    Terraform against the local AWS API and evaluated, is tested in
    tests/integration/deploy/test_lambda_prune.py."""
    found = resources("aws")
    granted = found[("aws_iam_role_policy", "server_previews")]
    assert "local.lambda_previews ? 1 : 0" in str(granted["count"])
    merged = locals_of("aws")
    assert str(merged["lambda_previews"]) == "${length(var.lambda_preview_apps) > 0}"
    assert (
        str(merged["server_role"])
        == "${var.state_bucket != null || local.lambda_previews || local.ci_worker}"
    )
    for made in (("aws_iam_role", "server"), ("aws_iam_instance_profile", "server")):
        assert "local.server_role ? 1 : 0" in str(found[made]["count"])
    backups = found[("aws_iam_role_policy", "server_backups")]
    assert "var.state_bucket == null ? 0 : 1" in str(backups["count"])
    policy = str(granted["policy"])
    assert set(re.findall(r"(?:lambda|logs|tag):[A-Za-z*]+", policy)) == {
        "lambda:GetFunctionConfiguration",
        "lambda:ListTags",
        "lambda:DeleteFunction",
        "logs:DeleteLogGroup",
        "tag:GetResources",
    }
    assert "${local.name}-${app}--*" in policy  # a preview's name, never an app's own
    # and reading previews' deploy leases, nothing else of the state bucket
    assert re.findall(r"s3:[A-Za-z]+", policy) == ["s3:GetObject"]
    assert "for bucket in compact([var.state_bucket])" in policy
    assert "arn:aws:s3:::${bucket}/pilot/locks/${app}--*.json" in policy


def test_aws_server_role_gets_the_ci_workers_grant_only_when_asked():
    """server.ci_worker: the grant is Pilot's policy as data (evaluated in
    tests/unit/test_worker_container.py and against the requests the worker's container
    made in tests/integration/deploy/test_ci_server_deploy.py), given as a variable; the
    template only puts its account in and attaches it, and makes the role for it alone."""
    found = resources("aws")
    granted = found[("aws_iam_role_policy", "server_ci_worker")]
    assert "local.ci_worker ? 1 : 0" in str(granted["count"])
    assert str(granted["policy"]) == (
        '${replace(var.ci_worker_policy, "ACCOUNT_ID", '
        "data.aws_caller_identity.current[0].account_id)}"
    )
    merged = locals_of("aws")
    assert str(merged["ci_worker"]) == "${var.ci_worker_policy != null}"
    text = (TEMPLATES / "aws" / "main.tf").read_text()
    assert "count = local.lambda_previews || local.ci_worker ? 1 : 0" in text
