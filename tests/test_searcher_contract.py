"""What every searcher of the table owes a run, checked over all of them (as Optuna's sampler
contract tests run over every sampler): the budget honoured, a failing candidate recorded with
its reason while the search goes on, Ctrl-C leaving no trial running and the stopped one
queued again, and the trial record of every trained candidate."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import optuna
import pytest

import archsearch.objective
from archsearch.runs import run_search
from archsearch.runs.config import Searcher
from archsearch.runs.searchers import PICKING_SEARCHERS, SEARCHER_TABLE
from archsearch.study import completed, judged, record_of, status_of
from archsearch.train import CandidateFailed
from tests.conftest import run_config

#: each searcher's options for a small run, and the trials it judges then: the budget for
#: Optuna's samplers (the grid: its 2 x 2 points), the networks it picks for the others
SMALL: dict[str, tuple[dict[str, object], int]] = {
    "random": ({"trials": 3}, 3),
    "tpe": ({"trials": 3}, 3),
    "nsga2": ({"trials": 3}, 3),
    "grid": ({"trials": 4}, 4),
    "gp": ({"trials": 3}, 3),
    "bins": ({"trials": 3}, 3),
    "local": ({"trials": 3}, 3),
    "predictor": ({"trials": 3, "guided_startup": 1}, 3),
    "darts": ({"darts_epochs": 1, "derive_top": 1, "darts_front": 0}, 2),
    "spos": ({"spos_epochs": 1, "spos_evaluations": 8, "retrain_top": 2}, 2),
    "zoo": ({}, 5),
}


def test_the_table_is_the_searcher_choice() -> None:
    assert set(SEARCHER_TABLE) == set(get_args(Searcher)) == set(SMALL)
    assert PICKING_SEARCHERS == ("darts", "spos", "zoo")


def _failing_train(monkeypatch: pytest.MonkeyPatch, at_call: int, error: BaseException) -> None:
    """The trainer raises ``error`` on its ``at_call``-th candidate (1-based)."""
    real = archsearch.objective.train
    calls = {"n": 0}

    def train(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == at_call:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(archsearch.objective, "train", train)


@pytest.mark.parametrize("searcher", list(SMALL))
def test_budget_failure_and_record(
    searcher: str, tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options, judged_trials = SMALL[searcher]
    _failing_train(monkeypatch, 1, CandidateFailed("diverged (simulated)"))
    result = run_search(run_config(tmp_path, tiny_space, searcher=searcher, **options))
    study = result.study
    (failed,) = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert status_of(failed) == "failed" and record_of(failed)["reason"] == "diverged (simulated)"
    # the search went on: a sampler fills its budget of judged trials (a failed one is not
    # judged); a picking searcher trains the rest of what it picked, a grid the rest of its
    # points (each once: the failed one is not tried again)
    done = completed(study)
    once = (*PICKING_SEARCHERS, "grid")
    expected = judged_trials - 1 if searcher in once else judged_trials
    assert len(judged(study)) == len(done) == expected
    assert len(study.trials) == judged_trials + (searcher not in once)
    for trial in done:
        record = record_of(trial)
        assert record["status"] == "ok" and record["arch_id"] and record["architecture"]
        assert len(record["val_curve"]) == record["epochs"] >= 1
        assert trial.values == [record["val_accuracy"], record["flops"]]
        assert (result.run_dir / "weights" / f"trial_{trial.number}.pt").is_file()
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))


@pytest.mark.parametrize("searcher", list(SMALL))
def test_ctrl_c_leaves_no_trial_running(
    searcher: str, tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options, _ = SMALL[searcher]
    _failing_train(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_search(run_config(tmp_path, tiny_space, searcher=searcher, **options))
    study = optuna.load_study(
        study_name="t", storage=f"sqlite:///{tmp_path / 'runs' / 't' / 'study.db'}"
    )
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert len(completed(study)) == 1  # the candidate before the press is kept
    (stopped,) = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert record_of(stopped)["reason"] == "interrupted (Ctrl-C)"
    retries = [
        t
        for t in study.get_trials(states=(optuna.trial.TrialState.WAITING,))
        if "retry_of" in t.user_attrs
    ]
    assert [t.user_attrs["retry_of"] for t in retries] == [stopped.number]
