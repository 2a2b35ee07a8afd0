"""What every way of running a search shares — ``run_search`` in one process and each worker
of :mod:`.workers` —: the run's data, its setup (space, candidates, grid), its study opened by
one searcher, the trial context, and the search loop with its Ctrl-C handling. Neither
:mod:`.search` nor :mod:`.workers` imports the other's internals: both import these.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
import torch

from ..data import Dataset, load_dataset
from ..errors import ConfigError, DiskFull, as_disk_full
from ..interrupt import CtrlC
from ..objective import Candidates, TrialContext, evaluate_trial
from ..proxies import proxy_batch
from ..searchers import BaseSearcher, Budget, TrialCallback, grid_size
from ..searchers.pruners import ProxyScreen
from ..space import Distribution, SearchSpace, continuous_fields, read_space_text, space_size
from ..space.distributions import grid_values
from ..study import best_values, judged
from .config import RunConfig, RunProgress
from .resume import (
    OpenedRun,
    load_run_space,
    open_study,
    recover_interrupted,
    settle_stale_trials,
)

GRID_POINTS_PER_RANGE = 3


@dataclass
class RunSetup:
    """A run's inputs, read and checked before its study is opened."""

    candidates: Candidates
    space_text: str  # the space file's text, kept in the study
    data: Dataset
    grid: dict[str, list[Any]] | None  # a grid run's values per field (GridSampler's)
    #: a grid run's points, each a distinct candidate: queued once each when the study is made
    points: list[dict[str, Any]] | None = None


def set_up_run(
    config: RunConfig,
    *,
    candidates: Candidates | None = None,
    space_text: str | None = None,
    data: Dataset | None = None,
    points: list[dict[str, Any]] | None = None,
) -> RunSetup:
    """The space (``config.space``, unless ``candidates`` are given), the data at the run's
    fidelity, the input size checked against the space, and a grid run's grid: its distinct
    points (:func:`distinct_points`), or ``points``, some of them."""
    if candidates is None:
        space, space_text = load_run_space(config.space)
        candidates = Candidates(space=space, epochs=config.epochs)
    elif space_text is None:
        space_text = read_space_text(config.space)[0] if candidates.space is not None else ""
    data = data or run_data(config)
    check_input_size(candidates, data, config.seed)
    grid = search_grid(candidates) if config.searcher == "grid" else None
    if grid is not None:
        grid_points(grid, config.trials)  # refused when larger than the budget
        points = points or distinct_points(candidates, grid, data.input_size)
    return RunSetup(candidates, space_text, data, grid, points)


def open_run_study(
    config: RunConfig, setup: RunSetup, searcher: BaseSearcher, device: torch.device
) -> OpenedRun:
    """Create or resume the run's study, sampled by ``searcher``."""
    return open_study(
        config,
        candidates=setup.candidates,
        space_text=setup.space_text,
        data=setup.data,
        sampler=searcher.create_sampler(),
        device=device,
        points=setup.points,
    )


def run_data(config: RunConfig) -> Dataset:
    """The run's data set, at the run's fidelity (``train_limit`` / ``train_fraction`` /
    ``resolution``)."""
    return load_dataset(
        config.dataset,
        val_fraction=config.val_fraction,
        seed=config.seed,
        limit=config.train_limit,
        fraction=config.train_fraction,
        resolution=config.resolution,
    )


def check_input_size(candidates: Candidates, data: Dataset, seed: int) -> None:
    """Fail before any trial when the space cannot serve the data's input size."""
    if candidates.space is not None and candidates.architecture is None:
        size = data.input_size
        candidates.space.sample(1, seed=seed, input_size=size)[0].infer_shapes(
            data.in_channels, size
        )


def trial_context(
    config: RunConfig,
    candidates: Candidates,
    data: Dataset,
    device: torch.device,
    progress: RunProgress,
    deadline: float | None = None,
) -> TrialContext:
    """What every trial of the run is judged with; ``deadline`` (``time.monotonic()``): when
    the run's time is up (see :attr:`TrialContext.deadline`)."""
    weights_dir = config.run_dir / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    return TrialContext(
        candidates=candidates,
        data=data,
        objectives=tuple(config.objectives),
        constraints=config.constraints,
        device=device,
        seed=config.seed,
        weights_dir=weights_dir,
        latency_threads=config.latency_threads,
        latency_backend=config.latency_backend,
        always_latency=config.searcher == "darts" and config.darts.cost == "latency",
        on_candidate=progress.on_candidate,
        on_epoch=progress.on_epoch,
        proxies=config.proxies,
        proxy_batch=proxy_batch(data, seed=config.seed) if config.proxies else None,
        screen=(
            ProxyScreen(config.proxy_screen, config.proxies[0]) if config.proxy_screen else None
        ),
        deadline=deadline,
    )


def progress_callback(config: RunConfig, progress: RunProgress) -> TrialCallback:
    def report_trial(
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        done: list[optuna.trial.FrozenTrial],
    ) -> None:
        if progress.on_trial is not None:
            best = best_values(done, config.objectives)
            progress.on_trial(trial, best, len(judged(study)))

    return report_trial


