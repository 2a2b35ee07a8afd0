"""The searcher interface, small like Optuna's ``BaseSampler``."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna

from ..errors import ArchsearchError, DiskFull
from ..study import STATUS_FAILED, completed, enqueue_retry, mark
from ..train import CandidateFailed

TrialCallback = Callable[
    [optuna.Study, optuna.trial.FrozenTrial, list[optuna.trial.FrozenTrial]], None
]


@dataclass(frozen=True)
class Budget:
    trials: int  # judged trials to reach: trained to the end or stopped early by the pruner
    timeout: float | None = None  # seconds of wall time, for this invocation
    max_attempts: int | None = None  # cap on trials started (infeasible ones are cheap)
    #: other processes train into the same study: each trial takes one of the budget's places
    #: before it trains (see :func:`archsearch.study.places_taken`), so the count is exact
    shared: bool = False


class BaseSearcher(abc.ABC):
    """Proposes candidates into an Optuna study until the budget is reached.

    ``evaluate(trial)`` runs one candidate through the pipeline and returns its objective
    values, or raises ``optuna.TrialPruned`` / ``CandidateFailed``; the searcher records the
    outcome in the study. Every searcher writes into the same study format, so reports and
    export need nothing special.
    """

    name: str = ""

    @abc.abstractmethod
    def create_sampler(self) -> optuna.samplers.BaseSampler:
        """The Optuna sampler this searcher proposes candidates with."""

    def planned_trials(self, requested: int) -> int:
        """The trials this searcher's run judges, given the ``requested`` budget: the budget
        itself, or the few networks a picking searcher picks."""
        return requested

    @abc.abstractmethod
    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        """Run trials until ``budget`` is reached; after each recorded trial, call
        ``callback(study, trial, completed_trials)`` for each of ``callbacks``."""

    def before_trial(self, study: optuna.Study, trial: optuna.Trial) -> None:  # noqa: B027
        """Hook: called after a trial is created, before it is evaluated."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        callbacks: Sequence[TrialCallback] = (),
    ) -> list[optuna.trial.FrozenTrial]:
        """Hook: called after a trial is recorded; runs the caller's ``callbacks`` and returns
        the completed trials (read once: each read is a database query)."""
        done = completed(study)
        for callback in callbacks:
            callback(study, trial, done)
        return done


class PickingSearcher(BaseSearcher):
    """A searcher that picks a few networks by its own means (a supernet, a list) and
    enqueues them, whole, into the study: the sampler fills in nothing."""

    seed: int = 0

    def create_sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=self.seed)

    def train_queued(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        count: int,
        remaining: float | None,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        """Train ``count`` enqueued networks in what is left of the budget (``remaining``
        seconds, ``None``: no limit). The first always trains, or a run whose search spent
        the whole budget would have nothing to show."""
        spent = remaining is not None and remaining <= 0
        study.optimize(
            guarded(study, evaluate),
            n_trials=min(1, count) if spent else count,
            timeout=None if spent else remaining,
            catch=(Exception,),
            callbacks=[lambda study, trial: self.after_trial(study, trial, callbacks)],
        )


def guarded(
    study: optuna.Study,
    evaluate: Callable[[optuna.Trial], Sequence[float]],
    before_trial: Callable[[optuna.Study, optuna.Trial], None] | None = None,
) -> Callable[[optuna.Trial], Sequence[float]]:
    """``evaluate`` as an Optuna objective that records why a candidate failed."""

    def objective(trial: optuna.Trial) -> Sequence[float]:
        if before_trial is not None:
            before_trial(study, trial)
        try:
            return evaluate(trial)
        except optuna.TrialPruned:
            raise
        except CandidateFailed as failure:
            mark(trial, STATUS_FAILED, failure.reason)
            raise
        except KeyboardInterrupt:
            mark(trial, STATUS_FAILED, "interrupted (Ctrl-C)")
            enqueue_retry(study, trial)
            raise
        except DiskFull as full:
            # not the candidate's failure: it is tried again once there is space. The study's
            # database may be on the full disk: then the trial stays RUNNING, and the next run
            # recovers it the same way
            with contextlib.suppress(Exception):
                mark(trial, STATUS_FAILED, f"stopped: {full}")
                enqueue_retry(study, trial)
            raise
        except ArchsearchError as error:
            mark(trial, STATUS_FAILED, str(error))
            raise
        except Exception as error:
            mark(trial, STATUS_FAILED, f"{type(error).__name__}: {error}")
            raise

    return objective
