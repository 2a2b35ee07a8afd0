"""Seconds each searcher's sampler spends proposing one trial, measured in replays of a table
(issue 24): the time of ``study.ask()`` and of the space's walk through the trial (where
Optuna calls the sampler for every parameter), per trial, over a few seeds at the replay's
budget. The replay charges these (``PROPOSAL_S`` in archsearch/bench/replay.py) on top of the
bookkeeping every trial costs.

    python benchmarks/sampler_time.py [--table nb-mobile-digits] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import optuna

from archsearch.bench.replay import REPLAYABLE, Lookup, replay
from archsearch.bench.tabulate import read_table
from archsearch.runs import RunConfig
from archsearch.space import SearchSpace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="nb-mobile-digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=180.0)
    parser.add_argument("--searchers", default=",".join(REPLAYABLE))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lookup = Lookup.of(read_table(args.table))
    spent = {"s": 0.0}

    def timed(function):
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent["s"] += time.perf_counter() - started

        return wrapper

    optuna.Study.ask = timed(optuna.Study.ask)  # type: ignore[method-assign]
    SearchSpace.sample_architecture = timed(SearchSpace.sample_architecture)  # type: ignore[method-assign]
    SearchSpace.sample_hyperparameters = timed(SearchSpace.sample_hyperparameters)  # type: ignore[method-assign]
    print(f"table {args.table}, {args.budget_s:g} s, seeds 0-{args.seeds - 1}")
    print("| searcher | trials a run | ms a proposal (mean over runs) |")
    print("|---|---|---|")
    for searcher in args.searchers.split(","):
        per_trial, trials = [], []
        for seed in range(args.seeds):
            spent["s"] = 0.0
            study = replay(lookup, RunConfig(searcher=searcher, seed=seed), args.budget_s)  # type: ignore[arg-type]
            trials.append(len(study.trials))
            per_trial.append(1000 * spent["s"] / len(study.trials))
        print(
            f"| {searcher} | {statistics.mean(trials):.0f} |"
            f" {statistics.mean(per_trial):.1f} (± {statistics.pstdev(per_trial):.1f}) |"
        )


if __name__ == "__main__":
    main()
