"""Several workers on one study (local SQLite here): the budget is reached, a worker killed
with SIGKILL mid-trial loses only its trial, which another worker retries."""

from __future__ import annotations

import functools
import itertools
import signal
import time
from pathlib import Path

import optuna
import pytest
import torch
from typer.testing import CliRunner

from archsearch.cli import app
from archsearch.errors import ArchsearchError
from archsearch.runs import (
    RunConfig,
    RunProgress,
    RunResult,
    open_storage,
    run_search,
    worker_devices,
)
from archsearch.runs.workers import (
    FLOPS_SAMPLE,
    THREADED_FLOPS,
    WorkersChoice,
    choose_workers,
    median_flops,
)
from archsearch.searchers.guided import PROPOSAL_ATTR
from archsearch.study import completed, record_of
from tests.worker_scenario import kill_one_worker_mid_trial, start_workers, wait_for_heartbeats

#: they start worker processes: one at a time under pytest -n (see .ci/run)
pytestmark = pytest.mark.xdist_group("processes")

runner = CliRunner()


def create_study(
    tmp_path: Path, space: Path, name: str, epochs: int, searcher: str = "random"
) -> RunResult:
    """A one-trial search of ``space`` on synthetic data: a study workers can join. The guided
    searchers' own rule starts at their second trial."""
    config = RunConfig.from_options(
        space=str(space),
        dataset="synthetic",
        searcher=searcher,
        guided_startup=1,
        pruner="none",  # these tests count trials trained to the end
        name=name,
        trials=1,
        epochs=epochs,
        device="cpu",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    return run_search(config)


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
            "--pruner",
            "none",
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
    # exactly the budget: a worker starts a trial only while one of its places is free
    assert len(done) == 6
    assert len({t.number for t in done}) == len(done)
    assert (tmp_path / "reports" / "w.html").is_file()


def test_killed_worker_trial_is_retried(tmp_path: Path, tiny_space: Path) -> None:
    # creates the study; the workers read everything from it, searcher included: the
    # default, local search, whose proposals each worker makes from the shared study
    first = create_study(tmp_path, tiny_space, "k", epochs=120, searcher="local")
    kill_one_worker_mid_trial(first.storage, "k", tmp_path, count=2, trials=5)
    study = optuna.load_study(study_name="k", storage=open_storage(first.storage))
    rules = [t.system_attrs.get(PROPOSAL_ATTR, {}).get("rule") for t in study.trials]
    assert "local" in rules, rules


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
    unknown = runner.invoke(app, ["status", "--storage", "nonsense://x", "--study", "e"])
    assert unknown.exit_code == 2 and "unknown database type 'nonsense'" in unknown.stderr
    heroku = runner.invoke(app, ["worker", "--storage", "postgres://u@h/db", "--study", "e"])
    assert heroku.exit_code == 2 and "write postgresql://" in heroku.stderr
    # every command that reads a study names the missing one and lists those that exist
    for command in ("status", "report"):
        result = runner.invoke(app, [command, "--storage", first.storage, "--study", "nope"])
        assert result.exit_code == 2, command
        assert "--study 'nope': no such study" in result.stderr and "(it has: e)" in result.stderr


def test_worker_creates_a_missing_study_from_its_space(
    tmp_path: Path, tiny_space: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the created run's folders go to the current directory
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["worker", "--storage", url, "--study", "w", "--device", "cpu", "--trials", "1"]
    created = runner.invoke(app, [*args, "--space", str(tiny_space)])
    assert created.exit_code == 0, created.output
    study = optuna.load_study(study_name="w", storage=url)
    assert len(completed(study)) == 1
    assert study.user_attrs["config"]["space"] == str(tiny_space)
    assert study.user_attrs["space_yaml"] == tiny_space.read_text()

    # a study made from one space is never searched with another, by a worker or a run
    other = runner.invoke(app, [*args, "--space", "mobile"])
    assert other.exit_code == 2
    assert "'w'" in other.stderr and "created from another search space" in other.stderr
    run = runner.invoke(
        app, ["run", "--space", "mobile", "--storage", url, "--study", "w", "--trials", "1"]
    )
    assert run.exit_code == 2 and "created from another search space" in run.stderr
    assert "Traceback" not in other.output + run.output


def test_devices_are_given_to_workers_round_robin() -> None:
    assert worker_devices("cpu", 3) == ["cpu", "cpu", "cpu"]
    assert worker_devices(" cpu , cpu ", 2) == ["cpu", "cpu"]
    with pytest.raises(ArchsearchError, match="at least one device"):
        worker_devices(",", 2)
    with pytest.raises(ArchsearchError, match="'gpu0': expected auto, cpu, cuda or cuda:N"):
        worker_devices("cpu,gpu0", 2)
    if not torch.cuda.is_available():
        with pytest.raises(ArchsearchError, match="'cuda:0': CUDA is not available"):
            worker_devices("cuda:0,cuda:1", 4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_devices_round_robin_over_the_gpus() -> None:
    count = torch.cuda.device_count()
    names = ",".join(f"cuda:{i}" for i in range(count))
    assert worker_devices(names, 2 * count) == [f"cuda:{i % count}" for i in range(2 * count)]
    with pytest.raises(ArchsearchError, match=f"has {count} CUDA device"):
        worker_devices(f"cuda:{count}", 1)


def test_ctrl_c_stops_a_worker_cleanly(tmp_path: Path, tiny_space: Path) -> None:
    # about a second a trial: the press lands in training
    first = create_study(tmp_path, tiny_space, "c", epochs=60)
    (worker,) = start_workers(first.storage, "c", tmp_path, count=1, trials=20)
    study = optuna.load_study(study_name="c", storage=open_storage(first.storage))
    deadline = time.monotonic() + 90
    training: list[optuna.trial.FrozenTrial] = []
    while time.monotonic() < deadline and not training:
        training = [
            t
            for t in study.get_trials(deepcopy=False)
            if record_of(t).get("arch_id") and not t.state.is_finished()
        ]
        time.sleep(0.05)
    wait_for_heartbeats(first.storage, training)  # inside the trial's objective
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=60) == 130
    stderr = worker.stderr.read().decode()
    assert "Traceback" not in stderr and "retried by the workers" in " ".join(stderr.split())
    study = optuna.load_study(study_name="c", storage=open_storage(first.storage))
    (stopped,) = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert record_of(stopped)["reason"] == "interrupted (Ctrl-C)"
    (retry,) = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert retry.user_attrs["retry_of"] == stopped.number
    assert retry.system_attrs["fixed_params"] == stopped.params


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the dead worker's ask
def test_a_worker_that_meets_the_budget_leaves_no_dead_workers_trial_running(
    tmp_path: Path, tiny_space: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    base = {
        "space": str(tiny_space),
        "dataset": "synthetic",
        "searcher": "random",
        "device": "cpu",
        "storage": url,
        "study": "s",
        "name": "s",
        "heartbeat": 1,
        "trials": 1,
        "runs_dir": str(tmp_path / "runs"),
        "reports_dir": str(tmp_path / "reports"),
    }
    run_search(RunConfig(**base))  # the budget (1 trial) is met
    # a worker that died in a trial: one heartbeat, then silence
    backend = open_storage(url, heartbeat=1)
    dead = optuna.load_study(study_name="s", storage=backend).ask()
    backend.record_heartbeat(dead._trial_id)
    status = runner.invoke(app, ["status", "--storage", url, "--study", "s", "--json"])
    assert status.exit_code == 0, status.output
    assert '"running": 1' in status.stdout  # not stale yet: it beat a moment ago

    # another worker finds the budget met; before it exits it waits for the silent trial to go
    # stale (3 beats) and fails it, so it is queued again rather than RUNNING for good
    done = runner.invoke(app, ["worker", "--storage", url, "--study", "s", "--heartbeat", "1"])
    assert done.exit_code == 0, done.output
    study = optuna.load_study(study_name="s", storage=url)
    failed = study.trials[dead.number]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert record_of(failed)["reason"] == "its worker went silent (no heartbeat)"
    (retry,) = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == 1
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the dead worker's ask
def test_status_shows_a_silent_trial_as_stale(tmp_path: Path, tiny_space: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    config = RunConfig(
        space=str(tiny_space),
        dataset="synthetic",
        device="cpu",
        storage=url,
        study="s",
        name="s",
        heartbeat=1,
        trials=1,
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    run_search(config)
    backend = open_storage(url, heartbeat=1)
    dead = optuna.load_study(study_name="s", storage=backend).ask()
    backend.record_heartbeat(dead._trial_id)
    time.sleep(4.5)  # three beats missed: past the 3 s grace period
    status = runner.invoke(app, ["status", "--storage", url, "--study", "s"])
    assert status.exit_code == 0, status.output
    assert "1 running, 1 of them stale (worker silent)" in " ".join(status.stdout.split())


def test_worker_options_create_a_study_or_must_match_it(tmp_path: Path, tiny_space: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["worker", "--storage", url, "--study", "o", "--device", "cpu", "--trials", "1"]
    runs = ["--runs-dir", str(tmp_path / "runs")]
    created = runner.invoke(
        app,
        [*args, *runs, "--space", str(tiny_space), "--dataset", "synthetic", "--epochs", "1"],
    )
    assert created.exit_code == 0, created.output
    study = optuna.load_study(study_name="o", storage=url)
    stored = study.user_attrs["config"]
    assert (stored["dataset"], stored["epochs"], stored["searcher"]) == ("synthetic", 1, "local")
    assert [record_of(t)["epochs"] for t in completed(study)] == [1]
    # joining with the same options, or none, is fine; another value is refused by its flag
    same = runner.invoke(app, [*args, *runs, "--dataset", "synthetic", "--trials", "2"])
    assert same.exit_code == 0, same.output
    other = runner.invoke(app, [*args, "--epochs", "3"])
    assert other.exit_code == 2
    assert "--epochs: study 'o' in" in other.stderr and "epochs=1" in other.stderr


# --- --workers auto --------------------------------------------------------------------------
def _never() -> float:
    raise AssertionError("the candidates' flops are not needed for this choice")


def test_auto_workers_choice_on_a_stubbed_calibration() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    choose = functools.partial(
        choose_workers, "auto", searcher="local", device=cpu, devices=None, cores=2
    )
    # small candidates and 8 trials per core (2 x 8 = 16): one process per core, 1 thread
    small = choose(trials=16, flops=lambda: 2e6)
    assert (small.workers, small.threads) == (2, 1)
    assert small.describe() == (
        "2 processes x 1 thread (candidates of 2,000,000 flops: one per core trains them fastest)"
    )
    # at the threshold still processes; over it one process with both cores' threads
    assert choose(trials=16, flops=lambda: THREADED_FLOPS).workers == 2
    large = choose(trials=16, flops=lambda: THREADED_FLOPS + 1)
    assert (large.workers, large.threads) == (1, 2)
    # decided before the flops are needed: 15 trials < 16; one core; a run no worker can
    # join (tuning one network, data in memory: flops None); a picking searcher; CUDA
    assert (choose(trials=15, flops=_never).workers, choose(trials=15, flops=_never).threads) == (
        1,
        2,
    )
    assert choose(trials=100, flops=_never, cores=1) == WorkersChoice(1, 1, "one core")
    assert choose(trials=100, flops=None).workers == 1
    assert choose(trials=100, flops=_never, searcher="darts").workers == 1
    assert choose(trials=100, flops=_never, device=cuda).workers == 1
    two_gpus = choose(trials=100, flops=_never, device=cuda, devices="cuda:0, cuda:1")
    assert (two_gpus.workers, two_gpus.threads) == (2, 1)
    # a number is kept, with the cores shared among its processes: 4 // 3 = 1, 4 // 1 = 4
    assert choose_workers(
        3, searcher="local", device=cpu, devices=None, trials=1, flops=_never, cores=4
    ) == WorkersChoice(3, 1, "as given")
    assert choose_workers(1, searcher="local", device=cpu, devices=None, trials=1,
                          flops=_never, cores=4).threads == 4  # fmt: skip


def test_workers_option_is_auto_or_a_count() -> None:
    assert RunConfig().workers == "auto"
    assert RunConfig(workers="3").workers == 3  # the flag's text
    for bad, says in (("0", "at least 1"), ("two", "auto or a number"), (1.5, "auto or")):
        with pytest.raises(ArchsearchError, match=says):
            RunConfig(workers=bad)
    with pytest.raises(ArchsearchError, match="one process"):
        RunConfig(searcher="darts", workers=2)
    assert RunConfig(searcher="darts").workers == "auto"  # auto: one process for DARTS


def test_median_flops_of_a_space_and_of_a_fixed_network(tiny_space: Path) -> None:
    from archsearch.data import load_dataset
    from archsearch.objective import Candidates
    from archsearch.profiler import architecture_costs
    from archsearch.space import load_space

    data = load_dataset("synthetic")
    space = load_space(str(tiny_space))
    shape = (1, data.in_channels, *data.input_size)
    drawn = space.sample(FLOPS_SAMPLE, 0, data.input_size)
    flops = sorted(architecture_costs(a, shape, data.num_classes).flops for a in drawn)
    # 16 drawn: the median is the mean of the 8th and 9th
    assert median_flops(Candidates(space=space), data, 0) == (flops[7] + flops[8]) / 2
    assert (
        median_flops(Candidates(architecture=drawn[3]), data, 0)
        == architecture_costs(drawn[3], shape, data.num_classes).flops
    )


def test_auto_workers_run_trains_in_two_processes(
    tmp_path: Path, tiny_space: Path, monkeypatch
) -> None:
    monkeypatch.setattr("archsearch.runs.workers.available_cores", lambda: 2)
    messages: list[str] = []
    config = RunConfig(
        space=str(tiny_space),
        dataset="synthetic",
        searcher="random",
        pruner="none",
        name="auto",
        trials=16,  # 8 per core: enough to share
        epochs=6,
        device="cpu",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    shown: list[int] = []
    progress = RunProgress(
        on_message=messages.append, on_trial=lambda trial, *_: shown.append(trial.number)
    )
    result = run_search(config, progress=progress)
    # each finished trial is shown once, whichever worker ran it and in whatever order
    finished = [t.number for t in result.study.trials if t.state.is_finished()]
    assert sorted(shown) == finished
    chosen = [m for m in messages if m.startswith("workers (auto)")]
    assert chosen and chosen[0].startswith("workers (auto): 2 processes x 1 thread"), messages
    done = completed(result.study)
    assert len(done) == 16  # exactly the budget (see archsearch.study.places_taken)
    # two processes: some trial started before another one had finished
    spans = sorted((t.datetime_start, t.datetime_complete) for t in done)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    # the run stores the count it used, so a resumed run shows it
    assert result.study.user_attrs["config"]["workers"] == 2
