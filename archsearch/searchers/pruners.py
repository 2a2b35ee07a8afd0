"""Early stopping for multi-objective studies: Pareto-aware asynchronous successive halving.

Optuna's pruners rank one intermediate value, so they work in single-objective studies only
(``trial.report`` raises in multi-objective ones: optuna/optuna#3450). :class:`ParetoAshaPruner`
is MO-ASHA (Schmucker et al., "Multi-objective Asynchronous Successive Halving", 2021; syne-tune's
``MOASHA``) on Optuna's ``BasePruner`` interface:

- rungs at epochs r, r·η, r·η², … below the trial's last epoch (r = ``min_epochs``,
  η = ``reduction_factor``);
- at a rung, the trial is ranked among every trial that reached that rung (running, completed
  or stopped there or later) by its objective vector there: validation accuracy at that epoch
  and the costs (params, flops, mac, latency), which are known before training. The order is
  NSGA-II's: non-dominated sorting, then crowding distance (on accuracy and log cost), then
  the older trial first;
- the trial goes on if it is in the first ⌊n/η⌋ of that order; while fewer than η trials have
  reached the rung (⌊n/η⌋ = 0), it goes on only if it is on the rung's first front, as Optuna's
  ``SuccessiveHalvingPruner`` lets only the best of the first η - 1 trials through.

Its state is the study: each trial's accuracies at the rungs are trial data
(:func:`archsearch.study.record_epochs`), read back from the storage at every decision, so
workers on one storage share it and a run resumed after ``kill -9`` continues with it. A trial
stopped here is recorded PRUNED with its last accuracy. How the samplers see such trials:
TPE puts them in its "worse" group (they carry no Optuna intermediate values, and its
"better" group is filled from completed trials first, which is the case once a few trials
have completed); NSGA-II's generations are made of completed trials only, so pruning filters
each generation's candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from ..pareto import crowding_distances, nondominated_ranks
from ..study import OBJECTIVE_ATTRS, epoch_accuracies, objective_names, proxies_of, record_of

#: the trials that compete at a rung; a FAILED one is left out (its retry runs again)
COMPETING_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


@dataclass(frozen=True)
class RungVerdict:
    prune: bool
    reason: str


class ParetoAshaPruner(optuna.pruners.BasePruner):
    """Stop a trial at a rung unless its (accuracy there, costs) is in the top 1/η there."""

    def __init__(self, min_epochs: int = 1, reduction_factor: int = 3) -> None:
        if min_epochs < 1:
            raise ValueError(f"min_epochs must be at least 1, got {min_epochs}")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be at least 2, got {reduction_factor}")
        self.min_epochs = min_epochs
        self.reduction_factor = reduction_factor

    def rungs(self, epochs: int) -> list[int]:
        """The epochs (1-based) after which a trial of ``epochs`` epochs is judged."""
        rungs, rung = [], self.min_epochs
        while rung < epochs:
            rungs.append(rung)
            rung *= self.reduction_factor
        return rungs

    def is_rung(self, epoch: int, epochs: int) -> bool:
        return epoch in self.rungs(epochs)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.judge(study, trial).prune

    def judge(self, study: optuna.Study, trial: FrozenTrial) -> RungVerdict:
        """Whether ``trial`` stops at the epoch it has reached, and why."""
        epoch = len(epoch_accuracies(trial))
        epochs = record_of(trial).get("hyperparameters", {}).get("epochs", epoch + 1)
        if not self.is_rung(epoch, int(epochs)):
            return RungVerdict(False, f"epoch {epoch} is not a rung")
        names = objective_names(study)
        if "accuracy" not in names:
            return RungVerdict(False, "no accuracy objective to rank by")
        others = study.get_trials(deepcopy=False, states=COMPETING_STATES)
        rivals = [t for t in others if t.number != trial.number]
        numbers, points = [], []
        for candidate in [trial, *rivals]:
            point = _point(candidate, epoch, names)
            if point is not None:
                numbers.append(candidate.number)
                points.append(point)
        if not numbers or numbers[0] != trial.number:
            return RungVerdict(False, "its costs are not recorded")
        position, ranks = nsga_position(points, numbers)
        reached = len(numbers)
        keep = reached // self.reduction_factor
        if keep == 0:
            goes_on = ranks[0] == 0
            rule = f"fewer than {self.reduction_factor} trials there: only the first front goes on"
        else:
            goes_on = position < keep
            rule = f"the top {keep} go on"
        reason = (
            f"epoch {epoch} rung: {_ordinal(position + 1)} of {reached} (front {ranks[0] + 1});"
            f" {rule}"
        )
        return RungVerdict(not goes_on, ("stopped at " if not goes_on else "") + reason)


def nsga_order(points: list[list[float]], numbers: list[int]) -> tuple[list[int], np.ndarray]:
    """NSGA-II's order of ``points`` (minimised vectors, one per trial ``numbers``), as
    indices, best first: non-dominated rank, then crowding distance (larger first), then the
    older trial; and every point's rank."""
    values = np.array(points)
    ranks = nondominated_ranks(values)
    crowding = crowding_distances(values, ranks)
    order = sorted(range(len(numbers)), key=lambda i: (ranks[i], -crowding[i], numbers[i]))
    return order, ranks


