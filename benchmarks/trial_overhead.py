"""Per-trial overhead of a real search against its training, for 1-epoch trials of the mobile
space on digits (issue 4: overhead under 5% of a 1-epoch trial).

    python benchmarks/trial_overhead.py [--trials 40] [--searcher local|tpe] [--proxies P,Q|none]

Runs ``run_search`` itself (the default searcher and proxies unless told, SQLite, a progress
callback as the CLI has) and times what it
calls by wrapping it: each phase's time is exclusive (time in a wrapped callee counts for the
callee only). A trial runs from the end of one trial's bookkeeping to the end of the next, so
the per-trial times add up to the search's wall time. Overhead is everything but the training
and TPE's own sampling work; the table gives medians over the trials after the first (the
first pays one-time costs, such as PyTorch loading its meta kernels, reported apart). Then, in
the same process, the floor that Optuna's SQLite storage sets: an ask, the same number of
parameter writes, two user attributes and a tell with nothing else, so archsearch's share can
be told apart from Optuna's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import optuna
from _machine import describe

import archsearch.objective as objective
import archsearch.searchers._base as searcher_base
import archsearch.searchers._optuna as optuna_searcher
from archsearch.runs import RunConfig, RunProgress, open_storage, run_search
from archsearch.searchers.guided import GuidedSampler

SECONDS: dict[str, float] = defaultdict(float)  # exclusive seconds per phase, this trial
TRIALS: list[dict[str, float]] = []  # per finished trial: SECONDS, and "wall"
_STACK: list[float] = []  # seconds spent in wrapped callees of each open phase
_LAST_END = [0.0]

TRAIN, SAMPLER = "train (1 epoch + validation)", "sampling (the searcher's own work)"
PROXIES = "zero-cost proxies (recorded, not used by default)"
STORAGE = ("ask", "parameter writes", "record (user attributes)", "tell")
BOOKKEEPING = "bookkeeping and progress"
OWN = ("build", "static profile", PROXIES, "save weights", BOOKKEEPING)


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _STACK.append(0.0)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            inner = _STACK.pop()
            SECONDS[phase] += elapsed - inner
            if _STACK:
                _STACK[-1] += elapsed
            elif phase == BOOKKEEPING:  # the trial's last step: close it
                end = time.perf_counter()
                TRIALS.append({**SECONDS, "wall": end - _LAST_END[0]})
                SECONDS.clear()
                _LAST_END[0] = end

    return wrapper


def patch(owner: Any, name: str, phase: str) -> None:
    setattr(owner, name, timed(phase, getattr(owner, name)))


def instrument() -> None:
    patch(objective, "train", TRAIN)
    patch(objective, "build_model", "build")
    patch(objective, "static_costs", "static profile")
    patch(objective.torch, "save", "save weights")
    patch(objective, "record_candidate", "record (user attributes)")
    patch(objective, "record_result", "record (user attributes)")
    patch(objective, "record_proxies", "record (user attributes)")
    patch(objective, "score_candidate", PROXIES)
    patch(optuna.storages._cached_storage._CachedStorage, "set_trial_param", "parameter writes")
    patch(optuna.study.Study, "ask", "ask")
    patch(optuna.study._optimize, "_tell_with_warning", "tell")
    patch(searcher_base.BaseSearcher, "after_trial", BOOKKEEPING)
    for sampler in (optuna.samplers.TPESampler, GuidedSampler):
        for method in ("infer_relative_search_space", "sample_relative", "sample_independent"):
            patch(sampler, method, SAMPLER)
        patch(sampler, "before_trial", SAMPLER)


def storage_floor(params: int, trials: int) -> float:
    """Seconds per trial of Optuna's SQLite storage alone: ask, ``params`` parameter writes,
    two user attributes, tell (random sampler, nothing trained)."""
    with tempfile.TemporaryDirectory() as folder:
        study = optuna.create_study(
            storage=open_storage(f"sqlite:///{folder}/floor.db"),
            directions=["maximize", "minimize"],
            sampler=optuna.samplers.RandomSampler(seed=0),
        )
        walls = []
        for _ in range(trials):
            start = time.perf_counter()
            trial = study.ask()
            for index in range(params):
                trial.suggest_float(f"p{index}", 0.0, 1.0)
            trial.set_user_attr("candidate", {"flops": 1})
            trial.set_user_attr("result", {"val_accuracy": 0.5})
            study.tell(trial, [0.5, 1.0])
            walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--searcher", default=RunConfig.searcher)
    parser.add_argument("--proxies", default=",".join(RunConfig().proxies) or "none")
    args = parser.parse_args()
    proxies = () if args.proxies == "none" else tuple(args.proxies.split(","))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    instrument()
    search = optuna_searcher.OptunaSearcher.search

    def timed_search(*a: Any, **k: Any) -> None:
        _LAST_END[0] = time.perf_counter()
        search(*a, **k)

    optuna_searcher.OptunaSearcher.search = timed_search  # type: ignore[method-assign]
    progress = RunProgress(on_trial=lambda trial, best, done: None)
    with tempfile.TemporaryDirectory() as folder:
        config = RunConfig(
            space="mobile",
            trials=args.trials,
            epochs=1,
            searcher=args.searcher,
            proxies=proxies,
            device="cpu",
            workers=1,  # the trials of this process, timed in it (as each worker's are)
            name="overhead",
            runs_dir=f"{folder}/runs",
            reports_dir=f"{folder}/reports",
        )
        study = run_search(config, progress=progress).study
        started = len(study.trials)
        assert len(TRIALS) == started
        params = round(statistics.mean(len(t.params) for t in study.trials))
    first, rest = TRIALS[0], TRIALS[1:]

    def median(key: str) -> float:
        return 1000 * statistics.median(t.get(key, 0.0) for t in rest)

    def per_trial(keys: tuple[str, ...]) -> float:
        return 1000 * statistics.median(sum(t.get(k, 0.0) for k in keys) for t in rest)

    wall = median("wall")
    phases = (TRAIN, SAMPLER, *STORAGE, *OWN)
    other = 1000 * statistics.median(t["wall"] - sum(t.get(k, 0.0) for k in phases) for t in rest)
    overhead = 1000 * statistics.median(t["wall"] - t[TRAIN] - t.get(SAMPLER, 0) for t in rest)
    storage = per_trial(STORAGE)
    own = 1000 * statistics.median(
        t["wall"] - t[TRAIN] - t.get(SAMPLER, 0) - sum(t.get(k, 0.0) for k in STORAGE)
        for t in rest
    )
    floor = 1000 * storage_floor(params, 40)
    one_time = 1000 * (first["wall"] - first[TRAIN] - first.get(SAMPLER, 0)) - overhead

    def share(ms: float) -> str:
        return f"{100 * ms / wall:.1f}%"

    print(
        f"Machine: {describe()}; {started} trials ({args.trials} completed wanted),"
        f" {args.searcher}, proxies {args.proxies}, SQLite, {params} parameters per trial;"
        f" medians over trials 2-{len(TRIALS)}\n"
    )
    print("| phase (exclusive) | ms per trial | share of the trial |")
    print("|---|---:|---:|")
    for phase in (TRAIN, SAMPLER, *STORAGE, *OWN):
        print(f"| {phase} | {median(phase):.1f} | {share(median(phase))} |")
    print(f"| other (Optuna's loop, objective glue) | {other:.1f} | {share(other)} |")
    print(f"| **whole trial** | {wall:.1f} | 100% |")
    print(f"| **overhead (all but training and sampling)** | {overhead:.1f} | {share(overhead)} |")
    print(f"| of which Optuna's storage calls | {storage:.1f} | {share(storage)} |")
    print(f"| of which archsearch's own work | {own:.1f} | {share(own)} |")
    print(
        f"| baseline: Optuna's SQLite storage alone, same writes | {floor:.1f} | {share(floor)} |"
    )
    print(
        f"\nOne-time, in the first trial: {one_time:.0f} ms more overhead than a later trial's"
        f" ({one_time / len(TRIALS):.1f} ms per trial over this run's {len(TRIALS)})."
    )


if __name__ == "__main__":
    main()
