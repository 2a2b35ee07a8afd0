"""``archsearch bench search``: searchers compared on one space and data set at equal wall time,
over several seeds — the question every NAS paper since Li & Talwalkar (2019) asks first.

Each (searcher, seed) is an ordinary run (:func:`run_search`) with ``timeout = budget_s``,
stored in its own study under ``OUT/runs``; everything measured is read back from the studies:

- the hypervolume of the (validation accuracy, cost) front, on fixed axes: error normalised by
  the chance error, ``(1 - acc) / (1 - 1/classes)``, and the log cost normalised to the space's
  cost range, ``(log c - log c_min) / (log c_max - log c_min)`` (clipped to [0, 1]), where the
  range is that of 256 architectures sampled from the space and counted by the static
  profiler. The reference point is (1, 1): a front's hypervolume is the share of the unit
  square it dominates. Only trials finished within ``budget_s`` of the run's start count;
- the same hypervolume over time (the anytime curve), the time each searcher needs to reach
  the first searcher's final hypervolume, trials completed and pruned, the best accuracy under
  two cost budgets, and the hypervolume of the front's test accuracies.

Runs go one after another with all the machine's threads, or ``parallel`` side by side with
the threads split evenly (every run gets the same share: ``threads`` each), in fresh
processes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from ..errors import ConfigError
from ..pareto import hypervolume_2d
from ..report import _html, _plots, get_pareto_info
from ..runs import RunConfig
from ..runs._loop import run_data
from ..runs.resume import load_run_space, open_storage
from ..study import (
    OBJECTIVE_ATTRS,
    judged,
    record_bench_start,
    record_of,
    run_record,
    status_of,
    test_accuracies,
)
from ._output import data_line, machine_line, markdown_table, write_outputs

#: the static costs a benchmark can normalise (latency has no range known before measuring)
BENCH_COSTS = ("flops", "params", "mac")
COST_RANGE_SAMPLES = 256
CURVE_POINTS = 60
WARM_UP_IMAGES = 256


@dataclass(frozen=True)
class BenchEntry:
    """One searcher of the comparison: a label and the run options it differs by."""

    label: str
    options: dict[str, Any]


def parse_entries(text: str) -> list[BenchEntry]:
    """``random,tpe,tpe:pruner=none:train_limit=500`` → entries; each ``key=value`` is a
    :class:`RunConfig` field (``searcher`` is the part before the first colon)."""
    known = RunConfig().options()
    entries = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        searcher, *pairs = item.split(":")
        options: dict[str, Any] = {"searcher": searcher}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in known:
                raise ConfigError("searchers", f"'{pair}' in '{item}' is not FIELD=VALUE")
            options[key] = _typed(value.strip(), known[key])
        entries.append(BenchEntry(item, options))
    if not entries:
        raise ConfigError("searchers", "give at least one searcher")
    if len({e.label for e in entries}) != len(entries):
        raise ConfigError("searchers", "a searcher is listed twice")
    return entries


def _typed(value: str, default: Any) -> Any:
    if isinstance(default, str):
        return value
    if isinstance(default, tuple):  # a list option: items joined by "+" (commas part entries)
        items = tuple(v for v in value.split("+") if v)
        return () if items == ("none",) else items
    if value.lower() in ("none", "null"):
        return None
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes")
    for kind in (int, float):
        if isinstance(default, kind) or default is None:
            try:
                return kind(value)
            except ValueError:
                continue
    return value


def parse_seeds(text: str) -> tuple[int, ...]:
    """``0,1,2`` or ``0-99`` (or both: ``0-9,20``) → the seeds of a benchmark."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, dash, high = part.partition("-")
            seeds += range(int(low), int(high) + 1) if dash else [int(low)]
    except ValueError:
        raise ConfigError("seeds", f"'{text}' is not a list of seeds (0,1,2 or 0-99)") from None
    return tuple(seeds)


def parse_cost_budgets(text: str | None) -> tuple[float, float] | None:
    """``50000,200000`` → the two costs of "best accuracy under" (``None``: the defaults)."""
    if not text:
        return None
    try:
        budgets = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError("cost_budgets", f"'{text}' is not a comma-separated list") from None
    if len(budgets) != 2:
        raise ConfigError("cost_budgets", "give two costs")
    return budgets[0], budgets[1]


