"""SIGKILL a writer at random instants: pilot.toml is always the old or the new file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import tomllib

import pytest

from pilot_tui.config.document import ProjectFile, set_in_text
from pilot_tui.config.starter import starter_text
from tests.conftest import PILOT

REGIONS = ("us-east-1", "eu-west-1")


def _contents(path):
    base = starter_text("crash")
    return {set_in_text(base, "aws.region", region) for region in REGIONS}


def _writer_forever(path) -> None:
    """Child process: save pilot.toml over and over through the real save path."""
    try:
        n = 0
        while True:
            pf = ProjectFile.load(path)
            pf.save(set_in_text(pf.text, "aws.region", REGIONS[n % 2]))
            n += 1
    finally:
        os._exit(0)


@pytest.mark.slow
def test_sigkill_during_repeated_saves_never_tears_the_file(tmp_path):
    path = tmp_path / "pilot.toml"
    allowed = _contents(path)
    path.write_text(set_in_text(starter_text("crash"), "aws.region", REGIONS[0]))
    rng = random.Random(1234)
    kills = 0
    for _ in range(400):
        pid = os.fork()
        if pid == 0:
            _writer_forever(path)
        time.sleep(rng.uniform(0, 0.004))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        text = path.read_text()
        assert text in allowed, f"torn file after kill {kills}"
        tomllib.loads(text)
    assert kills == 400
    # Temp files of killed writers are swept by the next successful write.
    ProjectFile.load(path).save(set_in_text(path.read_text(), "aws.region", REGIONS[1]))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "pilot.toml"]
    assert leftovers == []


def _set_region(tmp_path, region):
    return subprocess.Popen(
        [PILOT, "config", "set", "aws.region", region],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_sigkill_of_the_real_cli_during_config_set(tmp_path):
    path = tmp_path / "pilot.toml"
    path.write_text(set_in_text(starter_text("crash"), "aws.region", REGIONS[0]))
    allowed = _contents(path)
    # Kill within 0..1.5x the time one uncontested run takes, so kills land before, during
    # and after the write on fast and slow machines alike.
    start = time.monotonic()
    assert _set_region(tmp_path, REGIONS[1]).wait() == 0
    took = time.monotonic() - start
    rng = random.Random(99)
    landed = missed = 0
    for _ in range(40):
        current = tomllib.loads(path.read_text())["aws"]["region"]
        wanted = REGIONS[1 - REGIONS.index(current)]
        proc = _set_region(tmp_path, wanted)
        time.sleep(rng.uniform(0.0, took * 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = path.read_text()
        assert text in allowed
        if tomllib.loads(text)["aws"]["region"] == wanted:
            landed += 1
        else:
            missed += 1
    assert landed and missed, (landed, missed)
