"""The Pareto pruner (MO-ASHA) on studies with known curves, across two storage handles, in a
real run, and after a SIGKILL; and the Pareto arithmetic it is built on."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from archsearch.pareto import crowding_distances, hypervolume_2d, nondominated_ranks
from archsearch.runs import RunConfig, run_search
from archsearch.searchers.pruners import ParetoAshaPruner
from archsearch.study import (
    CANDIDATE_ATTR,
    epoch_accuracies,
    frozen,
    judged,
    record_epochs,
    record_of,
    status_of,
)

from .test_run import _poll, run_command


# --- the arithmetic ---------------------------------------------------------------------------
def test_nondominated_ranks_by_hand_and_against_optuna() -> None:
    # minimised: (1,3) (2,2) (3,1) trade off (front 0); (2,3) is dominated by (1,3) and (2,2)
    # only (front 1); (3,3) by all of those (front 2)
    points = np.array([[1, 3], [2, 2], [3, 1], [2, 3], [3, 3]])
    assert nondominated_ranks(points).tolist() == [0, 0, 0, 1, 2]
    # equal points dominate neither: one front
    assert nondominated_ranks(np.array([[1, 1], [1, 1]])).tolist() == [0, 0]
    from optuna.study._multi_objective import _fast_non_domination_rank  # private: a check

    rng = np.random.default_rng(0)
    for _ in range(20):
        cloud = rng.integers(0, 6, size=(30, 2)).astype(float)
        assert nondominated_ranks(cloud).tolist() == _fast_non_domination_rank(cloud).tolist()


def test_crowding_distance_by_hand() -> None:
    # one front, each objective spans 10: (1,4) has neighbours 0 and 3 in x (3/10) and 1 and
    # 10 in y (9/10): 1.2; (3,1) has 1 and 10 in x (9/10), 0 and 4 in y (4/10): 1.3
    points = np.array([[0, 10], [1, 4], [3, 1], [10, 0]], dtype=float)
    distances = crowding_distances(points, nondominated_ranks(points))
    assert distances[0] == distances[3] == math.inf
    assert distances[1] == pytest.approx(1.2) and distances[2] == pytest.approx(1.3)


def test_hypervolume_2d_by_hand_and_against_optuna() -> None:
    # reference (4,4): the staircase (1,3) (2,2) (3,1) adds 3x1 + 2x1 + 1x1 = 6; (3,3) is
    # dominated and (5,0) is outside the box: neither adds anything
    points = np.array([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], dtype=float)
    assert hypervolume_2d(points, (4, 4)) == pytest.approx(6.0)
    assert hypervolume_2d(np.empty((0, 2)), (1, 1)) == 0.0
    from optuna._hypervolume import compute_hypervolume  # private: a check

    rng = np.random.default_rng(1)
    for _ in range(20):
        cloud = rng.uniform(0, 1, size=(25, 2))
        assert hypervolume_2d(cloud, (1.0, 1.0)) == pytest.approx(
            compute_hypervolume(cloud, np.array([1.0, 1.0]))
        )


# --- the pruner on synthetic studies ---------------------------------------------------------
def test_rungs_honour_r_and_eta() -> None:
    assert ParetoAshaPruner(1, 3).rungs(9) == [1, 3]  # 9 is the last epoch: no rung there
    assert ParetoAshaPruner(1, 3).rungs(10) == [1, 3, 9]
    assert ParetoAshaPruner(2, 2).rungs(9) == [2, 4, 8]
    assert ParetoAshaPruner(1, 3).rungs(1) == []
    with pytest.raises(ValueError):
        ParetoAshaPruner(1, 1)


def new_study(storage: str | None = None, name: str = "s") -> optuna.Study:
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=["maximize", "minimize"],
        pruner=ParetoAshaPruner(1, 3),
    )
    study.set_metric_names(["accuracy", "flops"])
    return study


def add_trial(
    study: optuna.Study, curve: list[float], flops: float, state: TrialState | None = None
) -> optuna.Trial:
    """A trial of 9 epochs that has reached ``len(curve)`` epochs; finished in ``state``."""
    trial = study.ask()
    trial.set_user_attr(CANDIDATE_ATTR, {"flops": flops, "hyperparameters": {"epochs": 9}})
    record_epochs(trial, curve)
    if state == TrialState.COMPLETE:
        study.tell(trial, [curve[-1], flops])
    elif state == TrialState.PRUNED:
        study.tell(trial, state=TrialState.PRUNED)
    return trial


# six trials at the epoch-1 rung, as (accuracy, flops). Fronts: A B C trade off (front 1);
# F is dominated by A only (front 2); D by F (front 3); E by D (front 4)
RIVALS = {
    "A": (0.90, 1000),
    "B": (0.80, 500),
    "C": (0.70, 200),
    "D": (0.60, 2000),
    "E": (0.50, 3000),
    "F": (0.85, 1500),
}


def study_with_rivals(state: TrialState = TrialState.PRUNED) -> optuna.Study:
    study = new_study()
    for accuracy, flops in RIVALS.values():
        add_trial(study, [accuracy], flops, state)
    return study


def test_a_dominated_trial_stops_at_the_rung() -> None:
    study = study_with_rivals()
    # X = (0.65, 2500): dominated by A, B, C and F, not by D (less accurate): front 3 with D.
    # 7 trials at the rung, 7 // 3 = 2 go on. Order: front 1 by crowding (its ends A and C
    # are infinite, then B), F, then D and X (a front of two: both infinite; D is older)
    trial = add_trial(study, [0.65], 2500)
    verdict = ParetoAshaPruner(1, 3).judge(study, frozen(trial))
    assert verdict.prune
    assert verdict.reason == "stopped at epoch 1 rung: 6th of 7 (front 3); the top 2 go on"


def test_a_front_trial_goes_on_and_only_the_top_third_does() -> None:
    study = study_with_rivals()
    # Y = (0.95, 100) dominates every rival: alone on front 1, first of 7
    trial = add_trial(study, [0.95], 100)
    verdict = ParetoAshaPruner(1, 3).judge(study, frozen(trial))
    assert not verdict.prune
    assert verdict.reason == "epoch 1 rung: 1st of 7 (front 1); the top 2 go on"
    # B = (0.80, 500) again: on front 1 with A, B and C, but with a finite crowding distance
    # it comes after the ends A and C: 3rd of 7, and only 2 go on
    again = add_trial(study_with_rivals(TrialState.COMPLETE), [0.80], 500)
    verdict = ParetoAshaPruner(1, 3).judge(again.study, frozen(again))
    assert verdict.reason == "stopped at epoch 1 rung: 3rd of 7 (front 1); the top 2 go on"


def test_with_fewer_than_eta_trials_only_the_first_front_goes_on() -> None:
    study = new_study()
    first = add_trial(study, [0.5], 1000)
    verdict = ParetoAshaPruner(1, 3).judge(study, frozen(first))
    assert not verdict.prune and "only the first front goes on" in verdict.reason
    study.tell(first, state=TrialState.PRUNED)
    # less accurate and dearer than the first: dominated
    worse = add_trial(study, [0.4], 2000)
    assert ParetoAshaPruner(1, 3).judge(study, frozen(worse)).prune
    study.tell(worse, state=TrialState.FAIL)  # a failed trial is left out of the rung
    # less accurate but cheaper: a trade-off, on the first front (2 there: 2 // 3 = 0)
    cheaper = add_trial(study, [0.4], 500)
    assert not ParetoAshaPruner(1, 3).judge(study, frozen(cheaper)).prune


def test_a_trial_between_rungs_is_not_judged_and_later_rungs_count_only_who_reached_them() -> None:
    study = new_study()
    for accuracy in (0.9, 0.8, 0.7):  # three trials stopped at epoch 1: not at the epoch-3 rung
        add_trial(study, [accuracy], 100, TrialState.PRUNED)
    between = add_trial(study, [0.1, 0.1], 5000)
    assert "not a rung" in ParetoAshaPruner(1, 3).judge(study, frozen(between)).reason
    # at epoch 3 it is alone (the others never got there): first front, goes on
    record_epochs(between, [0.1, 0.1, 0.1])
    verdict = ParetoAshaPruner(1, 3).judge(study, frozen(between))
    assert not verdict.prune and "1st of 1" in verdict.reason


def test_two_workers_share_the_rung_through_sqlite(tmp_path: Path) -> None:
    """Two storage handles on one SQLite file, as two worker processes have: a decision of one
    counts the trials the other recorded."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    worker_a = new_study(url, "shared")
    worker_b = optuna.load_study(study_name="shared", storage=url, pruner=ParetoAshaPruner(1, 3))
    for accuracy, flops in RIVALS.values():
        add_trial(worker_a, [accuracy], flops, TrialState.PRUNED)
    trial = add_trial(worker_b, [0.65], 2500)  # the X of the single-study test
    verdict = worker_b.pruner.judge(worker_b, frozen(trial))
    assert verdict.reason == "stopped at epoch 1 rung: 6th of 7 (front 3); the top 2 go on"
    # and worker A sees B's running trial at the rung too: 8 there now
    late = add_trial(worker_a, [0.99], 50)
    assert "1st of 8" in worker_a.pruner.judge(worker_a, frozen(late)).reason