@dataclass(frozen=True)
class CostScale:
    """The cost axis: log cost normalised to the space's range."""

    cost: str
    low: float
    high: float

    def normalise(self, value: float) -> float:
        span = math.log(self.high) - math.log(self.low)
        scaled = (math.log(max(value, 1.0)) - math.log(self.low)) / span if span > 0 else 0.0
        return min(1.0, max(0.0, scaled))

    def at(self, fraction: float) -> float:
        """The cost at ``fraction`` of the log range (a cost budget)."""
        return float(math.exp(math.log(self.low) + fraction * (math.log(self.high / self.low))))


def cost_range(config: RunConfig, cost: str, samples: int = COST_RANGE_SAMPLES) -> CostScale:
    """The range of ``cost`` over ``samples`` architectures of the space, counted by the static
    profiler at the data's input size (networks built on the meta device: no weights)."""
    from ..build import build_model
    from ..profiler import static_costs

    space, _ = load_run_space(config.space)
    data = run_data(config)
    shape = (1, data.in_channels, *data.input_size)
    values = []
    for arch in space.sample(samples, seed=0, input_size=data.input_size):
        with torch.device("meta"):
            model = build_model(arch, data.num_classes, data.in_channels)
        values.append(float(getattr(static_costs(model, shape), cost)))
    return CostScale(cost, max(min(values), 1.0), max(max(values), 1.0))


@dataclass(frozen=True)
class BenchConfig:
    base: RunConfig  # space, data, objectives, epochs, fidelity: what every run shares
    entries: tuple[BenchEntry, ...]
    budget_s: float
    seeds: tuple[int, ...] = (0, 1, 2)
    parallel: int = 1
    threads: int | None = None  # per run; default: the machine's threads / parallel
    out_dir: str = "bench"
    cost_budgets: tuple[float, float] | None = None  # default: 1/4 and 1/2 of the log range
    # fronts searched at different fidelities compared alike: every front network trained
    # again, the same way (these epochs, its own hyperparameters, on the same images of the
    # data at its full size), and tested on the whole test split; 0: not retrained
    retrain_epochs: int = 0
    retrain_images: int = 5000

    def __post_init__(self) -> None:
        if len(self.base.objectives) != 2 or "accuracy" not in self.base.objectives:
            raise ConfigError("objectives", "a benchmark compares accuracy against one cost")
        if self.cost not in BENCH_COSTS:
            raise ConfigError("objectives", f"the cost must be one of {', '.join(BENCH_COSTS)}")
        if self.budget_s <= 0:
            raise ConfigError("budget_s", "must be positive")
        if self.parallel < 1 or not self.seeds:
            raise ConfigError("parallel", "give at least one seed and one process")

    @property
    def cost(self) -> str:
        return next(o for o in self.base.objectives if o != "accuracy")

    @property
    def threads_per_run(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.parallel)


@dataclass
class RunMetrics:
    label: str
    seed: int
    study: str
    storage: str
    hypervolume: float
    test_hypervolume: float
    completed: int
    pruned: int
    judged: int
    best_under: tuple[float | None, float | None]
    curve_t: list[float]
    curve_hv: list[float]
    front: list[tuple[float, float]]  # (cost, accuracy) of the validation front
    wall_s: float
    front_trials: list[int] = field(default_factory=list)  # the numbers of ``front``'s trials
    # the front's networks retrained at full fidelity: (cost at the data's size, test accuracy)
    retrained: list[tuple[float, float]] = field(default_factory=list)
    retrained_hypervolume: float | None = None


@dataclass
class BenchResult:
    config: BenchConfig
    scale: CostScale
    budgets: tuple[float, float]
    runs: list[RunMetrics] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    machine: str = ""