def nsga_position(points: list[list[float]], numbers: list[int]) -> tuple[int, np.ndarray]:
    """Where the first of ``points`` stands in :func:`nsga_order`, and every point's rank."""
    order, ranks = nsga_order(points, numbers)
    return order.index(0), ranks


def _point(trial: FrozenTrial, epoch: int, names: list[str]) -> list[float] | None:
    """The trial's objective vector at the rung, minimised: -accuracy there, log costs."""
    curve = epoch_accuracies(trial)
    if len(curve) < epoch or not math.isfinite(curve[epoch - 1]):
        return None
    return _with_costs(trial, -curve[epoch - 1], names)


def _with_costs(trial: FrozenTrial, merit: float, names: list[str]) -> list[float] | None:
    """``merit`` (minimised) in the accuracy's place, then the trial's log costs."""
    return merit_and_costs(record_of(trial), merit, names)


def merit_and_costs(record: dict[str, Any], merit: float, names: list[str]) -> list[float] | None:
    """The minimised vector of a record: ``merit`` for accuracy, log costs for the rest (None
    when a cost is not recorded)."""
    point = []
    for name in names:
        if name == "accuracy":
            point.append(merit)
            continue
        cost = record.get(OBJECTIVE_ATTRS[name])
        if cost is None:
            return None
        # log: costs span orders of magnitude, and crowding compares gaps
        point.append(math.log(max(float(cost), 1e-12)))
    return point


class ProxyScreen:
    """The zero-epoch rung (``--proxy-screen FRACTION``): before training, a candidate whose
    (proxy score, costs) falls in the bottom ``fraction`` of NSGA-II's order of every
    candidate scored so far (trained, stopped, screened or running) is stopped untrained.

    The proxy takes the accuracy's place in the objective vector: higher is better, the costs
    are the run's cost objectives. Until ``min_seen`` candidates carry a score, all train (a
    bottom fraction of few is noise). Its state is the study, as the Pareto pruner's.
    """

    def __init__(self, fraction: float, proxy: str, min_seen: int = 10) -> None:
        if not 0 < fraction < 1:
            raise ValueError(f"the screened fraction must be in (0, 1), got {fraction}")
        self.fraction = fraction
        self.proxy = proxy
        self.min_seen = min_seen

    def judge(self, study: optuna.Study, trial: FrozenTrial) -> RungVerdict:
        names = objective_names(study)
        if proxies_of(trial).get(self.proxy) is None:
            return RungVerdict(False, f"no {self.proxy} score: trained")
        numbers, points = [], []
        others = study.get_trials(deepcopy=False, states=COMPETING_STATES)
        for candidate in [trial, *(t for t in others if t.number != trial.number)]:
            score = proxies_of(candidate).get(self.proxy)
            point = None if score is None else _with_costs(candidate, -score, names)
            if point is not None:
                numbers.append(candidate.number)
                points.append(point)
        seen = len(numbers)
        if not numbers or numbers[0] != trial.number:
            return RungVerdict(False, "its costs are not recorded: trained")
        if seen < self.min_seen:
            return RungVerdict(False, f"{seen} scored so far, fewer than {self.min_seen}")
        position, ranks = nsga_position(points, numbers)
        bottom = math.ceil(seen * (1 - self.fraction))  # positions from here are screened
        reason = (
            f"{self.proxy} with its costs: {_ordinal(position + 1)} of {seen} scored"
            f" (front {ranks[0] + 1}); the bottom {seen - bottom} stop untrained"
        )
        screened = position >= bottom
        return RungVerdict(
            screened, ("screened out before training: " if screened else "") + reason
        )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