# --- in runs ----------------------------------------------------------------------------------
def test_the_default_run_prunes_and_records_pruned_trials(tmp_path: Path, tiny_space) -> None:
    config = RunConfig(
        space=str(tiny_space),
        dataset="synthetic",
        searcher="random",
        trials=8,
        epochs=4,
        device="cpu",
        name="p",
        runs_dir=str(tmp_path / "runs"),
        reports_dir=str(tmp_path / "reports"),
    )
    assert config.pruner_name == "pareto-asha"  # auto, for accuracy and flops
    study = run_search(config).study
    assert isinstance(study.pruner, ParetoAshaPruner)
    trials = study.get_trials()
    pruned = [t for t in trials if status_of(t) == "pruned"]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned and complete
    assert len(judged(study)) >= 8  # the budget counts trials stopped early
    for trial in pruned:  # PRUNED, stopped at a rung (epoch 1 or 3 of 4), last accuracy kept
        record = record_of(trial)
        assert trial.state == TrialState.PRUNED
        assert record["epochs"] in (1, 3) and record["reason"].startswith("stopped at epoch")
        assert record["val_accuracy"] == epoch_accuracies(trial)[-1]
    for trial in complete:
        assert len(record_of(trial)["val_curve"]) == 4


def test_multi_objective_runs_refuse_optunas_pruners() -> None:
    from archsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="ranks one objective"):
        RunConfig(pruner="median")
    assert RunConfig(objectives=("accuracy",)).pruner_name == "median"
    assert RunConfig(searcher="darts").pruner_name == "none"


