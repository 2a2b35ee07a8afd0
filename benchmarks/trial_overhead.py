"""Per-trial overhead of a search against the training itself, for 1-epoch trials of the
mobile space on digits (issue 4: overhead under 5% of a 1-epoch trial).

    python benchmarks/trial_overhead.py [--trials 20]

Each phase of ``evaluate_trial`` is timed by wrapping the function it calls: sampling (Optuna's
TPE and its parameter writes), static profile, build, recording (user attributes in SQLite),
training (its epoch and validation pass), saving weights, and ``study.tell``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from _machine import describe

import archsearch.objective as objective
from archsearch.data import load_dataset
from archsearch.objective import Candidates, TrialContext, evaluate_trial
from archsearch.space import load_space
from archsearch.storage import open_storage
from archsearch.train import resolve_device

PHASES: dict[str, list[float]] = defaultdict(list)  # per trial: the sum of a phase's calls
CURRENT: dict[str, float] = defaultdict(float)


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            CURRENT[phase] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--sampler", default="tpe", choices=["tpe", "random"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_dataset("digits")
    candidates = Candidates(space=load_space("mobile"), epochs=1)
    candidates.sample = timed("sample", candidates.sample)  # type: ignore[method-assign]
    objective.static_costs = timed("static profile", objective.static_costs)
    objective.build_model = timed("build", objective.build_model)
    objective._record = timed("record (storage)", objective._record)
    objective.train = timed("train (1 epoch + validation)", objective.train)
    objective.torch.save = timed("save weights", objective.torch.save)
    ctx = TrialContext(
        candidates=candidates,
        data=data,
        objectives=("accuracy", "flops"),
        device=resolve_device("cpu"),
    )
    sampler = (
        optuna.samplers.TPESampler(seed=0, multivariate=True, group=True)
        if args.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=0)
    )
    walls = []
    with tempfile.TemporaryDirectory() as folder:
        ctx.weights_dir = Path(folder)
        study = optuna.create_study(
            storage=open_storage(f"sqlite:///{folder}/study.db"),
            directions=["maximize", "minimize"],
            sampler=sampler,
        )
        for _ in range(args.trials):
            start = time.perf_counter()
            trial = timed("ask", study.ask)()
            values = evaluate_trial(trial, ctx)
            timed("tell", study.tell)(trial, values)
            walls.append(time.perf_counter() - start)
            for phase, seconds in CURRENT.items():
                PHASES[phase].append(seconds)
            CURRENT.clear()
    trained = PHASES["train (1 epoch + validation)"]
    wall = statistics.median(walls)
    # per trial, then the median: medians of the wall and the training time come from
    # different trials and do not subtract
    overhead = statistics.median(w - t for w, t in zip(walls, trained, strict=True))
    no_sampler = statistics.median(
        w - t - s for w, t, s in zip(walls, trained, PHASES["sample"], strict=True)
    )
    print(f"Machine: {describe()}; sampler {args.sampler}, {args.trials} trials, SQLite\n")
    print("| phase | median ms | share of the trial |")
    print("|---|---:|---:|")
    for phase, times in PHASES.items():
        ms = 1000 * statistics.median(times)
        print(f"| {phase} | {ms:.1f} | {100 * ms / 1000 / wall:.1f}% |")
    print(f"| **whole trial** | {1000 * wall:.1f} | 100% |")
    print(
        f"| **overhead (all but training)** | {1000 * overhead:.1f} |"
        f" {100 * overhead / wall:.1f}% |"
    )
    print(
        f"| **overhead without the sampler** | {1000 * no_sampler:.1f} |"
        f" {100 * no_sampler / wall:.1f}% |"
    )
    own = sum(
        statistics.median(PHASES[p])
        for p in ("build", "static profile", "record (storage)", "save weights")
    )
    print(f"| of which archsearch's own work | {1000 * own:.1f} | {100 * own / wall:.1f}% |")


if __name__ == "__main__":
    main()
