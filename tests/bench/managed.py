"""Benchmark deploys to managed targets in the sandbox (the local AWS API, moto), through the
real CLI as a user runs it:

- a zip Lambda: first deploy, no-change redeploy (median of N), a changed environment, and a
  rollback (an alias move: no build, no upload);
- an ECS service: first deploy (cluster, load balancer, task definition, service), a new
  revision, and a rollback (one service update).

moto answers from memory on this machine, so these figures are Pilot's own overhead (process
start, packaging, the calls it makes), not a cloud's provisioning time. Prints; asserts
nothing.

    .venv/bin/python tests/bench/managed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FUNCTION = HERE.parent / "fixtures" / "lambda" / "hello_fn"


def pilot(*args: str, cwd: Path) -> float:
    exe = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    start = time.perf_counter()
    done = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pilot-tui {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pilot-bench-managed-"))
    try:
        pilot("init", "--name", "bench", cwd=root)
        shutil.copytree(FUNCTION, root / "fn")
        with (root / "pilot.toml").open("a") as toml:
            toml.write(
                '\n[[apps]]\nname = "fn"\npath = "fn"\n[apps.target]\nkind = "lambda"\n'
                'package = "zip"\nmemory = 128\n[apps.env]\nGREETING = "hi"\n'
                '\n[[apps]]\nname = "svc"\npath = "fn"\n[apps.target]\nkind = "ecs"\n'
            )
        from pilot_tui.cloud.sandbox import Sandbox

        Sandbox(root / ".pilot").ensure()  # the emulators' start-up is not the deploy's
        first = pilot("deploy", "fn", cwd=root)
        same = [pilot("deploy", "fn", cwd=root) for _ in range(args.repeat)]
        text = (root / "pilot.toml").read_text().replace('GREETING = "hi"', 'GREETING = "hey"')
        (root / "pilot.toml").write_text(text)
        changed = pilot("deploy", "fn", cwd=root)
        back = pilot("rollback", "fn", cwd=root)
        print(
            f"zip Lambda: first deploy {first:.2f} s; no-change redeploy median "
            f"{statistics.median(same):.2f} s (max {max(same):.2f} s, n={len(same)}); "
            f"changed env {changed:.2f} s; rollback {back:.2f} s"
        )
        # ECS needs an image pushed from a Docker host; time the target itself instead.
        from pilot_tui.config.document import ProjectFile
        from pilot_tui.deploy.targets.ecs.service import open_ecs
        from pilot_tui.project import Project

        config = ProjectFile.load(root / "pilot.toml").check().config
        assert config is not None
        service = open_ecs(config, Project(root / "pilot.toml").state_dir, root, config.app("svc"))
        image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pilot-bench-svc@sha256:" + "a" * 64
        start = time.perf_counter()
        made = service.deploy(image, {"GREETING": "hi"}, "v1", lambda line: None)
        ecs_first = time.perf_counter() - start
        start = time.perf_counter()
        service.deploy(image.replace("a" * 64, "b" * 64), {}, "v2", lambda line: None)
        ecs_second = time.perf_counter() - start
        start = time.perf_counter()
        service.activate(made.ref, lambda line: None)
        ecs_back = time.perf_counter() - start
        print(
            f"ECS (the target's calls, no image push): first deploy {ecs_first:.2f} s; "
            f"new revision {ecs_second:.2f} s; rollback {ecs_back:.2f} s"
        )
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average: {load} ({os.cpu_count()} cores)")
    finally:
        subprocess.run(
            [
                shutil.which("pilot-tui", path=str(Path(sys.executable).parent)) or "pilot-tui",
                "sandbox",
                "stop",
            ],
            cwd=root,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
