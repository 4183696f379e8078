"""Benchmark: `pilot-tui server up --yes` in the sandbox against plain
`terraform apply -auto-approve` on the same rendered configuration, in one run.

Both start from an initialised working directory with the emulators running and nothing
created; each is followed by a destroy. Prints wall times and their ratio; asserts nothing.

    .venv/bin/python tests/bench/provision.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pilot_tui.provision.tf.toolchain import resolve


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    pilot = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    assert pilot, "install first: bash .ci/setup"
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        subprocess.run(
            [pilot, "init", "--name", "bench"], cwd=project, check=True, capture_output=True
        )
        subprocess.run([pilot, "server", "plan"], cwd=project, check=True, capture_output=True)
        try:
            pilot_s = timed([pilot, "server", "up", "--yes"], project)
            subprocess.run([pilot, "server", "plan"], cwd=project, check=True, capture_output=True)
            workdir = project / ".pilot" / "terraform" / "sandbox"
            tf = resolve(None, sandbox=True)
            subprocess.run(
                [tf.path, "destroy", "-auto-approve", "-input=false"],
                cwd=workdir,
                env=tf.env,
                check=True,
                capture_output=True,
            )
            plain_s = timed([tf.path, "apply", "-auto-approve", "-input=false"], workdir, tf.env)
        finally:
            subprocess.run([pilot, "server", "destroy", "--yes"], cwd=project, capture_output=True)
        print(f"terraform {tf.version}, sandbox, 9 resources")
        print(f"pilot-tui server up --yes       {pilot_s:6.1f} s  (init + plan + show + apply)")
        print(f"terraform apply -auto-approve   {plain_s:6.1f} s")
        print(f"ratio                           {pilot_s / plain_s:6.2f}")
        print(json.dumps({"pilot_s": round(pilot_s, 2), "terraform_s": round(plain_s, 2)}))


if __name__ == "__main__":
    main()
