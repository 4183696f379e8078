"""Finding Terraform or OpenTofu. OpenTofu cannot be installed here, so a two-line stand-in
script that prints OpenTofu's version line checks detection and flavour only; everything
Pilot runs through it is the same argument list the real Terraform binary is tested with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pilot_tui.provision.tf import commands
from pilot_tui.provision.tf.toolchain import ToolchainError, bundled_binary, find_binary, resolve


def fake_tofu(directory):
    path = directory / "tofu"
    path.write_text("#!/bin/sh\necho 'OpenTofu v1.8.3'\necho 'on linux_amd64'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_tofu_on_path_is_preferred_over_terraform(tmp_path, monkeypatch):
    fake_tofu(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PILOT_TERRAFORM", raising=False)
    tf = resolve(None)
    assert tf.flavor == "tofu" and tf.version == "1.8.3"
    assert commands.plan(tf, tmp_path).argv[0] == str(tmp_path / "tofu")


def test_pilot_terraform_and_the_config_key_override(tmp_path, monkeypatch):
    binary = fake_tofu(tmp_path)
    monkeypatch.delenv("PILOT_TERRAFORM", raising=False)
    assert find_binary(str(binary)) == str(binary)
    monkeypatch.setenv("PILOT_TERRAFORM", str(binary))
    assert find_binary("terraform") == str(binary)  # the environment wins
    monkeypatch.setenv("PILOT_TERRAFORM", str(tmp_path / "missing"))
    with pytest.raises(ToolchainError, match=r"\$PILOT_TERRAFORM names"):
        find_binary(None)


def test_nothing_found_gives_install_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PILOT_TERRAFORM", raising=False)
    monkeypatch.setattr("pilot_tui.provision.tf.toolchain.bundled_binary", lambda: None)
    with pytest.raises(ToolchainError) as info:
        find_binary(None)
    assert "OpenTofu" in str(info.value) and "pilot-tui[sandbox]" in str(info.value)


@pytest.mark.terraform
def test_the_sandbox_uses_the_bundled_terraform_and_provider_mirror(monkeypatch):
    monkeypatch.delenv("PILOT_TERRAFORM", raising=False)
    tf = resolve(None, sandbox=True)
    assert tf.path == bundled_binary() and tf.version == "1.0.3"
    config = Path(tf.env["TF_CLI_CONFIG_FILE"]).read_text()
    assert "filesystem_mirror" in config and tf.env["CHECKPOINT_DISABLE"] == "1"


def test_commands_are_data(tmp_path):
    from pilot_tui.provision.tf.toolchain import Terraform

    tf = Terraform("/bin/terraform", "1.0.3", "terraform", {"A": "1"})
    assert commands.plan(tf, tmp_path, destroy=True).argv == (
        "/bin/terraform",
        "plan",
        "-input=false",
        "-json",
        "-lock-timeout=60s",
        "-out=pilot.tfplan",
        "-destroy",
    )
    assert commands.apply(tf, tmp_path).argv[-1] == "pilot.tfplan"
    init = commands.init(tf, tmp_path, {"bucket": "b", "key": "k"})
    assert init.argv[-2:] == ("-backend-config=bucket=b", "-backend-config=key=k")
    assert init.cwd == tmp_path and init.env == {"A": "1"}


def test_a_configured_binary_inside_the_project_is_never_run(tmp_path, monkeypatch):
    """Defence in depth behind the validator: handed terraform.binary pointing into the
    project (directly, by a name PATH finds there, or by a link from outside), the toolchain
    refuses before running anything."""
    from pilot_tui.provision.tf.toolchain import BinaryRefused

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    marker = tmp_path / "ran"
    script = project / "tf-in-repo"
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\necho 'Terraform v1.0.3'\n")
    script.chmod(0o755)
    link = elsewhere / "terraform"
    link.symlink_to(script)
    monkeypatch.delenv("PILOT_TERRAFORM", raising=False)
    monkeypatch.setenv("PATH", f"{project}{os.pathsep}{os.environ['PATH']}")
    for configured in (str(script), "tf-in-repo", str(link)):
        with pytest.raises(BinaryRefused, match="a name on PATH"):
            resolve(configured, project_root=project)
    with pytest.raises(BinaryRefused, match="relative path"):
        resolve("./tf-in-repo", project_root=project)
    assert not marker.exists()
    # The same program is the user's to choose through $PILOT_TERRAFORM.
    monkeypatch.setenv("PILOT_TERRAFORM", str(link))
    assert find_binary("tofu", project_root=project) == str(link)
