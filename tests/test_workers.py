"""Several workers on one study (local SQLite here): the budget is reached, a worker killed
with SIGKILL mid-trial loses only its trial, which another worker retries."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from archsearch.cli import app
from archsearch.run import RunConfig, run_search
from archsearch.storage import open_storage
from archsearch.study import completed

runner = CliRunner()


def test_run_with_two_local_workers(tmp_path: Path, tiny_space: Path) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            str(tiny_space),
            "--dataset",
            "synthetic",
            "--trials",
            "6",
            "--workers",
            "2",
            "--searcher",
            "random",
            "--name",
            "w",
            "--device",
            "cpu",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    study = optuna.load_study(
        study_name="w", storage=f"sqlite:///{tmp_path / 'runs' / 'w' / 'study.db'}"
    )
    done = completed(study)
    # each worker stops once the budget is met: at most one extra trial per other worker
    assert 6 <= len(done) <= 7
    assert len({t.number for t in done}) == len(done)
    assert (tmp_path / "reports" / "w.html").is_file()


def test_killed_worker_trial_is_retried(tmp_path: Path, tiny_space: Path) -> None:
    config = RunConfig(
        space=str(tiny_space),
        dataset="synthetic",
        searcher="random",
        name="k",
        trials=1,
        epochs=120,
        device="cpu",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    first = run_search(config)  # creates the study; the workers read everything from it
    storage = first.storage
    command = [
        sys.executable,
        "-m",
        "archsearch",
        "worker",
        "--storage",
        storage,
        "--study",
        "k",
        "--trials",
        "5",
        "--heartbeat",
        "1",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    workers = [
        subprocess.Popen(
            [*command, "--seed", str(i)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    study = optuna.load_study(study_name="k", storage=open_storage(storage))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = [
            t.number
            for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.RUNNING
        ]
        if len(running) == 2:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the two workers never ran trials at the same time")
    time.sleep(0.5)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    assert workers[1].wait(timeout=240) == 0, workers[1].stderr.read()
    study = optuna.load_study(study_name="k", storage=open_storage(storage))
    done = completed(study)
    assert len(done) == 5 and len({t.number for t in done}) == 5
    killed = [
        study.trials[n] for n in running if study.trials[n].state == optuna.trial.TrialState.FAIL
    ]
    assert len(killed) == 1, [study.trials[n].state for n in running]
    retried = [
        t
        for t in study.trials
        if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
        == killed[0].number
    ]
    assert len(retried) == 1 and retried[0].params == killed[0].params


def test_worker_errors(tmp_path: Path, tiny_space: Path) -> None:
    first = run_search(
        RunConfig(
            space=str(tiny_space),
            dataset="synthetic",
            name="e",
            trials=1,
            device="cpu",
            runs_dir=str(tmp_path / "runs"),
            reports_dir=str(tmp_path / "reports"),
        )
    )
    missing = runner.invoke(app, ["worker", "--storage", first.storage, "--study", "nope"])
    assert missing.exit_code == 2 and "no such study" in missing.stderr
    bad_url = runner.invoke(
        app, ["worker", "--storage", "mysql://x@127.0.0.1:1/none", "--study", "e"]
    )
    assert bad_url.exit_code == 2 and "storage" in bad_url.stderr
