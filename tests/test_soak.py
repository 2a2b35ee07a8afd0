"""A soak: a run and workers on one PostgreSQL, one process killed (SIGKILL) every few seconds
and replaced, the database restarted once. Counts what the promises are about — completed,
failed and retried, lost (must be 0), left RUNNING (must be 0) — and prints them (the figures
in benchmarks/RESULTS.md). Marked ``scale``: deselected by default and in CI
(``python -m pytest -m scale tests/test_soak.py -s``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from archsearch.runs import open_storage
from archsearch.study import judged
from tests.worker_scenario import start_workers

BUDGET = 40
PROCESSES = 4  # the run and 3 workers at a time
KILLS = 12
KILL_EVERY_S = 3.0
RESTART_AFTER_KILL = 6  # the database goes away for 2 s after this kill


def retried(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """The trials that some trial retries: Optuna's heartbeat retry lists the chain of them
    (a retry that failed in turn is retried with it), archsearch's (Ctrl-C, a run that
    recovers its own) names the one."""
    numbers = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    return numbers | {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}


@pytest.mark.scale
def test_soak_kills_and_a_database_restart(
    postgres_server, tmp_path: Path, tiny_space: Path
) -> None:
    url = postgres_server.url
    run = subprocess.Popen(
        [sys.executable, "-m", "archsearch", "run", "--space", str(tiny_space), "--dataset",
         "synthetic", "--searcher", "random", "--pruner", "none", "--trials", str(BUDGET),
         "--epochs", "30", "--device", "cpu", "--storage", url, "--study", "soak", "--name",
         "soak", "--heartbeat", "1", "--workers", "1", "--runs-dir", str(tmp_path / "runs"),
         "--reports-dir", str(tmp_path / "reports")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    storage = open_storage(url)
    deadline = time.monotonic() + 120
    while "soak" not in optuna.get_all_study_names(storage):
        assert time.monotonic() < deadline and run.poll() is None, run.stderr.read().decode()
        time.sleep(0.1)
    processes = [run, *start_workers(url, "soak", tmp_path, PROCESSES - 1, BUDGET)]
    study = optuna.load_study(study_name="soak", storage=storage)
    rng = random.Random(int(os.environ.get("SOAK_SEED", "0")))  # which process is killed
    kills = restarts = 0
    started = time.monotonic()
    while kills < KILLS and len(judged(study)) < BUDGET:
        time.sleep(KILL_EVERY_S)
        alive = [p for p in processes if p.poll() is None]
        if not alive:
            break
        victim = rng.choice(alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        kills += 1
        if kills == RESTART_AFTER_KILL:  # the running processes wait and retry meanwhile
            storage.engine.dispose()
            postgres_server.stop("fast")
            time.sleep(2)
            postgres_server.start()
            restarts += 1
        # (after the restart: a worker that cannot reach the database at its start stops at
        # once with "cannot open", exit 2 — a wrong URL looks the same)
        processes += start_workers(url, "soak", tmp_path, 1, BUDGET)
    for process in processes:
        try:
            process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("a worker did not end within 10 minutes of the last kill")
    ended = {id(p): p.stderr.read().decode() for p in processes if p.returncode not in (0, -9)}
    # a worker still starting while the database was down stops at once ("cannot open", exit
    # 2: an unreachable server reads as a wrong URL would); a supervisor starts it again
    refused = [p for p in processes if p.returncode == 2 and "cannot open" in ended[id(p)]]
    crashed = [ended[id(p)][-800:] for p in processes if id(p) in ended and p not in refused]
    seconds = time.monotonic() - started

    study = optuna.load_study(study_name="soak", storage=open_storage(url))
    trials = study.get_trials()
    states = [t.state for t in trials]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    retried_numbers = retried(trials)
    lost = [t.number for t in failed if t.number not in retried_numbers]
    surplus = [t for t in trials if t.user_attrs.get("reason", "").startswith("not trained")]
    print(
        f"\nsoak: {seconds:.0f} s, {kills} kills (SIGKILL), {restarts} database restart,"
        f" {len(processes)} processes; trials {len(trials)}: judged {len(judged(study))}"
        f" (budget {BUDGET}), failed {len(failed)} (retried {len(retried_numbers)}),"
        f" lost {len(lost)},"
        f" left RUNNING {states.count(TrialState.RUNNING)},"
        f" queued and not needed {states.count(TrialState.WAITING)},"
        f" given back untrained {len(surplus)}; {len(refused)} workers could not start while"
        f" the database was down; exits {[p.returncode for p in processes]}"
    )
    assert not crashed, crashed
    assert TrialState.RUNNING not in states
    assert lost == [], [(t.number, t.user_attrs.get("reason")) for t in failed]
    assert len(judged(study)) == BUDGET
