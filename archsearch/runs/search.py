"""``run_search``: a whole search run — open the study, let the searcher fill it, finish.

Finishing evaluates the Pareto-optimal candidates on the test split (its one use) and writes
the trials as CSV and the HTML report.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import torch

from ..build import build_model
from ..data import Dataset, load_dataset
from ..errors import ConfigError
from ..interrupt import CtrlC
from ..objective import Candidates, TrialContext, evaluate_trial
from ..proxies import proxy_batch
from ..searchers import (
    BaseSearcher,
    Budget,
    DartsConfig,
    DartsSearcher,
    OptunaSearcher,
    TrialCallback,
    grid_size,
)
from ..searchers.oneshot.spos import SposConfig, SposSearcher
from ..searchers.pruners import ProxyScreen
from ..searchers.reference import ReferenceSearcher
from ..space import Distribution, read_space_text
from ..space.distributions import grid_values
from ..study import (
    OBJECTIVES,
    architecture_of,
    best_values,
    judged,
    pareto_trials,
    status_counts,
    test_accuracies,
    trial_row,
    weights_file,
)
from ..train import evaluate, resolve_device
from .config import RunConfig, RunProgress, RunResult
from .resume import load_run_space, open_study, recover_interrupted, settle_stale_trials
from .warmup import proxy_warm_start

GRID_POINTS_PER_RANGE = 3


def run_search(
    config: RunConfig,
    *,
    candidates: Candidates | None = None,
    space_text: str | None = None,
    progress: RunProgress | None = None,
    data: Dataset | None = None,
) -> RunResult:
    """Search (or, with a fixed architecture in ``candidates``, tune) and store the results."""
    progress = progress or RunProgress()
    started = time.perf_counter()
    if candidates is None:
        space, space_text = load_run_space(config.space)
        candidates = Candidates(space=space, epochs=config.epochs)
    elif space_text is None:
        space_text = read_space_text(config.space)[0] if candidates.space is not None else ""
    data = data or run_data(config)
    check_input_size(candidates, data, config.seed)
    device = resolve_device(config.device)
    trials = config.trials
    grid = search_grid(candidates) if config.searcher == "grid" else None
    if grid is not None:
        trials = grid_points(grid, trials)
    searcher = make_searcher(config, candidates, data, device, progress, grid)
    if isinstance(searcher, DartsSearcher):
        trials = 1 + config.derive_top
    if isinstance(searcher, SposSearcher):
        trials = config.retrain_top
    if isinstance(searcher, ReferenceSearcher):
        trials = len(searcher.networks)
    opened = open_study(
        config,
        candidates=candidates,
        space_text=space_text,
        data=data,
        sampler=searcher.create_sampler([OBJECTIVES[o] for o in config.objectives]),
        device=device,
        grid=grid,
    )
    study = opened.study
    if progress.on_start is not None:
        progress.on_start(config.run_name, len(judged(study)), trials)
    warmed = proxy_warm_start(study, config, candidates, data)
    if warmed and progress.on_message is not None:
        progress.on_message(warmed)
    if config.workers > 1:
        from .workers import run_local_workers

        run_local_workers(config, opened.storage, study, trials, progress)
    else:
        ctx = trial_context(config, candidates, data, device, progress)
        budget = Budget(trials=trials, timeout=config.timeout)
        search(searcher, study, ctx, budget, opened.shared, [_progress_callback(config, progress)])
    return finish(config, study, data, device, opened.storage, started, opened.resumed)


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


def make_searcher(
    config: RunConfig,
    candidates: Candidates,
    data: Dataset,
    device: torch.device,
    progress: RunProgress,
    grid: dict[str, list[Any]] | None = None,
) -> BaseSearcher:
    if config.searcher == "darts":
        if candidates.space is None or candidates.architecture is not None:
            raise ConfigError("searcher", "'darts' searches a space: give a space")
        darts = DartsConfig(
            mode=config.darts_mode,
            order=config.darts_order,
            epochs=config.darts_epochs,
            cost=config.cost,
            cost_weight=config.cost_weight,
            derive_top=config.derive_top,
            beta_weight=config.darts_beta,
            aux_skip=config.darts_aux_skip,
            partial_channels=config.darts_partial_channels,
            latency_backend=config.latency_backend,
            seed=config.seed,
        )
        return DartsSearcher(
            candidates.space, data, device, darts, log=progress.on_message, run_dir=config.run_dir
        )
    if config.searcher == "spos":
        if candidates.space is None or candidates.architecture is not None:
            raise ConfigError("searcher", "'spos' searches a space: give a space")
        spos = SposConfig(
            epochs=config.spos_epochs,
            sampling=config.spos_sampling,
            evaluations=config.spos_evaluations,
            sampler=config.spos_sampler,
            retrain_top=config.retrain_top,
            seed=config.seed,
        )
        return SposSearcher(
            candidates.space,
            data,
            device,
            spos,
            objectives=config.objectives,
            constraints=config.constraints,
            run_dir=config.run_dir,
            log=progress.on_message,
        )
    if config.searcher == "zoo":
        if candidates.space is None or candidates.architecture is not None:
            raise ConfigError("searcher", "'zoo' takes its hyperparameters from a space")
        return ReferenceSearcher(candidates.space, data.input_size, seed=config.seed)
    return OptunaSearcher(config.searcher, seed=config.seed, grid=grid)


def trial_context(
    config: RunConfig,
    candidates: Candidates,
    data: Dataset,
    device: torch.device,
    progress: RunProgress,
) -> TrialContext:
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
        always_latency=config.searcher == "darts" and config.cost == "latency",
        on_candidate=progress.on_candidate,
        on_epoch=progress.on_epoch,
        proxies=config.proxies,
        proxy_batch=proxy_batch(data, seed=config.seed) if config.proxies else None,
        screen=(
            ProxyScreen(config.proxy_screen, config.proxies[0]) if config.proxy_screen else None
        ),
    )


def _progress_callback(config: RunConfig, progress: RunProgress) -> TrialCallback:
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
    with CtrlC() as ctrl_c:
        ctx = replace(
            ctx,
            on_candidate=_checked(ctrl_c, ctx.on_candidate),
            on_epoch=_checked(ctrl_c, ctx.on_epoch),
        )
        try:
            searcher.search(
                study,
                lambda t: evaluate_trial(t, ctx),
                budget,
                [lambda *args: ctrl_c.check(), *callbacks],
            )
        except KeyboardInterrupt:
            if not shared:
                # Optuna fails the trial that Ctrl-C stops in training; one stopped while it
                # was being asked for or told stays RUNNING unless it is failed here (and if
                # the database cannot be written now, the next run recovers it)
                with contextlib.suppress(Exception):
                    recover_interrupted(study, "interrupted (Ctrl-C)")
            raise
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


def finish(
    config: RunConfig,
    study: optuna.Study,
    data: Dataset,
    device: torch.device,
    storage: str,
    started: float,
    resumed: int,
) -> RunResult:
    """Test accuracy of the front, the trials as CSV, the report."""
    from ..report import write_report, write_trials_table

    weights_dir = config.run_dir / "weights"
    evaluate_test_split(study, data, weights_dir, device)
    tests = test_accuracies(study)
    csv = config.run_dir / "trials.csv"
    write_trials_table([trial_row(t, tests) for t in study.get_trials(deepcopy=False)], csv)
    report = write_report(study, Path(config.reports_dir) / f"{config.run_name}.html")
    return RunResult(
        name=config.run_name,
        study=study,
        run_dir=config.run_dir,
        storage=storage,
        pareto=[trial_row(t, tests) for t in pareto_trials(study)],
        counts=status_counts(study),
        seconds=time.perf_counter() - started,
        resumed_trials=resumed,
        files={
            "study": storage,
            "trials_csv": str(csv),
            "weights": str(weights_dir),
            "report": str(report),
        },
    )


def evaluate_test_split(
    study: optuna.Study, data: Dataset, weights_dir: Path, device: torch.device
) -> None:
    """Test accuracy of the Pareto-optimal candidates only (the test split's one use)."""
    known = test_accuracies(study)
    for trial in pareto_trials(study):
        path = weights_file(weights_dir, trial.number)
        if trial.number in known or not path.is_file():
            continue
        model = build_model(architecture_of(trial), data.num_classes, data.in_channels)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.to(device)
        known[trial.number] = evaluate(model, data.x_test, data.y_test, device=device)
    study.set_user_attr("test_accuracy", {str(k): v for k, v in sorted(known.items())})
