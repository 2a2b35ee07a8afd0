"""Built-in spaces load from a non-editable install (a wheel), not only from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_the_search_spaces(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("archsearch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for space in ("mobile", "resnet", "inception", "mixed", "nb-mobile"):
        assert f"archsearch/search_spaces/{space}.yaml" in names
    assert "archsearch/tables/nb-mobile-digits.csv.gz" in names  # the shipped table

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import archsearch, sys; "
        "assert archsearch.__file__.startswith(sys.argv[1]), archsearch.__file__; "
        "print(sorted(archsearch.list_spaces())); "
        "print(archsearch.load_space('mobile').name)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    spaces = "['inception', 'mixed', 'mobile', 'nb-mobile', 'resnet']"
    assert run.stdout.split("\n")[:2] == [spaces, "mobile"]
