"""Every script in examples/ runs, on tiny settings (2 candidates of 1 epoch)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str, cwd: Path) -> str:
    # one torch thread: the script is one process, like a test beside the other xdist worker
    # (not in the "processes" group, which holds tests that start several)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_search_arrays(tmp_path: Path) -> None:
    text = run_example("search_arrays.py", "--trials", "2", "--epochs", "1", cwd=tmp_path)
    assert "test_accuracy" in text and "report:" in text
    assert len(list((tmp_path / "runs" / "digits-arrays").glob("data-*.npz"))) == 1


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for index in range(10):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{index}.png")
    args = ("photos", "--resolution", "8", "--trials", "2", "--epochs", "1", "--timeout", "120")
    text = run_example("image_folder.py", *args, cwd=tmp_path)
    assert "accuracy" in text and (tmp_path / "runs" / "my-photos" / "study.db").is_file()


def test_search_train_export(tmp_path: Path) -> None:
    args = ("--trials", "2", "--epochs", "1", "--final-epochs", "1")
    text = run_example("search_train_export.py", *args, cwd=tmp_path)
    assert "test accuracy" in text
    assert (tmp_path / "exported" / "trained" / "weights.pt").is_file()
    if importlib.util.find_spec("onnx"):  # the `onnx` extra (installed by the test command)
        assert "onnx:" in text
