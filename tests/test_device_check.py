"""The device check runs on the CPU as a dry run, so it is known to work before a GPU is
lent (benchmarks/device_check.sh --device cpu). Its first step, the CUDA-marked tests, is left
out here (DEVICE_CHECK_TESTS=0): this is the test suite already, where they skip without CUDA;
the script's own pytest call is checked to select them (cuda marker, tests folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SECTIONS = (
    "### Trainer against a bare loop",
    "### Training a 32x32 candidate",
    "### Latency",
    "### One-shot step memory (batch 64)",
    "### `archsearch train` of one candidate",
)


@pytest.mark.slow
@pytest.mark.xdist_group("processes")  # scripts in processes
def test_the_cpu_dry_run_writes_every_section(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "DEVICE_CHECK_TESTS": "0"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "device_check.sh"), "--device", "cpu"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = (tmp_path / "device_check.md").read_text()
    assert report.startswith("## Device check (")
    assert "CUDA-marked tests: not run (DEVICE_CHECK_TESTS=0)" in report
    script = (ROOT / "benchmarks" / "device_check.sh").read_text()
    assert "-m pytest -q -m cuda -p no:randomly -rs tests" in script
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert "device cpu (quick dry run)" in report
    # every table has its rows: the 32x32 candidate's params, the training's test accuracy
    train_row = report.rsplit("|---|", 1)[1]
    assert "digits at 16x16, train+val, EMA 0.9" in train_row