def run_config(config: BenchConfig, entry: BenchEntry, seed: int) -> RunConfig:
    out = Path(config.out_dir)
    return RunConfig.from_options(
        **{
            **config.base.options(),
            **entry.options,
            "seed": seed,
            # a benchmark searches at full fidelity unless an entry asks for auto
            "fidelity": entry.options.get("fidelity") or config.base.fidelity or "full",
            "timeout": config.budget_s,
            "trials": 1_000_000,  # the wall time is the budget
            "name": f"{_slug(entry.label)}-s{seed}",
            "runs_dir": str(out / "runs"),
            "reports_dir": str(out / "reports"),
            "storage": None,
            "study": None,
            "workers": 1,
            "latency_threads": config.threads_per_run,
        }
    )


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def _one_run(run: RunConfig, threads: int) -> tuple[str, str, float]:
    """In a fresh process: a warm-up, then the run, with this process's share of threads.

    A fresh process spends seconds on its first trial (torch's first kernels, the profiler's
    first trace): measured, that was most of a short budget. A one-trial, one-epoch run on a
    small sample of the data, outside the clock, pays it before the clock starts.
    """
    import tempfile

    from ..runs import run_search

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="archsearch-warm-up-") as scratch:
        warm_up = replace(
            run,
            name="warm-up",
            runs_dir=scratch,
            reports_dir=scratch,
            searcher="random",
            pruner="none",
            trials=1,
            epochs=1,
            timeout=None,
            fidelity=None,
            train_limit=min(run.train_limit or WARM_UP_IMAGES, WARM_UP_IMAGES),
            train_fraction=None,
        )
        run_search(warm_up)
    started = time.time()
    result = run_search(run)
    # the clock's start, kept with the run: its figures can be measured again from the study
    record_bench_start(result.study, started)
    return result.storage, result.study.study_name, started


