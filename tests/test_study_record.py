"""The trial record's one owner (archsearch.study): every way a trial can end gives one of
the declared statuses, written only through its writers."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from archsearch.architecture import Architecture
from archsearch.runs.resume import recover_interrupted
from archsearch.searchers import guarded
from archsearch.study import (
    STATUS_PRUNED,
    STATUSES,
    mark,
    record_candidate,
    record_of,
    status_counts,
    status_of,
    trial_row,
)
from archsearch.train import CandidateFailed

ARCH = Architecture.from_dict(
    {
        "stem": [{"type": "plain", "out_channels": 8, "stride": 1}],
        "stages": [[{"type": "dwsep", "out_channels": 8, "stride": 1}]],
        "head": {},
    }
)


def test_every_way_a_trial_ends_is_a_declared_status() -> None:
    study = optuna.create_study()
    outcomes = {}

    def run(name: str, evaluate) -> None:
        study.optimize(guarded(study, evaluate), n_trials=1, catch=(Exception,))
        outcomes[name] = study.trials[-1]

    def trained(trial):
        return [0.5]

    def infeasible(trial):
        # 1,000 flops against a limit of 10: a violation of 990
        feasible = record_candidate(trial, ARCH, {}, {"flops": 1000}, {"max_flops": 990.0}, 0.0)
        assert not feasible
        raise optuna.TrialPruned("infeasible")

    def diverged(trial):
        raise CandidateFailed("loss became nan in epoch 1")

    def crashed(trial):
        raise RuntimeError("boom")

    def pruned(trial):
        mark(trial, STATUS_PRUNED, "pruned after epoch 1")
        raise optuna.TrialPruned()

    def pruned_by_optuna_alone(trial):  # no record of why: still a declared status
        raise optuna.TrialPruned()

    for evaluate in (trained, infeasible, diverged, crashed, pruned, pruned_by_optuna_alone):
        run(evaluate.__name__, evaluate)
    study.ask()  # left RUNNING by a process that died ...
    assert recover_interrupted(study) == 1  # ... failed on resume, and queued again
    interrupted = study.trials[-2]

    assert {name: status_of(t) for name, t in outcomes.items()} == {
        "trained": "ok",
        "infeasible": "infeasible",
        "diverged": "failed",
        "crashed": "failed",
        "pruned": "pruned",
        "pruned_by_optuna_alone": "pruned",
    }
    assert status_of(interrupted) == "failed"
    assert record_of(interrupted)["reason"] == "interrupted (process died)"
    assert record_of(outcomes["infeasible"])["reason"] == "over budget: max_flops"
    assert record_of(outcomes["crashed"])["reason"] == "RuntimeError: boom"
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 7
    assert all(status_of(t) in STATUSES and trial_row(t)["status"] in STATUSES for t in finished)
    # 1 ok, 1 infeasible, 3 failed (two raised, one interrupted), 2 pruned; the retry waits
    assert status_counts(study) == {
        "ok": 1,
        "infeasible": 1,
        "failed": 3,
        "pruned": 2,
        "running": 0,
    }
    assert (
        status_of(study.trials[-1]) == "waiting" and study.trials[-1].state == TrialState.WAITING
    )


def test_an_undeclared_status_is_refused() -> None:
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="unknown trial status 'done'"):
        mark(trial, "done", "why")  # type: ignore[arg-type]
