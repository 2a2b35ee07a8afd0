"""Searchers that are Optuna samplers: random, grid, TPE and NSGA-II (none hand-written)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import optuna
from optuna.trial import TrialState

from ..errors import ArchsearchError, disk_full_cause
from ..study import (
    GRID_POINT,
    STATUS_PRUNED,
    fail_stale,
    judged,
    mark,
    places_taken,
    requeue_unstarted,
)
from ._base import BaseSearcher, Budget, TrialCallback, guarded

SamplerName = Literal["random", "grid", "tpe", "nsga2", "gp"]
SEARCHERS: tuple[SamplerName, ...] = get_args(SamplerName)
STORAGE_RETRY_SECONDS = (1, 2, 4, 8, 16)  # back-off while the study's database is away
#: how often a worker whose budget places are all taken looks again (one query each time)
ROOM_POLL_SECONDS = 0.5
#: the states :func:`places_taken` reads: to start a trial; to train one started
_PLACE_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
_ADMISSION_STATES = (*_PLACE_STATES, TrialState.WAITING)


class OptunaSearcher(BaseSearcher):
    """Ask/tell loop over an Optuna sampler.

    Failures never stop the loop: a candidate that raises is recorded as failed with its
    reason. Ctrl-C marks the running trial failed, queues its parameters for a retry on
    resume, and re-raises.
    """

    def __init__(
        self,
        name: SamplerName,
        seed: int = 0,
        grid: dict[str, list[Any]] | None = None,
        population_size: int | None = None,
        make_sampler: Callable[[], optuna.samplers.BaseSampler] | None = None,
    ) -> None:
        if name not in SEARCHERS and make_sampler is None:
            raise ArchsearchError(
                f"unknown searcher '{name}' (known: {', '.join(SEARCHERS)}, darts)"
            )
        self.name = name
        self.seed = seed
        self.grid = grid
        self.population_size = population_size
        self.make_sampler = make_sampler  # a sampler of archsearch's own (searchers.guided)

    def create_sampler(self) -> optuna.samplers.BaseSampler:
        """Constraints reach the constraint-aware samplers (TPE, NSGA-II) through
        ``trial.set_constraint``, recorded before a candidate is trained."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return self._create_sampler()

    def _create_sampler(self) -> optuna.samplers.BaseSampler:
        if self.make_sampler is not None:
            return self.make_sampler()
        if self.name == "random":
            return optuna.samplers.RandomSampler(seed=self.seed)
        if self.name == "grid":
            return optuna.samplers.GridSampler(self.grid or {}, seed=self.seed)
        if self.name == "gp":  # Optuna 5's multi-objective GP (categorical kernels), a reference
            return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=10)
        if self.name == "nsga2":
            return optuna.samplers.NSGAIISampler(
                seed=self.seed, population_size=self.population_size or 20
            )
        # multivariate + group: TPE models the conditional (define-by-run) space jointly
        return optuna.samplers.TPESampler(
            seed=self.seed, multivariate=True, group=True, n_startup_trials=10
        )

    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        started = time.monotonic()
        deadline = None if budget.timeout is None else started + budget.timeout
        # a grid run evaluates exactly the queued grid points (queued when the study was made;
        # workers take queued trials atomically): it ends when the queue is empty
        grid = self.name == "grid"
        if grid and not _waiting(study):
            return
        limit = budget.max_attempts or max(20, 10 * budget.trials)

        guarded_evaluate = guarded(study, evaluate, self.before_trial)

        def objective(trial: optuna.Trial) -> Sequence[float]:
            if grid and not trial.user_attrs.get(GRID_POINT):
                mark(trial, STATUS_PRUNED, "grid exhausted by other workers")
                raise optuna.TrialPruned()
            # (numbered below the budget, a trial has fewer trials below it than places)
            if budget.shared and trial.number >= budget.trials:
                trials = study.get_trials(deepcopy=False, states=_ADMISSION_STATES)
                if places_taken(trials, below=trial.number) >= budget.trials:
                    # another worker started a trial at the same moment and took the last
                    # place: this one gives its place back untrained (a queued one, requeued)
                    requeue_unstarted(study, trial)
                    mark(trial, STATUS_PRUNED, "not trained: other workers took the budget")
                    raise optuna.TrialPruned()
            return guarded_evaluate(trial)

        def after(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            self.after_trial(study, trial, callbacks)
            if not _room(study, budget, deadline) or (grid and not _waiting(study)):
                study.stop()

        # Optuna's own loop: failures are caught and recorded (catch), the grid sampler can
        # stop the study when exhausted, Ctrl-C marks the running trial failed.
        waits = iter(STORAGE_RETRY_SECONDS)
        while True:
            try:
                if not _room(study, budget, deadline) or (grid and not _waiting(study)):
                    break
                # the time left, exactly (after any wait for room): Optuna checks it before
                # each trial it starts
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                study.optimize(
                    objective,
                    n_trials=limit,
                    timeout=remaining,
                    catch=(Exception,),
                    callbacks=[after],
                    gc_after_trial=False,
                )
                break
            except Exception as error:
                # Failures of candidates are caught inside the loop (catch=...): what escapes
                # it comes from the study's database (which may surface as another type from
                # Optuna's own bookkeeping). Wait and carry on; the trial in flight stays
                # RUNNING and is retried once its heartbeat is stale. A full disk does not go
                # away by waiting: the caller stops the run.
                if disk_full_cause(error) is not None:
                    raise
                wait = next(waits, None)
                if wait is None:
                    raise ArchsearchError(
                        f"the study's database stayed unreachable for"
                        f" {sum(STORAGE_RETRY_SECONDS)} s: {type(error).__name__}:"
                        f" {(str(error).strip().splitlines() or [''])[0]}"
                    ) from None
                time.sleep(wait)
        timed_out = budget.timeout is not None and time.monotonic() - started >= budget.timeout
        exhausted = grid and not _waiting(study)
        if len(judged(study)) < budget.trials and not (timed_out or exhausted):
            raise ArchsearchError(
                f"{limit} candidates tried and only {len(judged(study))} trained: the"
                " constraints or the space leave too few feasible candidates"
            )


def _room(study: optuna.Study, budget: Budget, deadline: float | None) -> bool:
    """Whether to start another trial: the budget is not met. In a study that other workers
    share, also wait until one of its places is free (each running trial holds one, as it
    may end judged) — or the budget is met, or the time is up. A dead worker's trial frees
    its place once its heartbeat is stale (and is queued again)."""
    if not budget.shared:
        return len(judged(study)) < budget.trials
    while True:
        trials = study.get_trials(deepcopy=False, states=_PLACE_STATES)
        if places_taken(trials) < budget.trials:
            return True
        if places_taken([t for t in trials if t.state != TrialState.RUNNING]) >= budget.trials:
            return False  # met: the judged trials fill it
        if deadline is not None and time.monotonic() >= deadline:
            return False
        if not fail_stale(study):
            time.sleep(ROOM_POLL_SECONDS)


def _waiting(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def grid_size(grid: dict[str, list[Any]]) -> int:
    return math.prod(len(v) for v in grid.values())
