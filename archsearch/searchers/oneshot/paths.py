"""Which networks of the supernet a training step trains: the path samplers of
:func:`.spos.train_supernet` (SPOS's uniform walk, FairNAS's strict fairness, BigNAS's
sandwich), and :func:`sample_network`, the space's own walk restricted to the supernet.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch

from ...architecture import Architecture
from ...errors import ArchsearchError
from ...space import SearchSpace
from .costs import op_costs
from .plan import PathSuggester, SupernetChooser, SupernetPath, SupernetPlan, path_of

Sampling = Literal["uniform", "fair", "sandwich"]


class RandomSuggester:
    """A :class:`~archsearch.space.distributions.Suggester` drawing every value uniformly
    (log-uniformly for a log range) from ``generator``: the space walk as a random sampler,
    cheaper than an Optuna trial for the thousands of paths of a supernet's training."""

    def __init__(self, generator: random.Random) -> None:
        self.generator = generator

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.generator.choice(list(choices))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return self.generator.randrange(low, high + 1, step)

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        if log:
            return math.exp(self.generator.uniform(math.log(low), math.log(high)))
        value = self.generator.uniform(low, high)
        # on a stepped range, the nearest step: a value the trial's distribution admits
        return value if step is None else min(high, low + step * round((value - low) / step))


def uniform_paths(
    space: SearchSpace, plan: SupernetPlan, generator: random.Random
) -> Iterator[list[SupernetPath]]:
    """SPOS: each step one network of the space drawn uniformly by the space's own walk
    (each choice of the space file equally likely: block type, options, depth, widths), so a
    stage whose blocks share a type in the space shares it in training too. Networks the
    supernet cannot run (rare: an op valid only at a narrower width) are drawn again."""
    suggester = RandomSuggester(generator)
    while True:
        try:
            yield [sample_network(space, plan, suggester, plan.input_size)[1]]
        except ArchsearchError:
            continue


def fair_paths(
    space: SearchSpace, plan: SupernetPlan, generator: random.Random
) -> Iterator[list[SupernetPath]]:
    """FairNAS's strict fairness: each step m paths (m: the most ops at any position) in
    which every position runs each of its ops once — a position with fewer ops repeats a
    shuffled round of them; widths drawn uniformly. Positions choose independently, so
    these paths may mix block types inside a stage where the space's networks do not."""
    m = max((len(p.ops) for p in plan.positions), default=1)
    while True:
        columns = []
        for position in plan.positions:
            order: list[int] = []
            while len(order) < m:
                round_ = list(range(len(position.ops)))
                generator.shuffle(round_)
                order += round_
            columns.append(order[:m])
        paths = []
        for k in range(m):
            widths, stem = _random_widths(plan, generator)
            paths.append(SupernetPath(tuple(c[k] for c in columns), widths, stem))
        yield paths


def _random_widths(plan: SupernetPlan, generator: random.Random) -> tuple[tuple[int, ...], int]:
    stage_widths: dict[int, int] = {}
    for position in plan.positions:
        if position.stage not in stage_widths:
            stage_widths[position.stage] = generator.choice(position.widths)
    widths = tuple(stage_widths[p.stage] for p in plan.positions)
    return widths, generator.choice(plan.stem_widths or (plan.stem_channels,))


def sandwich_paths(
    space: SearchSpace, plan: SupernetPlan, generator: random.Random
) -> Iterator[list[SupernetPath]]:
    """BigNAS's sandwich rule (Yu et al., ECCV 2020): each step the largest network (the op
    of most flops at every position, every width at the supernet's), the smallest (the
    cheapest op, skip where the space allows one, at the narrowest widths) and two drawn by
    the space's walk. :func:`train_supernet` trains the largest on the labels and the other
    three on its predictions (in-place distillation), so every path learns one function."""
    flops = op_costs(plan, "flops", torch.device("cpu"))
    largest = plan.full_path([max(range(len(row)), key=row.__getitem__) for row in flops])
    smallest = SupernetPath(
        tuple(min(range(len(row)), key=row.__getitem__) for row in flops),
        tuple(min(p.widths) for p in plan.positions),
        min(plan.stem_widths or (plan.stem_channels,)),
    )
    walk = uniform_paths(space, plan, generator)
    while True:
        yield [largest, smallest, next(walk)[0], next(walk)[0]]


PathSampler = Callable[[SearchSpace, SupernetPlan, random.Random], Iterator[list[SupernetPath]]]
PATH_SAMPLERS: dict[str, PathSampler] = {
    "uniform": uniform_paths,
    "fair": fair_paths,
    "sandwich": sandwich_paths,
}
#: samplers whose first path of a step teaches the others (in-place distillation)
DISTILLING: tuple[Sampling, ...] = ("sandwich",)


def sample_network(
    space: SearchSpace, plan: SupernetPlan, trial: Any, input_size: tuple[int, int]
) -> tuple[Architecture, SupernetPath]:
    """A network of ``space`` that the supernet runs, sampled by the space's own walk
    (:class:`~.plan.PathSuggester`), and its path. Raises :class:`ArchsearchError` when the
    network is outside the supernet (see :func:`~.plan.path_of`)."""
    suggester = PathSuggester(trial, SupernetChooser(widest=True))
    arch = space.sample_layout(suggester, input_size).architecture
    return arch, path_of(plan, arch)
