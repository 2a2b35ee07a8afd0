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


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_dead_workers_trials_are_failed_and_queued_again_clean(tmp_path) -> None:
    # heartbeat 1 s, grace 3 s. Trial 0: its worker died before its first heartbeat (started
    # an hour ago, none recorded: Optuna never sees it stale); 1: beating now; 2: its last
    # heartbeat an hour ago (Optuna's stale); 3: started a moment ago, no heartbeat yet (its
    # worker may be starting the heartbeat thread): not stale
    import sqlalchemy

    from archsearch.runs.resume import open_storage
    from archsearch.study import fail_stale, stale_trials

    storage = open_storage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat=1)
    study = optuna.create_study(storage=storage, study_name="h")
    trials = [study.ask() for _ in range(4)]
    for trial in trials[1:3]:
        storage.record_heartbeat(trial._trial_id)
    engine = storage._backend.engine if hasattr(storage, "_backend") else storage.engine
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE trials SET datetime_start = :t WHERE trial_id = :id"),
            {"t": "2000-01-01 00:00:00", "id": trials[0]._trial_id},
        )
        connection.execute(
            sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :t WHERE trial_id = :id"),
            {"t": "2000-01-01 00:00:00", "id": trials[2]._trial_id},
        )
    assert [t.number for t in stale_trials(study)] == [0, 2]
    assert [t.number for t in fail_stale(study)] == [0, 2]
    assert fail_stale(study) == []  # once only
    by_number = {t.number: t for t in study.get_trials()}
    assert [by_number[n].state for n in range(4)] == [
        TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING
    ]  # fmt: skip
    assert record_of(by_number[0])["reason"] == "its worker went silent (no heartbeat)"
    # each queued again, without the failure's status: the retry, once trained, counts as ok
    retries = study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["failed_trial"] for t in retries] == [0, 2]
    assert all("status" not in t.user_attrs and "reason" not in t.user_attrs for t in retries)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_dead_workers_trial_failed_without_its_retry_is_queued_again(tmp_path) -> None:
    # failing a dead worker's trial and queuing its retry are two writes: a process killed
    # between them leaves a failed trial with no retry. Trial 0: so failed (by Optuna's check:
    # no status), an hour ago; 1: a candidate that failed in its own worker (not retried);
    # 2: failed the same way as 0 a moment ago (its retry may be on its way): left for now
    import sqlalchemy

    from archsearch.runs.resume import open_storage
    from archsearch.study import STATUS_FAILED, requeue_lost_retries

    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}", heartbeat=1)
    study = optuna.create_study(storage=storage, study_name="r")
    trials = [study.ask() for _ in range(3)]
    for trial in trials:
        trial.suggest_int("width", 8, 8)
    mark(trials[1], STATUS_FAILED, "NaN loss at epoch 2")
    for trial in trials:
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    engine = storage._backend.engine if hasattr(storage, "_backend") else storage.engine
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE trials SET datetime_complete = :t WHERE trial_id IN (1, 2)"),
            {"t": "2000-01-01 00:00:00"},
        )
    assert requeue_lost_retries(study) == [0]
    assert requeue_lost_retries(study) == []  # once: it has its retry now
    (retry,) = study.get_trials(states=(TrialState.WAITING,))
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == {"width": 8}
