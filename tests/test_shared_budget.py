"""Workers sharing one study meet its budget exactly: each running trial holds one of the
budget's places, and a trial started at the same moment as another counts those before it."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from archsearch.searchers import Budget, OptunaSearcher
from archsearch.study import STATUS_PRUNED, is_judged, judged, mark, places_taken, record_of


def _study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))


def _pruned(study: optuna.Study, epochs: int) -> None:
    trial = study.ask()
    mark(trial, STATUS_PRUNED, "stopped early")
    trial.set_user_attr("result", {"epochs": epochs})
    study.tell(trial, state=TrialState.PRUNED)


def test_places_taken_counts_judged_and_running_trials() -> None:
    study = _study()
    study.tell(study.ask(), 0.9)  # 0: trained: judged
    _pruned(study, epochs=0)  # 1: infeasible (never trained): not judged
    _pruned(study, epochs=2)  # 2: stopped after 2 epochs: judged
    study.ask()  # 3: running
    study.tell(study.ask(), state=TrialState.FAIL)  # 4: failed
    study.ask()  # 5: running
    trials = study.get_trials(deepcopy=False)
    assert [is_judged(t) for t in trials] == [True, False, True, False, False, False]
    assert places_taken(trials) == 2 + 2  # judged 0, 2; running 3, 5
    assert places_taken(trials, below=5) == 3  # 0, 2, 3
    assert places_taken(trials, below=3) == 2  # 0, 2
    assert places_taken(trials, below=0) == 0


def _finish_later(study: optuna.Study, trial: optuna.Trial, when) -> threading.Thread:
    """Another worker's trial: told complete once ``when()`` holds (polled)."""

    def finish() -> None:
        deadline = time.monotonic() + 30
        while not when() and time.monotonic() < deadline:
            time.sleep(0.01)
        study.tell(trial, 0.5)

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_worker_waits_for_a_running_trial_instead_of_passing_the_budget() -> None:
    # budget 2, another worker trains trial 0: this worker trains one (1), then both places
    # are taken (1 judged + 1 running): it waits, and stops when trial 0 ends judged (2 of 2)
    study = _study()
    other = study.ask()
    evaluated: list[int] = []

    def evaluate(trial: optuna.Trial) -> list[float]:
        evaluated.append(trial.number)
        return [0.7]

    finisher = _finish_later(study, other, lambda: bool(evaluated))
    OptunaSearcher("random").search(study, evaluate, Budget(trials=2, shared=True))
    finisher.join()
    assert evaluated == [1]
    assert len(judged(study)) == 2
    assert len(study.trials) == 2  # no third trial was started


def test_not_shared_a_run_starts_trials_while_its_judged_count_is_short() -> None:
    # one process: a RUNNING trial in its study is a dead run's (recovered elsewhere), and
    # takes no place: 2 trained for a budget of 2
    study = _study()
    study.ask()
    evaluated: list[int] = []
    OptunaSearcher("random").search(
        study, lambda t: evaluated.append(t.number) or [0.7], Budget(trials=2)
    )
    assert evaluated == [1, 2]


@pytest.mark.parametrize("queued", [False, True])
def test_a_trial_started_in_the_same_moment_as_the_last_place_gives_it_back(
    monkeypatch: pytest.MonkeyPatch, queued: bool
) -> None:
    # budget 2: trial 0 judged, trial 1 another worker's, running. This worker looked before
    # trial 1 started (the room check saw a free place) and asked trial 2: 2 places are
    # below it, so it is not trained — pruned, its queued parameters queued again — and the
    # worker waits until trial 1 ends: 2 judged, exactly the budget
    import archsearch.searchers._optuna as optuna_searcher

    study = _study()
    study.tell(study.ask(), 0.9)
    other = study.ask()
    if queued:
        study.enqueue_trial({"width": 8}, user_attrs={"retry_of": 7})
    real_room = optuna_searcher._room
    looks: list[int] = []

    def room_seen_before_trial_1_started(*args):
        looks.append(1)  # the search looks twice before its first trial (on entry, in its loop)
        return True if len(looks) <= 2 else real_room(*args)

    monkeypatch.setattr(optuna_searcher, "_room", room_seen_before_trial_1_started)
    evaluated: list[int] = []
    finisher = _finish_later(study, other, lambda: len(looks) >= 3)
    OptunaSearcher("random").search(
        study, lambda t: evaluated.append(t.number) or [0.7], Budget(trials=2, shared=True)
    )
    finisher.join()
    assert evaluated == []
    surplus = study.trials[2]
    assert surplus.state == TrialState.PRUNED
    assert record_of(surplus)["reason"] == "not trained: other workers took the budget"
    assert len(judged(study)) == 2
    waiting = study.get_trials(states=(TrialState.WAITING,))
    if queued:  # the queued parameters are not lost: queued again, with their attributes
        assert [(t.system_attrs["fixed_params"], t.user_attrs) for t in waiting] == [
            ({"width": 8}, {"retry_of": 7})
        ]
    else:
        assert waiting == []
