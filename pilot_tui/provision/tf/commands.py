"""Terraform commands as data: pure functions from inputs to argument lists."""

from __future__ import annotations

from pathlib import Path

from pilot_tui.provision.tf.toolchain import Terraform
from pilot_tui.runner import Command

PLAN_FILE = "pilot.tfplan"


def _cmd(tf: Terraform, workdir: Path, *args: str) -> Command:
    return Command((tf.path, *args), cwd=workdir, env=tf.env)


def init(tf: Terraform, workdir: Path, backend_config: dict[str, str] | None = None) -> Command:
    # -migrate-state -force-copy: switching [state] backend moves existing state along.
    args = ["init", "-input=false", "-no-color", "-migrate-state", "-force-copy"]
    for key, value in sorted((backend_config or {}).items()):
        args.append(f"-backend-config={key}={value}")
    return _cmd(tf, workdir, *args)


def plan(tf: Terraform, workdir: Path, *, destroy: bool = False) -> Command:
    args = ["plan", "-input=false", "-json", "-lock-timeout=60s", f"-out={PLAN_FILE}"]
    if destroy:
        args.append("-destroy")
    return _cmd(tf, workdir, *args)


def show_plan(tf: Terraform, workdir: Path) -> Command:
    return _cmd(tf, workdir, "show", "-json", "-no-color", PLAN_FILE)


def apply(tf: Terraform, workdir: Path) -> Command:
    # A saved plan applies exactly what was reviewed; it needs no -auto-approve.
    return _cmd(tf, workdir, "apply", "-input=false", "-json", "-lock-timeout=60s", PLAN_FILE)


def output(tf: Terraform, workdir: Path) -> Command:
    return _cmd(tf, workdir, "output", "-json", "-no-color")


def show_state(tf: Terraform, workdir: Path) -> Command:
    return _cmd(tf, workdir, "show", "-json", "-no-color")
