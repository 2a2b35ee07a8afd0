"""One writer per output folder: a second process on a run folder or a train output folder
stops at once with the holder's PID; a holder killed with SIGKILL leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archsearch.cli import app
from archsearch.folder_lock import LOCK_FILE, FolderInUse, folder_lock
from archsearch.runs import RunConfig, run_search

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock: POSIX only")

HOLD = """
import sys, time
from pathlib import Path
from archsearch.folder_lock import folder_lock
with folder_lock(Path(sys.argv[1]), "choose another"):
    time.sleep(600)
"""


def _holder(folder: Path) -> subprocess.Popen[bytes]:
    """A process holding ``folder``'s lock; returned once its PID is in the lock file."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)])
    deadline = time.monotonic() + 60
    lock = folder / LOCK_FILE
    while time.monotonic() < deadline:
        if lock.is_file() and lock.read_text().strip() == str(process.pid):
            return process
        assert process.poll() is None, "the holder ended"
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the holder never took the lock")


def test_a_second_writer_is_refused_and_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    out = tmp_path / "final"
    holder = _holder(out)
    try:
        with pytest.raises(FolderInUse) as refused, folder_lock(out, "choose another folder"):
            pass
        assert str(refused.value) == (
            f"{out}: in use by another archsearch process (PID {holder.pid}); wait for it to"
            " end or stop it, or choose another folder"
        )
        # `archsearch train -o` on it: one message, exit 2, nothing written
        result = CliRunner().invoke(
            app, ["train", "--model", "mobilenet_v2", "--dataset", "synthetic", "--epochs", "1",
                  "--device", "cpu", "-o", str(out)],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert f"PID {holder.pid}" in result.stderr and "Traceback" not in result.output
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the OS released the killed holder's lock: the folder is free at once
    with folder_lock(out, "choose another folder"):
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_a_run_folder_is_locked_while_its_run_writes_it(tmp_path: Path, tiny_space: Path) -> None:
    config = RunConfig(
        space=str(tiny_space), dataset="synthetic", name="held", trials=1, device="cpu",
        runs_dir=str(tmp_path / "runs"), reports_dir=str(tmp_path / "reports"),
    )  # fmt: skip
    holder = _holder(config.run_dir)
    try:
        with pytest.raises(FolderInUse, match=rf"held: in use by .* \(PID {holder.pid}\).*--name"):
            run_search(config)
        assert not (config.run_dir / "study.db").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert len(run_search(config).study.trials) == 1  # free again: the run goes ahead
