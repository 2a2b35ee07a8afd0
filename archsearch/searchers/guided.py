"""Samplers that propose whole networks, chosen where the accuracy/cost front is decided.

Random search and TPE pick one parameter at a time and never look at what a network costs,
though archsearch knows every candidate's params, flops and mac before training it (the
profiler's formulas, thousands of candidates a second). :class:`GuidedSampler` walks the
space itself — the same walk a trial takes (:meth:`Candidates.sample`), recorded by
:class:`RecordingSuggester` — and keeps a pool of candidates with their costs. Before each
trial it picks one by its rule, and the trial's parameters follow it (Optuna asks the sampler
for every parameter, as it does for any independent sampler):

- ``bins`` (cost-aware random search): the pool binned by log cost on the run's cost axis;
  each proposal is a random candidate of the bin with the fewest trials so far, so the cheap
  corner — where the hypervolume of a log-cost front is decided, and which random sampling
  of a space hardly visits — gets its share;
- ``local`` (Pareto local search; White et al. 2021, "Exploring the loss landscape in neural
  architecture search"): one choice of a random member of the front changed (the space's walk
  fills in whatever the change makes necessary), a network not tried before;
- ``predictor`` (Neural Predictor, Wen et al. 2020; BANANAS, White et al. 2021): a random
  forest fitted on the judged trials (their parameters, log costs and the epoch of the
  accuracy, so trials stopped early count at their rung) predicts every pool candidate's
  accuracy — the pool holds random candidates and mutations of the front's members — and the
  candidate whose optimistic accuracy (mean + ``exploration`` x the trees' spread) adds the
  most hypervolume to the front at its known cost is proposed.

Exploration, stated: the first ``startup_trials`` proposals and a share ``epsilon`` of the
rest are the ``bins`` rule's. Each proposal's rule (and prediction) is recorded on its trial
(:data:`PROPOSAL_ATTR`). The study is the only shared state: each worker's sampler keeps its
own pool and reads the trials from the storage, so workers on one storage and a resumed run
work as with Optuna's samplers. A retry or a queued trial (fixed parameters) is left alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from ..errors import ArchsearchError, ConfigError
from ..pareto import hypervolume_gains, nondominated_ranks
from ..study import epoch_accuracies, record_of
from .oneshot.paths import RandomSuggester

GuidedRule = Literal["bins", "local", "predictor"]
GUIDED_RULES: tuple[GuidedRule, ...] = get_args(GuidedRule)
#: trial system attribute: how the sampler chose the trial's network
PROPOSAL_ATTR = "archsearch:proposal"
#: the costs a candidate has before training (the profiler's), in the order a run prefers
STATIC_COSTS = ("flops", "params", "mac")
JUDGED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class GuidedOptions:
    pool_size: int = 500  # random candidates kept in the pool
    refresh: int = 20  # new random candidates drawn for each proposal
    mutations: int = 30  # mutations of front members added to the predictor's pool
    bins: int = 8  # log-cost bins of the ``bins`` rule
    startup_trials: int = 10  # proposals by the ``bins`` rule before any other
    epsilon: float = 0.1  # share of later proposals by the ``bins`` rule
    exploration: float = 1.0  # optimism: mean + this x the forest's spread
    trees: int = 32
    low_fidelity: bool = True  # trials stopped early train the predictor at their rung

    def __post_init__(self) -> None:
        # named by their flat names: the flags' (--guided-pool ...) and a stored run's
        for name, option, low in (
            ("pool_size", "guided_pool", 1),
            ("refresh", "guided_refresh", 0),
            ("mutations", "guided_mutations", 0),
            ("bins", "guided_bins", 1),
            ("startup_trials", "guided_startup", 0),
            ("exploration", "guided_exploration", 0),
            ("trees", "guided_trees", 1),
        ):
            if getattr(self, name) < low:
                raise ConfigError(option, f"must be at least {low}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError("guided_epsilon", "must be between 0 and 1")


Key = tuple[tuple[str, str], ...]


class _Union:
    """Membership in any of several containers, without copying them."""

    def __init__(self, *containers: Container[Key]) -> None:
        self.containers = containers

    def __contains__(self, key: object) -> bool:
        return any(key in container for container in self.containers)


def candidate_key(params: dict[str, Any]) -> Key:
    """A network-and-recipe's identity: its parameters, in order."""
    return tuple(sorted((name, repr(value)) for name, value in params.items()))