def search(
    searcher: BaseSearcher,
    study: optuna.Study,
    ctx: TrialContext,
    budget: Budget,
    shared: bool,
    callbacks: list[TrialCallback],
) -> None:
    """``searcher.search`` in this process, with a Ctrl-C that cannot be lost and that leaves
    no trial RUNNING in a study of its own (``shared``: other workers' trials may be running;
    a trial of this one that Ctrl-C stops outside training is failed by its heartbeat)."""
    full_disk: list[DiskFull] = []

    def evaluate(trial: optuna.Trial) -> Sequence[float]:
        try:
            return evaluate_trial(trial, ctx)
        except DiskFull as full:
            # the run stops here (every next candidate would fail the same way); the trial
            # is queued again (see guarded) for the same command to resume once there is space
            full_disk.append(full)
            study.stop()
            raise

    with CtrlC() as ctrl_c:
        ctx = replace(
            ctx,
            on_candidate=_checked(ctrl_c, ctx.on_candidate),
            on_epoch=_checked(ctrl_c, ctx.on_epoch),
        )
        try:
            searcher.search(
                study,
                evaluate,
                replace(budget, shared=shared),
                [lambda *args: ctrl_c.check(), *callbacks],
            )
        except Exception as error:
            # a searcher's complaint about a search cut short, or the study's database failing
            # to write: the full disk is what to report
            where = Path.cwd() if ctx.weights_dir is None else ctx.weights_dir.parent
            full = full_disk[0] if full_disk else as_disk_full(error, where)
            if full is not None:
                raise full from error
            raise
        except KeyboardInterrupt:
            if not shared:
                # Optuna fails the trial that Ctrl-C stops in training; one stopped while it
                # was being asked for or told stays RUNNING unless it is failed here (and if
                # the database cannot be written now, the next run recovers it)
                with contextlib.suppress(Exception):
                    recover_interrupted(study, "interrupted (Ctrl-C)")
            raise
    if full_disk:
        raise full_disk[0]
    if shared:  # no dead worker's trial may stay RUNNING once this one is done
        settle_stale_trials(study)


def _checked(ctrl_c: CtrlC, callback: Callable[..., None] | None) -> Callable[..., None]:
    """``callback``, after raising a Ctrl-C that was pressed and lost (see :mod:`.interrupt`)."""

    def checked(*args: Any) -> None:
        ctrl_c.check()
        if callback is not None:
            callback(*args)

    return checked


def search_grid(candidates: Candidates) -> dict[str, list[Any]]:
    """The grid for GridSampler: every parameter, continuous ranges at 3 points."""
    if candidates.hyperparameters is not None:
        dists: dict[str, Distribution] = dict(candidates.hyperparameters)
        if candidates.space is not None and candidates.architecture is None:
            dists = {**candidates.space.distributions(), **dists}
    elif candidates.space is not None:
        dists = candidates.space.distributions(architecture=candidates.architecture is None)
    else:
        dists = {}
    if candidates.epochs is not None:
        dists.pop("epochs", None)
    return {name: grid_values(d, GRID_POINTS_PER_RANGE) for name, d in dists.items()}


def distinct_points(
    candidates: Candidates, grid: dict[str, list[Any]], input_size: tuple[int, int]
) -> list[dict[str, Any]]:
    """The grid's points that are distinct candidates, in the grid's order. A field that
    applies to some choices only (an inverted residual's expansion, when the block is another)
    multiplies the grid by copies of one network: each point is walked through the space as a
    trial would be, and a point whose values in use repeat an earlier one's is left out."""
    names = list(grid)
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for values in itertools.product(*(grid[name] for name in names)):
        point = dict(zip(names, values, strict=True))
        trial = optuna.trial.FixedTrial(point)
        try:
            candidates.sample(trial, input_size)  # type: ignore[arg-type]
        except ValueError:  # a field outside the grid (the epochs a run overrides): all points
            return [dict(zip(names, v, strict=True)) for v in itertools.product(*grid.values())]
        seen.setdefault(tuple(sorted(trial.params.items(), key=repr)), point)
    return list(seen.values())


def describe_size(space: SearchSpace, input_size: int = 32) -> str:
    """One line on the space's size: its distinct networks (counted one by one up to
    :data:`COUNTED_UP_TO` grid points), or why it has no size."""
    size = space_size(space)
    if size is None:
        return f"size: not finite ({', '.join(continuous_fields(space))}: continuous)"
    if size > COUNTED_UP_TO:
        return f"size: {size:,} grid points (too many to count its distinct networks)"
    candidates = Candidates(space=space)
    points = distinct_points(candidates, search_grid(candidates), (input_size, input_size))
    return f"size: {len(points):,} distinct networks and recipes ({size:,} grid points)"


#: the largest grid whose distinct networks ``show`` counts (about 0.1 ms each)
COUNTED_UP_TO = 200_000


def grid_points(grid: dict[str, list[Any]], trials: int) -> int:
    """The grid's size, which is the run's budget; refused when over ``trials``."""
    points = grid_size(grid)
    if points > trials:
        raise ConfigError(
            "trials",
            f"the grid has {points:,} points, more than the budget of {trials} trials:"
            " narrow the space (fix more fields) or raise the budget",
        )
    return points
