"""Searchers replayed against a tabulated benchmark (:mod:`.tabulate`) on a simulated clock,
as syne-tune's simulator does: ``archsearch bench search --table NAME``.

The same samplers (Optuna's random, TPE, NSGA-II and GP, and archsearch's guided ones, made
as a run makes them), the same
pruners (pareto-asha's decisions through :func:`archsearch.objective.epoch_hook`) and the same
trial records as a real run, in an in-memory study; only the training is looked up. A trial
samples its network through the space's own walk, finds it in the table (the ``table_seed``
rows) and "trains" epoch by epoch: each epoch takes the table's seconds for it on the
simulated clock, then hands the table's validation accuracy to the pruner. A trial also
costs :data:`TRIAL_OVERHEAD_S` (the bookkeeping a real trial costs besides its epochs) and
its sampler's time to propose it (:data:`PROPOSAL_S`), both measured, both constants.
``workers`` simulated workers run asynchronously: events (an epoch ending)
are taken in simulated-time order, a free worker asks for the next trial at once, and the
sampler and the pruner see exactly what had finished by then. Nothing depends on the
machine's speed: a replay is the same for a seed on any machine.

The figures are ``bench search``'s (:func:`.search.measure_run`) on simulated time; over many
seeds :func:`replay_summary` gives medians with interquartile ranges, the share of seeds on
which a searcher beats the baseline, and Wilcoxon's signed-rank test over the paired seeds.
"""

from __future__ import annotations

import heapq
import itertools
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from ..errors import ArchsearchError, ConfigError
from ..objective import Candidates, epoch_hook
from ..runs import RunConfig
from ..runs.config import GROUPED
from ..runs.resume import pruner
from ..runs.searchers import sampling_searcher
from ..searchers.guided import GUIDED_RULES
from ..space import SearchSpace, space_from_text
from ..study import (
    OBJECTIVES,
    pareto_trials,
    record_candidate,
    record_result,
    record_test_accuracies,
)
from ..train import TrainResult
from ._output import markdown_table, write_outputs
from .search import (
    BenchEntry,
    CostScale,
    RunMetrics,
    comparison_page,
    curve_rows,
    measure_run,
    run_rows,
)
from .tabulate import Table, read_table

#: seconds a real trial costs besides its epochs and its sampler: archsearch's and Optuna's
#: bookkeeping (104 ms a trial, benchmarks/trial_overhead.py, RESULTS.md issue 22)
TRIAL_OVERHEAD_S = 0.104
#: seconds a sampler takes to propose a trial (``study.ask`` and the walk through the space),
#: the mean over replays of the shipped table at 180 s (benchmarks/sampler_time.py, 2-core
#: EPYC; RESULTS.md issue 24): charged as constants, so that a replay stays the same on any
#: machine, and a costly sampler pays for its thinking as it would in a real run
PROPOSAL_S: dict[str, float] = {
    "random": 0.0004,
    "tpe": 0.0029,
    "nsga2": 0.0004,
    "gp": 0.144,
    "bins": 0.0068,
    "local": 0.0062,
    "predictor": 0.049,
}
#: user attribute of a replayed trial: its start and end on the simulated clock (seconds)
SIMULATED_ATTR = "simulated"
#: the searchers a table can replay: those that sample networks (no training of their own)
REPLAYABLE = ("random", "tpe", "nsga2", "gp", *GUIDED_RULES)
#: the run options a replay honours; the rest (data, fidelity, devices) are the table's
REPLAY_OPTIONS = (
    "searcher",
    "pruner",
    "min_epochs",
    "reduction_factor",
    *(name for name, (group, _) in GROUPED.items() if group == "guided"),
)


@dataclass(frozen=True)
class Lookup:
    """A table indexed for replays: one seed's rows by architecture id."""

    table: Table
    space: SearchSpace
    input_size: tuple[int, int]
    epochs: int
    rows: dict[str, dict[str, Any]]
    seed: int = 0

    @classmethod
    def of(cls, table: Table, seed: int = 0) -> Lookup:
        frame = table.frame[table.frame.seed == seed]
        if frame.empty:
            raise ArchsearchError(f"{table.source}: no rows of seed {seed}")
        space = space_from_text(table.meta["space_yaml"], f"{table.source} (its space)")
        _, height, width = table.meta["input_shape"]
        rows = {str(row["arch_id"]): row for row in frame.to_dict("records")}
        return cls(table, space, (int(height), int(width)), table.epochs, rows, seed)

    def row(self, arch_id: str) -> dict[str, Any]:
        try:
            return self.rows[arch_id]
        except KeyError:
            raise ArchsearchError(
                f"{self.table.source}: network {arch_id} of its space is not in the table"
            ) from None


