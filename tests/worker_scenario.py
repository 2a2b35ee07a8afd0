"""The kill-a-worker scenario, shared by the SQLite and the PostgreSQL tests."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from archsearch.runs import open_storage, worker_command
from archsearch.study import completed, record_of


def start_workers(
    storage: str, study: str, cwd: Path, count: int, trials: int
) -> list[subprocess.Popen]:
    """``count`` CPU workers, one thread each, 1 s heartbeat, distinct sampler seeds."""
    return [
        subprocess.Popen(
            worker_command(storage, study, "cpu", trials, 1, 1, seed),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # SIGINT as in a terminal, even where the shell started pytest in the background
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        for seed in range(count)
    ]


def wait_for_heartbeats(storage: str, trials: list[optuna.trial.FrozenTrial]) -> None:
    """Until each of ``trials`` has its first heartbeat in the storage: written by its worker's
    heartbeat thread, after the trial starts. A trial without one is never seen as stale, so
    a signal sent before it would leave the trial running for good. Polled, not slept: a
    loaded machine may take longer than any fixed pause."""
    from sqlalchemy import text

    engine = open_storage(storage).engine
    wanted = {t._trial_id for t in trials}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT trial_id FROM trial_heartbeats"))
            if wanted <= {row[0] for row in rows}:
                return
        time.sleep(0.02)
    pytest.fail(f"trials {sorted(t.number for t in trials)} never sent a heartbeat")


def kill_one_worker_mid_trial(
    storage: str, study_name: str, cwd: Path, count: int, trials: int
) -> None:
    """Start ``count`` workers, SIGKILL one while every worker is in a trial, and check: the
    budget is reached, no completed trial is lost or duplicated, the killed trial is failed
    and retried once with its parameters."""
    workers = start_workers(storage, study_name, cwd, count, trials)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    deadline = time.monotonic() + 90
    running: list[int] = []
    while time.monotonic() < deadline:
        trials_now = study.get_trials(deepcopy=False)
        running = [t.number for t in trials_now if t.state == optuna.trial.TrialState.RUNNING]
        # in training: the candidate record is written, the heartbeat thread has started (a
        # trial without a heartbeat is never seen as stale, so never retried)
        training = [n for n in running if record_of(trials_now[n]).get("arch_id")]
        if len(training) == count:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the {count} workers never ran trials at the same time")
    wait_for_heartbeats(storage, [trials_now[n] for n in training])
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    for worker in workers[1:]:
        assert worker.wait(timeout=400) == 0, worker.stderr.read()
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    done = completed(study)
    # exactly the budget: the dead worker's trial held its place until its heartbeat went
    # stale, then was failed and queued again for a surviving worker
    assert len(done) == trials
    assert len({t.number for t in done}) == len(done)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 1 and failed[0].number in running, [t.number for t in failed]
    retries = [
        t
        for t in study.trials
        if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
        == failed[0].number
    ]
    assert len(retries) == 1 and retries[0].params == failed[0].params
