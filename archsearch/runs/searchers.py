"""Every searcher a run can use, in one table: name → how to make it from the run's options,
and what it needs. ``--searcher`` takes these names; ``make_searcher`` is the only place a
run turns a name into a searcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import optuna
import torch

from ..architecture import Architecture
from ..errors import ConfigError
from ..objective import Candidates
from ..profiler import architecture_costs
from ..searchers import BaseSearcher, DartsConfig, DartsSearcher, OptunaSearcher
from ..searchers._optuna import SamplerName
from ..searchers.guided import GUIDED_RULES, GuidedRule, GuidedSampler
from ..searchers.oneshot.spos import SposConfig, SposSearcher
from ..searchers.reference import ReferenceSearcher

if TYPE_CHECKING:
    from ._loop import RunSetup
    from .config import RunConfig, RunProgress

Factory = Callable[["RunConfig", "RunSetup", torch.device, "RunProgress"], BaseSearcher]


@dataclass(frozen=True)
class SearcherEntry:
    """How a run makes one searcher, and what that searcher needs."""

    make: Factory
    #: picks a few networks by its own means and trains them in one process: no sampling per
    #: trial, no early stopping, no proxy screening, no workers
    picks: bool = False
    #: what it searches needs a space, not a fixed architecture: the error's reason otherwise
    needs_space: str | None = None


def sampling_searcher(
    config: RunConfig,
    candidates: Candidates,
    input_shape: tuple[int, int, int],
    classes: int,
    grid: dict[str, list[Any]] | None = None,
) -> OptunaSearcher:
    """The searcher of a run that samples its networks — Optuna's samplers and the guided
    ones —, made alike by a run, a worker and a replay."""
    if config.searcher in GUIDED_RULES:
        return guided_searcher(config, candidates, input_shape, classes)
    name = cast(SamplerName, config.searcher)
    return OptunaSearcher(name, seed=config.seed, grid=grid)


def _sampling(
    config: RunConfig, setup: RunSetup, _: torch.device, __: RunProgress
) -> BaseSearcher:
    data = setup.data
    shape = (data.in_channels, *data.input_size)
    return sampling_searcher(config, setup.candidates, shape, data.num_classes, setup.grid)  # type: ignore[arg-type]


def guided_searcher(
    config: RunConfig, candidates: Candidates, input_shape: tuple[int, int, int], classes: int
) -> OptunaSearcher:
    """A :class:`~archsearch.searchers.guided.GuidedSampler` run (``bins``, ``local``,
    ``predictor``): its walk is the trial's own, costed by the profiler before training."""
    channels, height, width = input_shape
    shape = (1, channels, height, width)

    def walk(suggester: Any) -> Architecture:
        return candidates.sample(suggester, (height, width))[0]

    def costs(arch: Architecture) -> dict[str, float]:
        counted = architecture_costs(arch, shape, classes)
        return {"params": counted.params, "flops": counted.flops, "mac": counted.mac}

    def make() -> optuna.samplers.BaseSampler:
        return GuidedSampler(
            walk,
            costs,
            config.objectives,
            cast(GuidedRule, config.searcher),
            constraints=config.constraints,
            seed=config.seed,
            options=config.guided,
        )

    return OptunaSearcher(config.searcher, seed=config.seed, make_sampler=make)  # type: ignore[arg-type]


def _darts(
    config: RunConfig, setup: RunSetup, device: torch.device, progress: RunProgress
) -> BaseSearcher:
    assert setup.candidates.space is not None
    darts = DartsConfig(
        **asdict(config.darts), latency_backend=config.latency_backend, seed=config.seed
    )
    return DartsSearcher(
        setup.candidates.space,
        setup.data,
        device,
        darts,
        log=progress.on_message,
        run_dir=config.run_dir,
        objectives=config.objectives,
    )


def _spos(
    config: RunConfig, setup: RunSetup, device: torch.device, progress: RunProgress
) -> BaseSearcher:
    assert setup.candidates.space is not None
    spos = SposConfig(**asdict(config.spos), seed=config.seed)
    return SposSearcher(
        setup.candidates.space,
        setup.data,
        device,
        spos,
        objectives=config.objectives,
        constraints=config.constraints,
        run_dir=config.run_dir,
        log=progress.on_message,
    )


def _zoo(config: RunConfig, setup: RunSetup, _: torch.device, __: RunProgress) -> BaseSearcher:
    assert setup.candidates.space is not None
    return ReferenceSearcher(setup.candidates.space, setup.data.input_size, seed=config.seed)


SEARCHER_TABLE: dict[str, SearcherEntry] = {
    "random": SearcherEntry(_sampling),
    "grid": SearcherEntry(_sampling),
    "tpe": SearcherEntry(_sampling),
    "nsga2": SearcherEntry(_sampling),
    "gp": SearcherEntry(_sampling),
    "bins": SearcherEntry(
        _sampling, needs_space="'bins' proposes networks of a space: give a space"
    ),
    "local": SearcherEntry(
        _sampling, needs_space="'local' proposes networks of a space: give a space"
    ),
    "predictor": SearcherEntry(
        _sampling, needs_space="'predictor' proposes networks of a space: give a space"
    ),
    "darts": SearcherEntry(
        _darts, picks=True, needs_space="'darts' searches a space: give a space"
    ),
    "spos": SearcherEntry(_spos, picks=True, needs_space="'spos' searches a space: give a space"),
    "zoo": SearcherEntry(
        _zoo, picks=True, needs_space="'zoo' takes its hyperparameters from a space"
    ),
}
#: searchers that enqueue the few networks they pick and train them in one process
PICKING_SEARCHERS: tuple[str, ...] = tuple(n for n, e in SEARCHER_TABLE.items() if e.picks)


def make_searcher(
    config: RunConfig, setup: RunSetup, device: torch.device, progress: RunProgress
) -> BaseSearcher:
    """The run's searcher, from :data:`SEARCHER_TABLE`."""
    entry = SEARCHER_TABLE[config.searcher]
    candidates = setup.candidates
    if entry.needs_space and (candidates.space is None or candidates.architecture is not None):
        raise ConfigError("searcher", entry.needs_space)
    return entry.make(config, setup, device, progress)