@dataclass(frozen=True)
class ReplayConfig:
    table: str
    entries: tuple[BenchEntry, ...]
    budget_s: float = 180.0
    seeds: tuple[int, ...] = tuple(range(100))
    workers: int = 1  # simulated workers
    cost: str = "flops"
    table_seed: int = 0
    overhead_s: float = TRIAL_OVERHEAD_S
    parallel: int = 1  # processes replaying side by side (the result does not depend on it)
    out_dir: str = "bench-replay"

    def __post_init__(self) -> None:
        for entry in self.entries:
            if entry.options.get("searcher") not in REPLAYABLE:
                raise ConfigError(
                    "searchers",
                    f"'{entry.label}': a table replays {', '.join(REPLAYABLE)} (the others"
                    " train networks of their own)",
                )
            other = sorted(set(entry.options) - set(REPLAY_OPTIONS))
            if other:
                raise ConfigError(
                    "searchers",
                    f"'{entry.label}': {', '.join(other)} cannot change in a replay (the"
                    " table's data and recipe are fixed)",
                )
        if self.budget_s <= 0 or self.workers < 1 or not self.seeds:
            raise ConfigError("budget_s", "give a positive budget, a worker and a seed")


def replay_config(config: ReplayConfig, entry: BenchEntry, seed: int) -> RunConfig:
    """The run a replay stands for (its sampler, pruner and objectives)."""
    return RunConfig.from_options(
        **{**entry.options, "seed": seed, "objectives": ("accuracy", config.cost)}
    )


def replay(
    lookup: Lookup,
    run: RunConfig,
    budget_s: float,
    *,
    workers: int = 1,
    overhead_s: float = TRIAL_OVERHEAD_S,
    proposal_s: float | None = None,
    max_trials: int | None = None,
) -> optuna.Study:
    """One searcher for one seed against the table until ``budget_s`` simulated seconds (or
    ``max_trials`` started); the study holds every trial started, with its simulated start
    and end. Each trial costs ``overhead_s`` and ``proposal_s`` (the searcher's
    :data:`PROPOSAL_S` unless given) besides its epochs."""
    per_trial = overhead_s + (
        PROPOSAL_S.get(run.searcher, 0.0) if proposal_s is None else proposal_s
    )
    meta = lookup.table.meta
    shape = tuple(int(n) for n in meta["input_shape"])
    searcher = sampling_searcher(
        run,
        Candidates(space=lookup.space),
        shape,
        int(meta["num_classes"]),  # type: ignore[arg-type]
    )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per replayed study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            directions=[OBJECTIVES[o] for o in run.objectives],
            sampler=searcher.create_sampler(),
            pruner=pruner(run),
            study_name=f"{run.searcher}-s{run.seed}",
        )
        study.set_metric_names(list(run.objectives))
    optuna.logging.set_verbosity(verbosity)
    cost = next(o for o in run.objectives if o != "accuracy")
    events: list[tuple[float, int, int, Any]] = []  # (end of an epoch, order, epoch, state)
    order = itertools.count()

    def start(now: float) -> None:
        if max_trials is not None and len(study.trials) >= max_trials:
            return
        trial = study.ask()
        arch = lookup.space.sample_architecture(trial, lookup.input_size)
        hyperparameters = lookup.space.sample_hyperparameters(trial)
        row = lookup.row(arch.id)
        costs = {"params": int(row["params"]), "flops": int(row["flops"]), "mac": int(row["mac"])}
        record_candidate(trial, arch, hyperparameters, costs, {}, 0.0)
        hook = epoch_hook(trial, run.objectives, lookup.epochs)
        begin = now + per_trial
        state = (trial, row, hook, begin)
        heapq.heappush(events, (begin + float(row["sec_1"]), next(order), 0, state))

    for _ in range(workers):
        start(0.0)
    while events:
        now, _, epoch, (trial, row, hook, begin) = heapq.heappop(events)
        if now > budget_s:
            break  # every later event ends later still
        trial.set_user_attr(SIMULATED_ATTR, {"start": round(begin, 4), "end": round(now, 4)})
        try:
            hook(epoch, float(row[f"val_{epoch + 1}"]))
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            start(now)
            continue
        if epoch + 1 < lookup.epochs:
            following = now + float(row[f"sec_{epoch + 2}"])
            heapq.heappush(events, (following, next(order), epoch + 1, (trial, row, hook, begin)))
            continue
        curve = [float(row[f"val_{e}"]) for e in range(1, lookup.epochs + 1)]
        seconds = [float(row[f"sec_{e}"]) for e in range(1, lookup.epochs + 1)]
        result = TrainResult(
            val_accuracy=curve[-1],
            best_val_accuracy=max(curve),
            val_curve=curve,
            epochs=lookup.epochs,
            seconds=sum(seconds),
            device=f"table {lookup.table.meta.get('name', '')}",
            epoch_seconds=seconds,
            threads=int(row.get("threads") or 0),
        )
        record_result(trial, result, now - begin + per_trial)
        values = {"accuracy": curve[-1], cost: float(row[cost])}
        study.tell(trial, [values[o] for o in run.objectives])
        start(now)
    # the front's test accuracy, as a run evaluates it at its end: the table's
    in_time = [t for t in pareto_trials(study) if simulated_end(t) is not None]
    record_test_accuracies(
        study, {t.number: float(lookup.row(_arch_id(t))["test_accuracy"]) for t in in_time}
    )
    return study


