"""Paths in pilot.toml stay inside the project: an app's folder, its Dockerfile and static
output, and the Terraform templates may not lead out of the directory holding pilot.toml
(by `..`, an absolute path, or a symbolic link), since a cloned repository must not make
Pilot publish or build from files elsewhere on the machine."""

from __future__ import annotations

import re

import pytest

APP = '\n[[apps]]\nname = "site"\npath = "{path}"\ntarget = {{ kind = "s3-cloudfront" }}\n'
WHERE = re.compile(
    r"^pilot\.toml:(\d+):(\d+): apps\.site\.path: .*outside the project "
    r"directory",
    re.M,
)


@pytest.fixture
def outside(tmp_path):
    """A folder beside the project, holding a file nobody meant to publish."""
    folder = tmp_path.parent / f"{tmp_path.name}-outside"
    folder.mkdir()
    (folder / "credentials").write_text("[default]\naws_secret_access_key = not-for-you\n")
    return folder


def test_a_symlinked_app_folder_pointing_out_is_refused(cli, project, outside):
    (project.parent / "site").symlink_to(outside, target_is_directory=True)
    project.write_text(project.read_text() + APP.format(path="site"))
    result = cli("config", "validate")
    assert result.code == 2
    match = WHERE.search(result.err)
    assert match, result.err
    line = project.read_text().splitlines()[int(match[1]) - 1]
    assert line.startswith("path = ") and int(match[2]) == len("path = ") + 1
    assert str(outside) in result.err  # says where it really leads


@pytest.mark.parametrize(
    "command",
    [
        ("deploy", "site"),
        ("server", "plan"),
        ("app", "list"),
        ("status",),
        ("logs", "site"),
        ("config", "show"),
    ],
)
def test_every_command_that_loads_the_project_refuses_the_same_way(cli, project, outside, command):
    project.write_text(project.read_text() + APP.format(path=f"../{outside.name}"))
    result = cli(*command)
    assert result.code == 2, (result.out, result.err)
    assert WHERE.search(result.err), result.err


def test_an_absolute_path_outside_is_refused_and_inside_is_fine(cli, project, outside):
    text = project.read_text()
    project.write_text(text + APP.format(path=str(outside)))
    assert cli("config", "validate").code == 2
    inside = project.parent / "web" / "public"
    inside.mkdir(parents=True)
    project.write_text(text + APP.format(path=str(inside)))
    assert cli("config", "validate").code == 0
    project.write_text(text + APP.format(path="web/../web/public"))
    assert cli("config", "validate").code == 0


def test_static_output_and_templates_outside_are_refused(cli, project, outside):
    (project.parent / "infra").symlink_to(outside, target_is_directory=True)
    project.write_text(
        project.read_text().replace("[state]", '[terraform]\ntemplates = "infra"\n\n[state]')
        + ('\n[[apps]]\nname = "web"\nbuild = { kind = "static", output = "../../../dist" }\n')
    )
    result = cli("config", "validate")
    assert result.code == 2
    assert re.search(
        r"^pilot\.toml:\d+:\d+: terraform\.templates: .*outside the project", result.err, re.M
    ), result.err
    assert re.search(
        r"^pilot\.toml:\d+:\d+: apps\.web\.build\.output: .*outside the project", result.err, re.M
    ), result.err


def test_eject_refuses_a_folder_outside_the_project_and_copies_nothing(cli, project, outside):
    before = project.read_text()
    result = cli("server", "eject", "--to", f"../{outside.name}/infra")
    assert result.code == 2
    assert "is outside the project directory" in result.err
    assert not (outside / "infra").exists()
    assert project.read_text() == before


# -- terraform.binary: a cloned repository must not choose the program `server plan` runs --

SCRIPT = "#!/bin/sh\ntouch '{marker}'\necho 'Terraform v1.0.3'\n"


def _project_script(project_dir, marker):
    script = project_dir / "tools" / "terraform"
    script.parent.mkdir()
    script.write_text(SCRIPT.format(marker=marker))
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("how", ["relative", "absolute", "dot-slash"])
def test_server_plan_never_runs_a_terraform_binary_from_the_project(tmp_path, outside, how):
    from tests.conftest import run_pilot

    marker = outside / "ran"
    script = _project_script(tmp_path, marker)
    assert (
        run_pilot(
            "init",
            "--name",
            "acme",
            "--home",
            "aws",
            "--allowed-cidr",
            "203.0.113.7/32",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    value = {
        "relative": "tools/terraform",
        "absolute": str(script),
        "dot-slash": "./tools/terraform",
    }[how]
    pilot_toml = tmp_path / "pilot.toml"
    pilot_toml.write_text(
        pilot_toml.read_text().replace("[state]", f'[terraform]\nbinary = "{value}"\n\n[state]')
    )
    result = run_pilot("server", "plan", cwd=tmp_path, env={"PILOT_TERRAFORM": ""})
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = next(
        n
        for n, text in enumerate(pilot_toml.read_text().splitlines(), 1)
        if text.startswith("binary = ")
    )
    assert re.search(
        rf"^pilot\.toml:{line}:10: terraform\.binary: .*inside the project", result.stderr, re.M
    ), result.stderr
    assert "a name on PATH" in result.stderr  # the rule is named
    assert not marker.exists()


def test_a_name_on_path_or_an_absolute_path_outside_is_accepted(cli, project, outside):
    text = project.read_text()
    for value in ("tofu", str(outside / "terraform")):
        project.write_text(text.replace("[state]", f'[terraform]\nbinary = "{value}"\n\n[state]'))
        result = cli("config", "validate")
        assert result.code == 0, result.err


def test_app_new_refuses_a_folder_outside_the_project(cli, project, outside):
    before = project.read_text()
    result = cli("app", "new", "--path", f"../{outside.name}", "--name", "web")
    assert result.code == 2
    assert "apps.web.path" in result.err and "outside the project directory" in result.err
    assert project.read_text() == before
