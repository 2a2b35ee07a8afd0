"""Workers sharing one study in a real PostgreSQL server (started by the fixture)."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest

from archsearch.runs import RunConfig, open_storage, run_search
from archsearch.study import completed
from tests.worker_scenario import kill_one_worker_mid_trial, start_workers, wait_for_heartbeats

#: they start worker processes: one at a time under pytest -n (see .ci/run)
pytestmark = pytest.mark.xdist_group("processes")


def test_four_workers_one_killed(postgres_url: str, tmp_path: Path, tiny_space: Path) -> None:
    run_search(
        RunConfig(
            space=str(tiny_space),
            dataset="synthetic",
            searcher="random",
            pruner="none",  # these tests count trials trained to the end
            name="pg4",
            trials=1,
            epochs=120,
            device="cpu",
            storage=postgres_url,
            study="pg4",
            runs_dir=str(tmp_path / "runs"),
            reports_dir=str(tmp_path / "reports"),
        )
    )
    kill_one_worker_mid_trial(postgres_url, "pg4", tmp_path, count=4, trials=10)


def test_grid_over_four_workers_evaluates_each_point_once(
    postgres_url: str, tmp_path: Path, tiny_space: Path
) -> None:
    result = run_search(
        RunConfig(
            space=str(tiny_space),
            dataset="synthetic",
            searcher="grid",
            pruner="none",  # these tests count trials trained to the end
            name="pgg",
            trials=4,
            workers=4,
            heartbeat=2,
            device="cpu",
            storage=postgres_url,
            study="pgg",
            runs_dir=str(tmp_path / "runs"),
            reports_dir=str(tmp_path / "reports"),
        )
    )
    points = [
        (t.params["stage1.out_channels"], t.params["stage1.block"])
        for t in completed(result.study)
    ]
    # out_channels x block = 2 x 2 points, each queued once and taken by exactly one worker
    assert sorted(points) == sorted({(8, "mbconv"), (8, "dwsep"), (16, "mbconv"), (16, "dwsep")})


def test_worker_rides_out_a_database_restart(
    postgres_server, tmp_path: Path, tiny_space: Path
) -> None:
    url = postgres_server.url
    create_shared_study(url, "pgr", tmp_path, tiny_space, epochs=60)
    (worker,) = start_workers(url, "pgr", tmp_path, 1, 5)
    study = optuna.load_study(study_name="pgr", storage=open_storage(url))
    deadline = time.monotonic() + 60
    while len(completed(study)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker.poll() is None, "the worker finished before the database went away"
    postgres_server.stop()  # the database goes away for a few seconds
    time.sleep(3)
    postgres_server.start()
    assert worker.wait(timeout=300) == 0, worker.stderr.read().decode()[-2500:]
    study = optuna.load_study(study_name="pgr", storage=open_storage(url))
    assert len(completed(study)) >= 5


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archsearch.cli import app

    result = CliRunner().invoke(
        app,
        ["worker", "--storage", "postgresql+psycopg://postgres@127.0.0.1:9/none", "--study", "x"],
    )
    assert result.exit_code == 2 and "cannot open" in result.stderr


def test_a_killed_run_leaves_no_trial_running_once_the_worker_is_done(
    postgres_url: str, tmp_path: Path, tiny_space: Path
) -> None:
    """The run (which searches too) is killed with SIGKILL mid-trial; the worker meets the
    budget, and before it exits it fails the run's silent trial, which is queued again."""
    import signal
    import subprocess
    import sys

    from archsearch.study import record_of

    run = subprocess.Popen(
        [sys.executable, "-m", "archsearch", "run", "--space", str(tiny_space), "--dataset",
         "synthetic", "--searcher", "random", "--pruner", "none", "--trials", "4", "--epochs",
         "60", "--device", "cpu", "--storage", postgres_url, "--study", "rk", "--name", "rk",
         "--heartbeat", "1",
         "--runs-dir", str(tmp_path / "runs"), "--reports-dir", str(tmp_path / "reports")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    storage = open_storage(postgres_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "rk" not in optuna.get_all_study_names(storage):
        time.sleep(0.1)
    (worker,) = start_workers(postgres_url, "rk", tmp_path, count=1, trials=4)
    study = optuna.load_study(study_name="rk", storage=storage)
    while time.monotonic() < deadline:  # both in training, heartbeats running
        training = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.RUNNING and record_of(t).get("arch_id")
        ]
        if len(training) == 2:
            break
        time.sleep(0.05)
    wait_for_heartbeats(postgres_url, training)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert worker.wait(timeout=300) == 0, worker.stderr.read().decode()[-2500:]
    study = optuna.load_study(study_name="rk", storage=storage)
    assert len(completed(study)) >= 4, [
        (t.number, t.state.name, t.user_attrs.get("reason"), t.system_attrs) for t in study.trials
    ]
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    (failed,) = study.get_trials(states=(optuna.trial.TrialState.FAIL,))  # the run's trial
    retried = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number
    assert [retried(t) for t in study.trials if retried(t) is not None] == [failed.number]


def test_a_connection_the_server_cut_is_replaced(postgres_url: str) -> None:
    # each process keeps at most 2 + 1 connections (24 workers: 72 of PostgreSQL's default
    # 100) and tests a pooled connection before use; a connection the server cut (an idle
    # timeout, a restart, pg_terminate_backend) does not fail the process's next write

    storage = open_storage(postgres_url)
    pool = storage.engine.pool
    assert (pool.size(), pool._max_overflow, pool._pre_ping, pool._recycle) == (2, 1, True, 1800)
    study = optuna.create_study(storage=storage, study_name=f"cut-{time.time_ns()}")
    study.enqueue_trial({"x": 1.0})
    cut = cut_connections(postgres_url)
    assert cut >= 1  # the storage's pooled connection, at least
    study.enqueue_trial({"x": 2.0})  # on a new connection: no OperationalError
    assert [t.params for t in study.get_trials()] == [{}, {}]  # two queued (params on ask)
    assert len(study.get_trials()) == 2


def test_a_worker_whose_connections_are_cut_in_training_carries_on(
    postgres_url: str, tmp_path: Path, tiny_space: Path
) -> None:
    # the server cuts every connection of a worker while it trains (its heartbeat thread's
    # included): the trial trains to the end and is recorded as the same trial, the worker
    # meets the budget (2) and exits 0; nothing fails, nothing is retried

    from archsearch.study import judged, record_of

    create_shared_study(postgres_url, "cutw", tmp_path, tiny_space, epochs=60)
    (worker,) = start_workers(postgres_url, "cutw", tmp_path, count=1, trials=2)
    storage = open_storage(postgres_url)
    study = optuna.load_study(study_name="cutw", storage=storage)
    deadline = time.monotonic() + 120
    training: list[optuna.trial.FrozenTrial] = []
    while time.monotonic() < deadline and not training:
        training = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.RUNNING and record_of(t).get("arch_id")
        ]
        time.sleep(0.05)
    assert training, "the worker never trained"
    wait_for_heartbeats(postgres_url, training)
    storage.engine.dispose()  # this test's own connections: what is left is the worker's
    cut = cut_connections(postgres_url)
    assert cut >= 1
    assert worker.poll() is None, "the worker had finished before its connections were cut"
    assert worker.wait(timeout=300) == 0, worker.stderr.read().decode()[-2500:]
    study = optuna.load_study(study_name="cutw", storage=open_storage(postgres_url))
    trials = study.get_trials()
    assert trials[training[0].number].state == optuna.trial.TrialState.COMPLETE
    assert [t.state for t in trials if t.state != optuna.trial.TrialState.COMPLETE] == []
    assert len(judged(study)) == 2  # the run's trial and the one cut mid-training


@pytest.mark.scale
def test_twenty_four_workers_on_one_server(
    postgres_url: str, tmp_path: Path, tiny_space: Path
) -> None:
    # 24 worker processes, 1 thread each, tiny trials, one study: no "too many clients" (each
    # keeps at most 3 connections: 72 of the server's 100), every worker ends cleanly, nothing
    # is left RUNNING, and the budget of 48 is met exactly (each running trial holds a place)
    create_shared_study(postgres_url, "pg24", tmp_path, tiny_space, epochs=2)
    workers = start_workers(postgres_url, "pg24", tmp_path, count=24, trials=48)
    errors = [w.communicate(timeout=600)[1].decode() for w in workers]
    assert [w.returncode for w in workers] == [0] * 24, [e[-500:] for e in errors if e][:2]
    assert not [e for e in errors if "too many clients" in e]
    study = optuna.load_study(study_name="pg24", storage=open_storage(postgres_url))
    states = [t.state for t in study.get_trials()]
    assert optuna.trial.TrialState.RUNNING not in states
    done = completed(study)
    assert len(done) == 48, len(done)
    surplus = [t for t in study.trials if t.user_attrs.get("reason", "").startswith("not trained")]
    print(
        f"\n24 workers: {len(done)} completed, {len(surplus)} given back untrained,"
        f" {len(study.trials)} trials"
    )
    assert len({t.number for t in done}) == len(done)
    assert all(t.values is not None and len(t.values) == 2 for t in done)


def create_shared_study(url: str, name: str, tmp_path: Path, space: Path, epochs: int) -> None:
    """The study workers join, made by a 1-trial random run of ``space`` on synthetic data
    (no pruning: these tests count trials trained to the end)."""
    run_search(
        RunConfig(
            space=str(space), dataset="synthetic", searcher="random", pruner="none", name=name,
            trials=1, epochs=epochs, device="cpu", storage=url, study=name,
            runs_dir=str(tmp_path / "runs"), reports_dir=str(tmp_path / "reports"),
        )
    )  # fmt: skip


def cut_connections(url: str) -> int:
    """Have the server cut every connection to the database but this one's; how many."""
    import sqlalchemy

    admin = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with admin.connect() as connection:
        return connection.execute(
            sqlalchemy.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
