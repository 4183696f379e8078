"""`pilot-tui server eject` and `pilot-tui server ssh`."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from pilot_tui.cli.common import error, load, load_valid, print_report
from pilot_tui.config.document import ConfigRefused
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.provision.keys import KEY_NAME
from pilot_tui.provision.tf.workspace import template_files, template_sources
from pilot_tui.runner import Command, exec_replace


def eject(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, cfg = loaded
    if cfg.terraform.templates:
        error(
            f"already ejected to {cfg.terraform.templates!r} (terraform.templates); "
            "Pilot renders from there"
        )
        return EXIT_INVALID
    root = pf.path.parent
    target = root / ns.to
    ejected = pf.with_value("terraform.templates", ns.to)
    refused = [p for p in pf.check(ejected).report.errors if p.key == "terraform.templates"]
    if refused:  # e.g. --to leads out of the project: nothing is copied
        error(f"--to {ns.to}: {refused[0].message}")
        return EXIT_INVALID
    if target.exists() and any(target.iterdir()):
        error(f"{target} exists and is not empty; choose another folder with --to")
        return EXIT_INVALID
    home = "aws" if cfg.server.home == "sandbox" else cfg.server.home
    with framed(exit_code=EXIT_INVALID):  # no templates for this home: the config's
        files = template_files(template_sources(home, root, None))
    target.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        shutil.copy2(path, target / name)
    try:
        pf.save(ejected)
    except ConfigRefused as exc:  # pragma: no cover - checked above
        shutil.rmtree(target)
        print_report(exc.report)
        return EXIT_FAILED
    print(f"copied the {home} templates to {target}/ ({len(files)} files)")
    print(f'set terraform.templates = "{ns.to}" in {pf.display}: Pilot now renders your copy.')
    print(
        "They are yours: edit, commit and review them; Pilot still supplies the variables "
        "(pilot.auto.tfvars.json) and, in the sandbox, the provider override."
    )
    return EXIT_OK


def ssh_command(host: str, user: str, key: Path, known_hosts: Path, extra: list[str]) -> Command:
    """The ssh invocation for the Pilot Server (data, so it can be checked in tests)."""
    return Command(
        (
            "ssh",
            "-i",
            str(key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=accept-new",
            f"{user}@{host}",
            *extra,
        )
    )


def ssh(ns: argparse.Namespace) -> int:
    pf = load(ns)
    from pilot_tui.project import Project
    from pilot_tui.provision.outputs import saved_record

    project = Project(pf.path)
    saved = saved_record(project.state_dir)
    if not saved:
        error("no Pilot Server is recorded for this project; create it with `pilot-tui server up`")
        return EXIT_FAILED
    if saved.get("home") == "sandbox":
        error(
            "the sandbox's server is simulated by a local AWS API: there is no machine to "
            "SSH into. Provision on AWS or GCP (server.home) for a real one."
        )
        return EXIT_FAILED
    outputs = saved.get("outputs", {})
    keys = project.state_dir / "keys"
    extra = ns.command[1:] if ns.command[:1] == ["--"] else ns.command
    command = ssh_command(
        outputs["public_ip"],
        outputs.get("ssh_user", "ubuntu"),
        keys / KEY_NAME,
        keys / "known_hosts",
        extra,
    )
    with framed(suffix="; install an OpenSSH client"):
        exec_replace(command)
    return EXIT_OK  # pragma: no cover - exec does not return