def test_resume_after_sigkill_mid_rung(tmp_path: Path, tiny_space) -> None:
    """Killed between two rungs of a trial; the resumed run's rungs count exactly the trials
    that reached them before, from the study: the killed trial (FAILED, retried) is left
    out. One process runs one trial at a time, so trial t competed with the earlier trials."""
    command = run_command(tiny_space, tmp_path, "r", 14, epochs=30)
    command[command.index("--pruner") + 1] = "pareto-asha"
    db = tmp_path / "runs" / "r" / "study.db"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # a running trial past its first rung (its epoch-1 accuracy written), after 3 trials
    query = (
        "SELECT count(*) FROM trials JOIN trial_user_attributes USING (trial_id)"
        " WHERE trials.state = 'RUNNING' AND trial_user_attributes.key = 'epoch_accuracy'"
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        _poll(db, "SELECT count(*) FROM trials WHERE state != 'RUNNING'") >= 3 and _poll(db, query)
    ):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = [
        t.number
        for t in optuna.load_study(study_name="r", storage=f"sqlite:///{db}").trials
        if t.state == TrialState.RUNNING
    ]
    assert killed, "killed between trials, not mid-rung"
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{db}")
    trials = study.get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert len(judged(study)) >= 14
    assert trials[killed[0]].state == TrialState.FAIL
    stopped = [t for t in trials if status_of(t) == "pruned" and t.number > killed[0]]
    assert stopped, "no trial was stopped after the resume"
    for trial in stopped:
        epoch = record_of(trial)["epochs"]
        earlier = [
            u
            for u in trials[: trial.number]
            if u.state in (TrialState.COMPLETE, TrialState.PRUNED)
            and len(epoch_accuracies(u)) >= epoch
        ]
        assert f" of {len(earlier) + 1} " in record_of(trial)["reason"]
