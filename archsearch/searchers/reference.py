"""Not a search: what a person would try by hand, the baseline a search has to beat.

``--searcher zoo`` trains the zoo's mobile networks (MobileNetV1/V2, ShuffleNetV2) at small
width multipliers, fitted to the data's input size by the space's own stem and stride rules
(:func:`archsearch.space.fit_to_input`), each with the same epochs as a search candidate and
the space's middle hyperparameters (:func:`archsearch.space.default_hyperparameters`, as DARTS
retrains its networks). They go through the standard pipeline (profile, constraints, train,
record), so the report, export and ``bench search`` read them as any other trials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from .. import zoo
from ..space import SearchSpace, default_hyperparameters, fit_to_input
from ..study import QUEUED_ARCHITECTURE, REFERENCE_NETWORK, completed
from ._base import Budget, PickingSearcher, TrialCallback

#: (zoo network, width multiplier): the small mobile networks a person would reach for first
REFERENCE_NETWORKS: tuple[tuple[str, float], ...] = (
    ("shufflenet_v2_x0_5", 0.5),
    ("mobilenet_v2", 0.25),
    ("mobilenet_v1", 0.25),
    ("shufflenet_v2_x0_5", 1.0),
    ("mobilenet_v2", 0.5),
)


class ReferenceSearcher(PickingSearcher):
    """Enqueues the reference networks once each and trains them in order."""

    name = "zoo"

    def __init__(
        self,
        space: SearchSpace,
        input_size: tuple[int, int],
        networks: Sequence[tuple[str, float]] = REFERENCE_NETWORKS,
        seed: int = 0,
    ) -> None:
        self.space = space
        self.input_size = input_size
        self.networks = tuple(networks)
        self.seed = seed

    def planned_trials(self, requested: int) -> int:
        return len(self.networks)

    def search(
        self,
        study: optuna.Study,
        evaluate: Callable[[optuna.Trial], Sequence[float]],
        budget: Budget,
        callbacks: Sequence[TrialCallback] = (),
    ) -> None:
        queued = {t.user_attrs.get(REFERENCE_NETWORK) for t in study.get_trials(deepcopy=False)}
        hyperparameters = default_hyperparameters(self.space)
        for name, multiplier in self.networks:
            label = f"{name}@{multiplier:g}"
            if label in queued:
                continue
            arch = fit_to_input(
                zoo.get(name), self.input_size, multiplier, self.space.min_feature_size
            )
            study.enqueue_trial(
                hyperparameters,
                user_attrs={QUEUED_ARCHITECTURE: arch.to_json(), REFERENCE_NETWORK: label},
                skip_if_exists=False,
            )
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if not waiting or len(completed(study)) >= budget.trials:
            return
        self.train_queued(study, evaluate, waiting, budget.timeout, callbacks)
