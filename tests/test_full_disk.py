"""A full disk mid-run: one message naming the path and the free space (exit 2), the study
intact, and the same command resuming once there is space. The run's disk is a small tmpfs
mounted for the test (skipped where this user cannot mount one)."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
from typer.testing import CliRunner

from archsearch.checkpoint import save_tensors
from archsearch.cli import app
from archsearch.errors import DiskFull, as_disk_full, disk_full_cause
from archsearch.study import completed


def test_a_full_disk_is_told_from_other_errors_through_wrappers() -> None:
    assert disk_full_cause(OSError(errno.ENOSPC, "No space left on device")) is not None
    assert disk_full_cause(OSError(errno.EDQUOT, "Disk quota exceeded")) is not None
    assert disk_full_cause(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full_cause(RuntimeError("unexpected pos 576 vs 534")) is None
    # torch.save through a file object: its RuntimeError has the OSError as its context
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError(
                "[enforce fail at inline_container.cc:672] unexpected pos"
            ) from None
    except RuntimeError as wrapped:
        wrapped.__suppress_context__ = False
        assert disk_full_cause(wrapped) is not None
    # SQLite's "database or disk is full", wrapped by SQLAlchemy then Optuna
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    outer = optuna.exceptions.StorageInternalError("An exception is raised during the commit.")
    outer.__cause__ = full
    found = as_disk_full(outer, "/runs/r")
    assert isinstance(found, DiskFull) and str(found.path) == "/runs/r"
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert disk_full_cause(locked) is None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (the report alone is ~4 MiB: plotly inline)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file that takes every free byte of ``disk``."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: nothing left to fail on close
        for chunk in (1 << 20, 4096, 1):
            try:
                while handle.write(b"\0" * chunk):
                    pass
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


def test_save_keeps_the_last_good_file_when_the_disk_fills(small_disk: Path) -> None:
    # what `archsearch train` relies on for its checkpoint: written beside, renamed over
    path = small_disk / "checkpoint.pt"
    save_tensors({"epoch": 3, "w": torch.arange(4.0)}, path)
    fill(small_disk)
    with pytest.raises(DiskFull) as raised:
        save_tensors({"epoch": 4, "w": torch.zeros(1_000_000)}, path)
    assert str(raised.value).startswith(f"{path}: the disk is full (")
    kept = torch.load(path, weights_only=True)
    assert kept["epoch"] == 3 and kept["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sorted(p.name for p in small_disk.iterdir()) == ["checkpoint.pt", "filler"]


@pytest.mark.parametrize(("full", "workers"), [("weights", 1), ("study", 1), ("run", 2)])
def test_a_run_stops_on_a_full_disk_and_the_same_command_resumes(
    small_disk: Path, tiny_space: Path, tmp_path: Path, full: str, workers: int
) -> None:
    # what is on the small disk: "weights" (the study on another disk: a trial's weights
    # file meets the full disk), "study" (the weights on another disk: the study's SQLite
    # database meets it), "run" (the whole run, 2 local worker processes)
    runs = small_disk / "runs"
    database = tmp_path / "study.db" if full == "weights" else runs / "f" / "study.db"
    if full == "study":
        (runs / "f").mkdir(parents=True)
        (tmp_path / "weights").mkdir()
        (runs / "f" / "weights").symlink_to(tmp_path / "weights")
    command = [
        "run", "--space", str(tiny_space), "--dataset", "synthetic", "--searcher", "random",
        "--pruner", "none", "--trials", "4", "--epochs", "15", "--workers", str(workers),
        "--name", "f", "--device", "cpu", "--runs-dir", str(runs),
        "--reports-dir", str(small_disk / "reports"),
    ]  # fmt: skip
    if full == "weights":
        command += ["--storage", f"sqlite:///{database}", "--study", "f"]
    filled: list[Path] = []

    def fill_after_a_trial() -> None:
        # read-only, straight from SQLite: nothing here may write to, or wait on, the run's study
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not stopped_run:
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as db:
                    done = db.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE'")
                    if done.fetchone()[0]:
                        filled.append(fill(small_disk))
                        return
            except sqlite3.Error:  # not made yet, or its tables not yet
                pass
            time.sleep(0.05)

    stopped_run: list[bool] = []
    filler = threading.Thread(target=fill_after_a_trial)
    filler.start()
    stopped = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    stopped_run.append(True)
    filler.join()
    assert filled, "the run ended before the disk was filled"
    assert stopped.exit_code == 2, stopped.output
    message = " ".join(stopped.stderr.split())
    # the file that did not fit; the study's database: its run's folder (SQLite does not say
    # which of its files); a worker's: the run that started it names the run's folder
    written = runs / "f" / ("weights/trial_" if full == "weights" else "")
    assert f"{written}" in message and "the disk is full (" in message, message
    assert "MiB free)" in message and "Traceback" not in stopped.output
    # the study is intact, and keeps the trials completed before the disk filled
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    study = optuna.load_study(study_name="f", storage=f"sqlite:///{database}")
    before = {t.number for t in completed(study)}
    assert len(before) >= 1
    filled[0].unlink()  # space again: the same command goes on
    resumed = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
    assert resumed.exit_code == 0, resumed.output
    study = optuna.load_study(study_name="f", storage=f"sqlite:///{database}")
    done = completed(study)
    assert len(done) == 4 and before <= {t.number for t in done}
    states = [t.state for t in study.get_trials()]
    assert optuna.trial.TrialState.RUNNING not in states


def test_train_keeps_its_last_checkpoint_on_a_full_disk_and_resumes(small_disk: Path) -> None:
    # `archsearch train` of 4 epochs into the small disk; it fills after the second epoch's
    # checkpoint: the third one does not fit. The message names it; the second stays whole,
    # and the same call, once there is space, goes on from epoch 2
    from archsearch.runs import FinalConfig, train_final
    from tests.test_final_training import ARCH

    arch = small_disk.parent / "arch.json"
    arch.write_text(ARCH.to_json())
    out = small_disk / "final"
    options = dict(arch=str(arch), dataset="synthetic", epochs=4, device="cpu", output=str(out))
    filled: list[Path] = []

    def fill_after_epoch_2(result, epochs) -> None:
        if result.epochs == 2:
            filled.append(fill(small_disk))

    with pytest.raises(DiskFull) as raised:
        train_final(FinalConfig(**options), on_progress=fill_after_epoch_2)
    assert str(raised.value).startswith(f"{out / 'checkpoint.pt'}: the disk is full (")
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 2
    assert not list(out.glob("*.partial"))
    filled[0].unlink()
    resumed = train_final(FinalConfig(**options))
    assert (resumed.resumed_from, resumed.epochs) == (2, 4)
    assert (out / "weights.pt").is_file()