def run_bench(
    config: BenchConfig, on_progress: Callable[[str, int, int], None] | None = None
) -> BenchResult:
    """Run every (searcher, seed) for ``budget_s`` each, then measure them."""
    runs = [
        (entry, seed, run_config(config, entry, seed))
        for seed in config.seeds
        for entry in config.entries
    ]
    scale = cost_range(runs[0][2], config.cost)
    budgets = config.cost_budgets or (scale.at(0.25), scale.at(0.5))
    stored: dict[tuple[str, int], tuple[str, str, float]] = {}
    done = 0
    # one fresh process per run: none inherits another's warm caches
    with ProcessPoolExecutor(
        config.parallel, mp_context=get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        futures = {
            pool.submit(_one_run, run, config.threads_per_run): (entry.label, seed)
            for entry, seed, run in runs
        }
        for future in as_completed(futures):
            stored[futures[future]] = future.result()
            done += 1
            if on_progress is not None:
                label, seed = futures[future]
                on_progress(f"{label} seed {seed}", done, len(runs))
    chance = 1.0 / _classes(next(iter(stored.values())))
    result = BenchResult(config, scale, budgets, machine=_machine(config))
    for entry, seed, _ in runs:
        storage, name, started = stored[(entry.label, seed)]
        study = optuna.load_study(study_name=name, storage=open_storage(storage))
        result.runs.append(
            measure_run(
                study, storage, entry.label, seed, scale, chance, config.budget_s, budgets, started
            )
        )
    if config.retrain_epochs:
        retrain_fronts(config, result, on_progress)
    result.rows = summary_rows(result.runs, config.budget_s)
    result.files = write_bench(result)
    return result


def retrain_fronts(
    config: BenchConfig,
    result: BenchResult,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Every run's front networks trained again alike (:attr:`BenchConfig.retrain_epochs`),
    side by side as the runs were; their hypervolume on the same axes."""
    full = replace(
        config.base, train_limit=None, train_fraction=None, resolution=None, fidelity="full"
    )
    chance = 1.0 / _classes((result.runs[0].storage, result.runs[0].study, 0.0))
    done = 0
    with ProcessPoolExecutor(
        config.parallel, mp_context=get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        futures = {
            pool.submit(
                _retrain_front,
                run.storage,
                run.study,
                run.front_trials,
                full,
                config.retrain_epochs,
                config.retrain_images,
                config.threads_per_run,
            ): run
            for run in result.runs
        }
        for future in as_completed(futures):
            run = futures[future]
            run.retrained = future.result()
            run.retrained_hypervolume = hypervolume(run.retrained, result.scale, chance)
            done += 1
            if on_progress is not None:
                on_progress(f"retrained {run.label} seed {run.seed}", done, len(futures))


def _retrain_front(
    storage: str,
    name: str,
    numbers: list[int],
    full: RunConfig,
    epochs: int,
    images: int,
    threads: int,
) -> list[tuple[float, float]]:
    """In a fresh process: the networks of trials ``numbers`` of the study ``name`` (its front
    within the budget) each trained for ``epochs`` on
    ``images`` images of the data at its full size (training and validation splits joined),
    with its own hyperparameters and a seed of its trial's number; (flops there, test
    accuracy)."""
    from ..build import build_model
    from ..data import load_dataset
    from ..profiler import architecture_costs
    from ..study import architecture_of
    from ..train import TrainConfig, evaluate, train

    torch.set_num_threads(threads)
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    data = load_dataset(full.dataset, val_fraction=full.val_fraction, seed=0, limit=images)
    joined = replace(
        data,
        x_train=data.x_train.concat(data.x_val),
        y_train=torch.cat([data.y_train, data.y_val]),
    )
    shape = (1, data.in_channels, *data.input_size)
    device = torch.device("cpu")
    retrained = []
    trials = study.get_trials(deepcopy=False)
    for trial in (trials[number] for number in numbers):
        arch = architecture_of(trial)
        hyperparameters = record_of(trial).get("hyperparameters", {})
        recipe = replace(
            TrainConfig.from_hyperparameters(hyperparameters, seed=trial.number), epochs=epochs
        )
        model = build_model(arch, data.num_classes, data.in_channels)
        train(model, joined, recipe, device)
        accuracy = evaluate(model, data.x_test, data.y_test, device=device)
        flops = architecture_costs(arch, shape, data.num_classes).flops
        retrained.append((float(flops), float(accuracy)))
    return retrained


def _classes(stored: tuple[str, str, float]) -> int:
    storage, name, _ = stored
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    return run_record(study).num_classes


def _machine(config: BenchConfig) -> str:
    return machine_line(
        f"{config.parallel} run(s) side by side with {config.threads_per_run} torch thread(s) each"
    )


def front_points(
    trials: Sequence[tuple[float, float]], scale: CostScale, chance: float
) -> np.ndarray:
    """(cost, accuracy) pairs on the benchmark's unit axes (minimised): normalised error and
    normalised log cost."""
    return np.array(
        [[(1.0 - acc) / (1.0 - chance), scale.normalise(cost)] for cost, acc in trials]
    ).reshape(-1, 2)


def hypervolume(trials: Sequence[tuple[float, float]], scale: CostScale, chance: float) -> float:
    """The share of the unit square that (cost, accuracy) pairs dominate (reference (1, 1))."""
    return hypervolume_2d(front_points(trials, scale, chance), (1.0, 1.0))


def measure_run(
    study: optuna.Study,
    storage: str,
    label: str,
    seed: int,
    scale: CostScale,
    chance: float,
    budget_s: float,
    budgets: tuple[float, float],
    started: float,
    end_of: Callable[[optuna.trial.FrozenTrial], float | None] | None = None,
) -> RunMetrics:
    """Everything the benchmark reports about one run, from its study. ``end_of(trial)``: when
    a trial finished, in seconds since the start (default: its completion time less
    ``started``; a replay's simulated clock gives its own)."""
    end_of = end_of or (lambda trial: _seconds_since(trial, started))
    cost_attr = OBJECTIVE_ATTRS[scale.cost]
    finished = []  # (seconds since the start, cost, val accuracy, number) of completed trials
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        at = end_of(trial)
        if status_of(trial) != "ok" or at is None:
            continue
        if at <= budget_s:
            record = record_of(trial)
            finished.append((at, float(record[cost_attr]), float(record["val_accuracy"]), trial))
    finished.sort(key=lambda item: item[0])
    pairs = [(cost, acc) for _, cost, acc, _ in finished]
    times = [budget_s * (i + 1) / CURVE_POINTS for i in range(CURVE_POINTS)]
    curve = [
        hypervolume([(c, a) for t, c, a, _ in finished if t <= at], scale, chance) for at in times
    ]
    tests = test_accuracies(study)
    tested = [(c, tests[t.number]) for _, c, _, t in finished if t.number in tests]
    front = _front(pairs)
    # the trials behind the front (a point's first trial, where two share one)
    front_trials = [
        next(t.number for _, c, a, t in finished if (c, a) == point) for point in front
    ]
    in_time = [t for t in judged(study) if (end := end_of(t)) is not None and end <= budget_s]
    return RunMetrics(
        label=label,
        seed=seed,
        study=study.study_name,
        storage=storage,
        hypervolume=hypervolume(pairs, scale, chance),
        test_hypervolume=hypervolume(tested, scale, chance),
        completed=len(pairs),
        pruned=sum(1 for t in in_time if t.state == TrialState.PRUNED),
        judged=len(in_time),
        best_under=(
            max((a for c, a in pairs if c <= budgets[0]), default=None),
            max((a for c, a in pairs if c <= budgets[1]), default=None),
        ),
        curve_t=[round(t, 2) for t in times],
        curve_hv=curve,
        front=front,
        wall_s=max((t for t, *_ in finished), default=0.0),
        front_trials=front_trials,
    )


def _seconds_since(trial: optuna.trial.FrozenTrial, started: float) -> float | None:
    end = trial.datetime_complete
    return None if end is None else end.timestamp() - started


def _front(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (cost, accuracy) pairs no other pair beats in both, by cost."""
    front: list[tuple[float, float]] = []
    for cost, acc in sorted(pairs, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((cost, acc))
    return front


def reach_time(curve_t: list[float], curve_hv: list[float], target: float) -> float | None:
    """The first time the anytime curve reaches ``target``; None if it never does."""
    return next((t for t, hv in zip(curve_t, curve_hv, strict=True) if hv >= target), None)


def summary_rows(runs: list[RunMetrics], budget_s: float) -> list[dict[str, Any]]:
    """One row per searcher: mean ± std over seeds. The first searcher is the baseline: the
    others' time to reach its final hypervolume (mean over seeds) is given as a share of the
    budget."""
    labels = list(dict.fromkeys(r.label for r in runs))
    baseline = float(np.mean([r.hypervolume for r in runs if r.label == labels[0]]))
    rows = []
    for label in labels:
        mine = [r for r in runs if r.label == label]
        reached = [reach_time(r.curve_t, r.curve_hv, baseline) for r in mine]
        times = [t / budget_s for t in reached if t is not None]
        rows.append(
            {
                "searcher": label,
                "seeds": len(mine),
                "hypervolume": _mean_std([r.hypervolume for r in mine], 4),
                "test hypervolume": _mean_std([r.test_hypervolume for r in mine], 4),
                **(
                    {
                        "retrained hypervolume": _mean_std(
                            [r.retrained_hypervolume for r in mine], 4
                        ),
                        "front networks": _mean_std([len(r.retrained) for r in mine], 1),
                    }
                    if any(r.retrained_hypervolume is not None for r in mine)
                    else {}
                ),
                "completed": _mean_std([r.completed for r in mine], 1),
                "pruned": _mean_std([r.pruned for r in mine], 1),
                "judged": _mean_std([r.judged for r in mine], 1),
                "best acc, budget 1": _mean_std([r.best_under[0] for r in mine], 4),
                "best acc, budget 2": _mean_std([r.best_under[1] for r in mine], 4),
                "time to baseline hv": (
                    f"{_mean_std(times, 2)} of budget ({len(times)}/{len(mine)} seeds)"
                    if times
                    else f"not reached (0/{len(mine)} seeds)"
                ),
            }
        )
    return rows


def _mean_std(values: Sequence[float | None], digits: int) -> str:
    present = [float(v) for v in values if v is not None]
    if not present:
        return "-"
    mean, std = (
        float(np.mean(present)),
        float(np.std(present, ddof=1)) if len(present) > 1 else 0.0,
    )
    missing = len(values) - len(present)
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text + (f" ({missing} without)" if missing else "")


def run_rows(runs: list[RunMetrics]) -> list[dict[str, Any]]:
    """Every run's figures, one row each (``runs.csv``)."""
    return [
        {
            "searcher": r.label,
            "seed": r.seed,
            "study": r.study,
            "hypervolume": r.hypervolume,
            "test_hypervolume": r.test_hypervolume,
            "completed": r.completed,
            "pruned": r.pruned,
            "judged": r.judged,
            "best_acc_budget_1": r.best_under[0],
            "best_acc_budget_2": r.best_under[1],
            "last_trial_s": round(r.wall_s, 1),
            "retrained_hypervolume": r.retrained_hypervolume,
            "front_networks": len(r.retrained),
        }
        for r in runs
    ]


def curve_rows(runs: list[RunMetrics]) -> list[dict[str, Any]]:
    """Every run's hypervolume over time, one row a point (``curves.csv``)."""
    return [
        {"searcher": r.label, "seed": r.seed, "seconds": t, "hypervolume": hv}
        for r in runs
        for t, hv in zip(r.curve_t, r.curve_hv, strict=True)
    ]


def write_bench(result: BenchResult) -> dict[str, str]:
    """The table as markdown and CSV, every run's figures and curves as CSV, and the page."""
    per_run, curves = run_rows(result.runs), curve_rows(result.runs)
    title = "archsearch bench search: " + " vs ".join(dict.fromkeys(r.label for r in result.runs))
    return write_outputs(
        result.config.out_dir,
        {"summary": result.rows, "runs": per_run, "curves": curves},
        summary_markdown(result),
        ("bench.html", title, bench_page(result)),
    )


def summary_markdown(result: BenchResult) -> str:
    """The summary as a markdown table, with how it was run."""
    config = result.config
    b1, b2 = result.budgets
    cost = result.scale.cost
    header = [
        data_line(config.base)
        + f", {config.budget_s:g} s per run, seeds {', '.join(map(str, config.seeds))}.",
        f"Machine: {result.machine}.",
        f"Hypervolume: reference (1, 1) on error / chance error and log {cost} normalised to"
        f" the space's range [{result.scale.low:,.0f}, {result.scale.high:,.0f}]."
        f" Budget 1: {cost} ≤ {b1:,.0f}; budget 2: {cost} ≤ {b2:,.0f}.",
    ]
    return markdown_table(header, result.rows)


def bench_curves(
    runs: list[RunMetrics],
) -> list[tuple[str, list[float], list[float], list[float]]]:
    """Per searcher: the anytime hypervolume curve's times, mean and std over seeds."""
    curves = []
    for label in dict.fromkeys(r.label for r in runs):
        mine = np.array([r.curve_hv for r in runs if r.label == label])
        times = next(r.curve_t for r in runs if r.label == label)
        curves.append((label, list(times), mine.mean(axis=0).tolist(), mine.std(axis=0).tolist()))
    return curves


def bench_page(result: BenchResult) -> str:
    """The page's body: the summary table, hypervolume against time, and the fronts of every
    searcher's first seed overlaid (the run report's own plot)."""
    first_seed = result.config.seeds[0]
    studies = [
        optuna.load_study(study_name=r.study, storage=open_storage(r.storage))
        for r in result.runs
        if r.seed == first_seed
    ]
    title = "Searchers at equal wall time"
    return comparison_page(title, result.machine, result.rows, result.runs, studies, result.scale)


def comparison_page(
    title: str,
    about: str,
    rows: list[dict[str, Any]],
    runs: list[RunMetrics],
    studies: list[optuna.Study],
    scale: CostScale,
) -> str:
    """A comparison of searchers as a page's body: ``rows``, the hypervolume over time of
    ``runs``, and the fronts of ``studies`` (one seed's) overlaid."""
    fronts = [i for s in studies if (i := get_pareto_info(s, scale.cost)) is not None]
    sections = [
        f'<section id="summary"><h2>{_html.esc(title)}</h2>'
        f'<p class="muted">{_html.esc(about)}</p>'
        + _html.table(rows, "bench-table")
        + "</section>",
        '<section id="anytime"><h2>Hypervolume over time</h2>'
        + _html.figure_div(_plots.hypervolume_figure(bench_curves(runs)), "anytime")
        + "</section>",
    ]
    if fronts:
        seed = runs[0].seed if runs else 0
        sections.append(
            f'<section id="fronts"><h2>Fronts (seed {seed})</h2>'
            + _html.figure_div(_plots.pareto_figure(fronts), "bench-fronts")
            + "</section>"
        )
    return "".join(sections)