def admits(distribution: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is one of ``distribution``'s."""
    if isinstance(distribution, CategoricalDistribution):
        return any(
            value == choice and type(value) is type(choice) for choice in distribution.choices
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if not distribution.low <= value <= distribution.high:  # type: ignore[attr-defined]
        return False
    step = getattr(distribution, "step", None)
    if step is None:
        return True
    steps = (value - distribution.low) / step  # type: ignore[attr-defined]
    return abs(steps - round(steps)) < 1e-8


class RecordingSuggester:
    """The space's walk with values drawn by a :class:`~.oneshot.paths.RandomSuggester` on
    ``generator`` — or taken from ``fixed`` where it holds one the walk may take —, recording
    each value and its distribution as an Optuna trial would."""

    def __init__(self, generator: random.Random, fixed: dict[str, Any] | None = None) -> None:
        self.user_attrs: dict[str, Any] = {}  # a walk asks for a queued architecture: none
        self.random = RandomSuggester(generator)
        self.fixed = fixed or {}
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, BaseDistribution] = {}

    def _take(self, name: str, distribution: BaseDistribution, drawn: Callable[[], Any]) -> Any:
        if name in self.params:
            return self.params[name]
        value = self.fixed.get(name)
        if name not in self.fixed or not admits(distribution, value):
            value = drawn()
        self.params[name] = value
        self.distributions[name] = distribution
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        distribution = CategoricalDistribution(list(choices))
        return self._take(
            name, distribution, lambda: self.random.suggest_categorical(name, choices)
        )

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        distribution = IntDistribution(low, high, log=log, step=step)
        return int(
            self._take(
                name,
                distribution,
                lambda: self.random.suggest_int(name, low, high, step=step, log=log),
            )
        )

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        distribution = FloatDistribution(low, high, log=log, step=step)
        return float(
            self._take(
                name,
                distribution,
                lambda: self.random.suggest_float(name, low, high, step=step, log=log),
            )
        )


def neighbour(distribution: BaseDistribution, value: Any, generator: random.Random) -> Any:
    """A value of ``distribution`` next to ``value``: another choice of a categorical, the
    next step up or down of an integer, a float moved by a tenth of its (log) range."""
    if isinstance(distribution, CategoricalDistribution):
        others = [c for c in distribution.choices if c != value]
        return generator.choice(others) if others else value
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    low, high = distribution.low, distribution.high
    if isinstance(distribution, IntDistribution):
        step = distribution.step or 1
        options = [v for v in (value - step, value + step) if low <= v <= high]
        return generator.choice(options) if options else value
    if distribution.log:
        moved = math.exp(math.log(value) + generator.gauss(0, 0.1 * math.log(high / low)))
    else:
        moved = value + generator.gauss(0, 0.1 * (high - low))
    moved = min(high, max(low, moved))
    step = distribution.step
    return low + step * round((moved - low) / step) if step else moved


@dataclass
class PoolCandidate:
    params: dict[str, Any]
    distributions: dict[str, BaseDistribution]
    costs: dict[str, float]
    origin: str = "random"  # random | mutation of trial N

    @property
    def key(self) -> Key:
        return candidate_key(self.params)


@dataclass
class Proposal:
    candidate: PoolCandidate
    rule: str
    predicted: float | None = None
    spread: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"rule": self.rule, "origin": self.candidate.origin}
        if self.predicted is not None:
            record["predicted"] = round(self.predicted, 4)
            record["spread"] = round(float(self.spread or 0.0), 4)
        return {**record, **self.extra}