def _arch_id(trial: optuna.trial.FrozenTrial) -> str:
    return str(trial.user_attrs["candidate"]["arch_id"])


def simulated_end(trial: optuna.trial.FrozenTrial) -> float | None:
    """When a replayed trial finished on the simulated clock (``None``: it had not)."""
    if not trial.state.is_finished():
        return None
    return float(trial.user_attrs[SIMULATED_ATTR]["end"])


@dataclass
class ReplayResult:
    config: ReplayConfig
    scale: CostScale
    budgets: tuple[float, float]
    runs: list[RunMetrics] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def table_scale(lookup: Lookup, cost: str) -> CostScale:
    """The cost axis: the table's own range of ``cost`` (every network of the space)."""
    values = lookup.table.frame[cost]
    return CostScale(cost, max(float(values.min()), 1.0), max(float(values.max()), 1.0))


def _replay_one(
    config: ReplayConfig, entry: BenchEntry, seed: int, scale: CostScale, budgets: Any
) -> RunMetrics:
    lookup = _lookup(config.table, config.table_seed)
    run = replay_config(config, entry, seed)
    study = replay(
        lookup, run, config.budget_s, workers=config.workers, overhead_s=config.overhead_s
    )
    chance = 1.0 / int(lookup.table.meta["num_classes"])
    return measure_run(
        study, "", entry.label, seed, scale, chance, config.budget_s, budgets, 0.0, simulated_end
    )


_LOOKUPS: dict[tuple[str, int], Lookup] = {}


def _lookup(name: str, seed: int) -> Lookup:
    """The indexed table, once per process."""
    if (name, seed) not in _LOOKUPS:
        _LOOKUPS[(name, seed)] = Lookup.of(read_table(name), seed)
    return _LOOKUPS[(name, seed)]


def run_replay(
    config: ReplayConfig, on_progress: Callable[[str, int, int], None] | None = None
) -> ReplayResult:
    """Every (searcher, seed) against the table; their figures; the summary over seeds."""
    lookup = _lookup(config.table, config.table_seed)
    scale = table_scale(lookup, config.cost)
    budgets = (scale.at(0.25), scale.at(0.5))
    jobs = [(entry, seed) for seed in config.seeds for entry in config.entries]
    result = ReplayResult(config, scale, budgets)
    if config.parallel > 1:
        with ProcessPoolExecutor(config.parallel, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(_replay_one, config, entry, seed, scale, budgets)
                for entry, seed in jobs
            ]
            for done, future in enumerate(futures, start=1):
                result.runs.append(future.result())
                if on_progress is not None:
                    on_progress("replays", done, len(jobs))
    else:
        for done, (entry, seed) in enumerate(jobs, start=1):
            result.runs.append(_replay_one(config, entry, seed, scale, budgets))
            if on_progress is not None:
                on_progress(f"{entry.label} seed {seed}", done, len(jobs))
    result.rows = replay_summary(result.runs, config.budget_s)
    result.files = write_replay(result)
    return result


def _quartiles(values: Sequence[float], digits: int) -> str:
    if not values:
        return ""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f"{median:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