class GuidedSampler(optuna.samplers.BaseSampler):
    """Propose whole networks of a space by ``rule`` (see the module's docstring).

    ``walk(suggester)`` walks the space as a trial does and returns the network;
    ``costs(network)`` its static costs ({"params", "flops", "mac"}), asked only for a network
    not seen before; ``objectives`` are the run's (the first static cost among them is the
    cost axis; flops when none is static); ``constraints`` the run's static limits
    ({"max_flops": ...}), which pool candidates must keep.
    """

    def __init__(
        self,
        walk: Callable[[RecordingSuggester], Any],
        costs: Callable[[Any], dict[str, float]],
        objectives: Sequence[str],
        rule: GuidedRule = "predictor",
        *,
        constraints: dict[str, float] | None = None,
        seed: int | None = 0,
        options: GuidedOptions | None = None,
    ) -> None:
        if rule not in GUIDED_RULES:
            raise ArchsearchError(f"unknown rule '{rule}' (known: {', '.join(GUIDED_RULES)})")
        self.walk = walk
        self.costs = costs
        self.objectives = tuple(objectives)
        self.rule = rule
        self.cost = next((o for o in self.objectives if o in STATIC_COSTS), "flops")
        self.constraints = {
            k.removeprefix("max_"): v
            for k, v in (constraints or {}).items()
            if k.removeprefix("max_") in STATIC_COSTS
        }
        self.options = options or GuidedOptions()
        self._generator = random.Random(seed)
        self._fallback = optuna.samplers.RandomSampler(seed=seed)
        self._pool: dict[Key, PoolCandidate] = {}
        self._proposals: dict[int, dict[str, Any]] = {}
        self._scale: tuple[float, float] | None = None  # log cost range of the first pool

    # --- Optuna's interface ------------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._generator = random.Random()
        self._fallback.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.system_attrs.get("fixed_params"):
            return  # a retry or a queued network: its parameters are given
        proposal = self.propose(study)
        if proposal is None:
            return
        self._proposals[trial._trial_id] = proposal.candidate.params
        study._storage.set_trial_system_attr(trial._trial_id, PROPOSAL_ATTR, proposal.record())

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        params = self._proposals.get(trial._trial_id, {})
        if param_name in params and admits(param_distribution, params[param_name]):
            return params[param_name]
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._proposals.pop(trial._trial_id, None)

    # --- proposals ---------------------------------------------------------------------------
    def propose(self, study: optuna.Study) -> Proposal | None:
        """The next network by the sampler's rule (``None``: the space gave no candidate)."""
        trials = study.get_trials(deepcopy=False)
        seen = {candidate_key(t.params) for t in trials}
        seen |= {candidate_key(p) for p in self._proposals.values()}
        # local search's mutations need no pool: it is topped up only when drawn from
        # (exploring, or no mutation found), which spares local search most of its costing;
        # the first pool sets the cost axis every rule ranks on
        topped_up = self._scale is None or self.rule != "local"
        if topped_up:
            self._fill_pool(seen)
        judged = [t for t in trials if t.state in JUDGED_STATES and epoch_accuracies(t)]
        options = self.options
        explore = (
            self.rule == "bins"
            or len(judged) < options.startup_trials
            or self._generator.random() < options.epsilon
        )
        proposal = None
        if not explore and self.rule == "local":
            proposal = self._local(trials, seen)
        elif not explore:
            proposal = self._predicted(trials, judged, seen)
        if proposal is None:
            if not topped_up:
                self._fill_pool(seen)
            proposal = self._from_bins(trials)
        if proposal is not None:
            self._pool.pop(proposal.candidate.key, None)
        return proposal

    def _sample(
        self, fixed: dict[str, Any] | None = None, known: Container[Key] = ()
    ) -> PoolCandidate | None:
        """A candidate by the space's walk (``fixed`` values where the walk may take them);
        ``None`` when the space refuses the walk, when it is in ``known`` (not costed) or
        over a constraint."""
        suggester = RecordingSuggester(self._generator, fixed)
        try:
            network = self.walk(suggester)
            if candidate_key(suggester.params) in known:
                return None
            costs = self.costs(network)
        except (ArchsearchError, ValueError):
            return None  # a walk the space refuses (rare)
        if any(costs[name] > limit for name, limit in self.constraints.items()):
            return None
        return PoolCandidate(suggester.params, suggester.distributions, costs)

    def _fill_pool(self, seen: set[Key]) -> None:
        """The pool topped up: ``pool_size`` walks the first time, ``refresh`` after (a walk
        that repeats a known candidate is wasted, so that a finite space does not loop)."""
        options = self.options
        walks = options.pool_size if not self._pool else options.refresh
        known = _Union(seen, self._pool)
        for _ in range(walks):
            candidate = self._sample(known=known)
            if candidate is not None:
                self._pool[candidate.key] = candidate
        while len(self._pool) > options.pool_size:
            self._pool.pop(next(iter(self._pool)))  # the oldest
        if self._scale is None and self._pool:
            logs = [math.log(max(c.costs[self.cost], 1.0)) for c in self._pool.values()]
            self._scale = (min(logs), max(logs))

    def normalised_cost(self, cost: float) -> float:
        """``cost`` on the unit log axis of the first pool's range (clipped)."""
        low, high = self._scale or (0.0, 1.0)
        if high <= low:
            return 0.0
        return min(1.0, max(0.0, (math.log(max(cost, 1.0)) - low) / (high - low)))

    def _bin(self, cost: float) -> int:
        return min(self.options.bins - 1, int(self.normalised_cost(cost) * self.options.bins))

    def _from_bins(self, trials: Sequence[FrozenTrial]) -> Proposal | None:
        """A random pool candidate of the bin with the fewest trials (running ones count)."""
        if not self._pool:
            return None
        counts = [0] * self.options.bins
        for trial in trials:
            cost = record_of(trial).get(self.cost)
            if cost is not None and trial.state != TrialState.FAIL:
                counts[self._bin(float(cost))] += 1
        by_bin: dict[int, list[PoolCandidate]] = {}
        for candidate in self._pool.values():
            by_bin.setdefault(self._bin(candidate.costs[self.cost]), []).append(candidate)
        fewest = min(counts[b] for b in by_bin)
        chosen = self._generator.choice(sorted(b for b in by_bin if counts[b] == fewest))
        candidate = self._generator.choice(by_bin[chosen])
        return Proposal(candidate, "bins", extra={"bin": chosen})

    def _front(self, trials: Sequence[FrozenTrial]) -> list[tuple[FrozenTrial, float, float]]:
        """The completed trials on the (accuracy, cost) front: (trial, error, unit cost)."""
        done = []
        for trial in trials:
            if trial.state != TrialState.COMPLETE or trial.values is None:
                continue
            record = record_of(trial)
            accuracy, cost = record.get("val_accuracy"), record.get(self.cost)
            if accuracy is None or cost is None:
                continue
            done.append((trial, 1.0 - float(accuracy), self.normalised_cost(float(cost))))
        if not done:
            return []
        ranks = nondominated_ranks(np.array([[e, c] for _, e, c in done]))
        return [point for point, rank in zip(done, ranks, strict=True) if rank == 0]

    def _mutate(self, parent: FrozenTrial, known: Container[Key]) -> PoolCandidate | None:
        """``parent``'s network with one of its choices changed (a choice with no other
        value is never picked); what the change makes necessary is drawn by the walk."""
        names = [
            name
            for name, distribution in parent.distributions.items()
            if not distribution.single()
        ]
        if not names:
            return None
        name = self._generator.choice(sorted(names))
        changed = neighbour(parent.distributions[name], parent.params[name], self._generator)
        candidate = self._sample({**parent.params, name: changed}, known=known)
        if candidate is not None:
            candidate.origin = f"mutation of trial {parent.number} ({name})"
        return candidate

    def _local(self, trials: Sequence[FrozenTrial], seen: set[Key]) -> Proposal | None:
        front = self._front(trials)
        for _ in range(30 if front else 0):
            parent = self._generator.choice(front)[0]
            candidate = self._mutate(parent, seen)
            if candidate is not None:
                return Proposal(candidate, "local")
        return None

    def _predicted(
        self,
        trials: Sequence[FrozenTrial],
        judged: Sequence[FrozenTrial],
        seen: set[Key],
    ) -> Proposal | None:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.feature_extraction import DictVectorizer

        front = self._front(trials)
        pool = dict(self._pool)
        for _ in range(self.options.mutations if front else 0):
            mutated = self._mutate(self._generator.choice(front)[0], _Union(seen, pool))
            if mutated is not None:
                pool[mutated.key] = mutated
        if not pool:
            return None
        rows, targets = self._observations(judged)
        if len(rows) < 2:
            return None
        final_epoch = max(row["epoch"] for row in rows)
        candidates = list(pool.values())
        encoder = DictVectorizer(sparse=False)
        features = encoder.fit_transform(
            rows
            + [features_of(c.params, c.distributions, c.costs, final_epoch) for c in candidates]
        )
        known, unknown = features[: len(rows)], features[len(rows) :]
        forest = RandomForestRegressor(
            n_estimators=self.options.trees,
            random_state=self._generator.randrange(2**31),
            n_jobs=1,
        ).fit(known, targets)
        per_tree = np.stack([tree.predict(unknown) for tree in forest.estimators_])
        mean, spread = per_tree.mean(axis=0), per_tree.std(axis=0)
        optimistic = np.clip(mean + self.options.exploration * spread, 0.0, 1.0)
        costs = np.array([self.normalised_cost(c.costs[self.cost]) for c in candidates])
        # (cost, error): the margin of a candidate that adds nothing is then in accuracy
        points = np.column_stack([costs, 1.0 - optimistic])
        front_points = np.array([[c, e] for _, e, c in front]).reshape(-1, 2)
        gains, margins = hypervolume_gains(front_points, points, (1.0, 1.0))
        best = int(np.lexsort((margins, gains))[-1])  # the most gain; then the nearest miss
        return Proposal(
            candidates[best],
            "predictor",
            float(mean[best]),
            float(spread[best]),
            {"gain": round(float(gains[best]), 5)},
        )

    def _observations(
        self, judged: Sequence[FrozenTrial]
    ) -> tuple[list[dict[str, float]], list[float]]:
        """One row per judged trial: its features at the epoch of its last accuracy (a trial
        stopped early at its rung; left out unless ``low_fidelity``)."""
        rows, targets = [], []
        for trial in judged:
            curve = epoch_accuracies(trial)
            if trial.state == TrialState.PRUNED and not self.options.low_fidelity:
                continue
            record = record_of(trial)
            costs = {name: float(record.get(name) or 1.0) for name in STATIC_COSTS}
            rows.append(features_of(trial.params, trial.distributions, costs, len(curve)))
            targets.append(float(curve[-1]))
        return rows, targets


def features_of(
    params: dict[str, Any],
    distributions: dict[str, BaseDistribution],
    costs: dict[str, float],
    epoch: int,
) -> dict[str, float]:
    """A candidate as the predictor sees it: each categorical choice as a name=value
    indicator, each number as itself (its log on a log range), its log costs and the epoch of
    the accuracy. A parameter the candidate's walk never asked is absent (0 everywhere)."""
    features: dict[str, float] = {"epoch": float(epoch)}
    for name, value in params.items():
        distribution = distributions.get(name)
        if isinstance(distribution, CategoricalDistribution) or isinstance(value, (bool, str)):
            features[f"{name}={value}"] = 1.0
        elif getattr(distribution, "log", False):
            features[name] = math.log(float(value))
        else:
            features[name] = float(value)
    for name in STATIC_COSTS:
        features[f"log {name}"] = math.log(max(float(costs.get(name, 1.0)), 1.0))
    return features