def replay_summary(runs: list[RunMetrics], budget_s: float) -> list[dict[str, Any]]:
    """One row per searcher over the seeds: median [interquartile range] of the hypervolume,
    judged and pruned trials, and the time to reach the baseline's (the first searcher's)
    final hypervolume on the same seed; the share of seeds on which it beats the baseline, and
    Wilcoxon's signed-rank test over the paired seeds (two-sided p)."""
    from scipy.stats import wilcoxon

    from .search import reach_time

    labels = list(dict.fromkeys(r.label for r in runs))
    by = {(r.label, r.seed): r for r in runs}
    seeds = sorted({r.seed for r in runs})
    base = {seed: by[(labels[0], seed)] for seed in seeds}
    rows = []
    for label in labels:
        mine = [by[(label, seed)] for seed in seeds]
        differences = [m.hypervolume - base[m.seed].hypervolume for m in mine]
        reached = [reach_time(m.curve_t, m.curve_hv, base[m.seed].hypervolume) for m in mine]
        times = [t for t in reached if t is not None]
        p = None
        if label != labels[0] and any(d != 0 for d in differences):
            p = float(wilcoxon(differences).pvalue)
        rows.append(
            {
                "searcher": label,
                "seeds": len(mine),
                "hypervolume": _quartiles([m.hypervolume for m in mine], 4),
                "beats baseline": (
                    f"{sum(d > 0 for d in differences)}/{len(mine)}" if label != labels[0] else ""
                ),
                "median difference": (
                    f"{np.median(differences):+.4f}" if label != labels[0] else ""
                ),
                "wilcoxon p": "" if p is None else f"{p:.2g}",
                "judged": _quartiles([m.judged for m in mine], 0),
                "pruned": _quartiles([m.pruned for m in mine], 0),
                "time to baseline hv (s)": (
                    f"{_quartiles(times, 0)} ({len(times)}/{len(mine)} seeds)"
                    if times
                    else f"not reached (0/{len(mine)} seeds)"
                ),
                "best acc, budget 1": _quartiles(
                    [m.best_under[0] for m in mine if m.best_under[0] is not None], 4
                ),
            }
        )
    return rows


def write_replay(result: ReplayResult) -> dict[str, str]:
    """The summary as markdown and CSV, every replay's figures and curves as CSV, and the page
    (the first seed's fronts replayed again here: a replay is the same for a seed)."""
    config = result.config
    lookup = _lookup(config.table, config.table_seed)
    first = config.seeds[0]
    studies = [
        replay(lookup, replay_config(config, e, first), config.budget_s, workers=config.workers,
               overhead_s=config.overhead_s)
        for e in config.entries
    ]  # fmt: skip
    about = replay_about(result)
    per_run, curves = run_rows(result.runs), curve_rows(result.runs)
    title = "Searchers replayed on the table, at equal simulated time"
    page = comparison_page(title, about, result.rows, result.runs, studies, result.scale)
    return write_outputs(
        config.out_dir,
        {"summary": result.rows, "runs": per_run, "curves": curves},
        markdown_table([about, ""], result.rows),
        ("replay.html", "archsearch bench search --table " + config.table, page),
    )


def replay_about(result: ReplayResult) -> str:
    config = result.config
    meta = _lookup(config.table, config.table_seed).table.meta
    b1, b2 = result.budgets
    seeds = config.seeds
    return (
        f"Table `{meta.get('name')}` ({meta.get('networks')} networks of `{meta.get('space')}`"
        f" on {meta.get('dataset')}, made {meta.get('date')}), its seed-{config.table_seed}"
        f" rows; {config.budget_s:g} simulated seconds per run, {config.workers} simulated"
        f" worker(s), {config.overhead_s:g} s per trial besides its epochs and its sampler's"
        " proposal (archsearch.bench.replay.PROPOSAL_S); seeds"
        f" {seeds[0]}-{seeds[-1]} ({len(seeds)}). Hypervolume: reference (1, 1) on error /"
        f" chance error and log {config.cost} normalised to the table's range"
        f" [{result.scale.low:,.0f}, {result.scale.high:,.0f}]; budget 1: {config.cost} <="
        f" {b1:,.0f}, budget 2: <= {b2:,.0f}. Medians [interquartile range] over seeds; the"
        " first searcher is the baseline (Wilcoxon signed-rank over the paired seeds)."
    )
