"""Per-trial overhead of a search (sampling, build, static profile, SQLite storage, progress
reporting) against the training itself, for 1-epoch trials of the mobile space on digits
(issue 4: overhead under 5% of a 1-epoch trial).

    python benchmarks/trial_overhead.py [--trials 20]

Overhead = wall time from ``study.ask()`` to ``study.tell()`` minus the trainer's own time
(its epoch and validation pass).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna
from _machine import describe

from archsearch.data import load_dataset
from archsearch.objective import Candidates, TrialContext, evaluate_trial
from archsearch.space import load_space
from archsearch.train import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = load_dataset("digits")
    ctx = TrialContext(
        candidates=Candidates(space=load_space("mobile"), epochs=1),
        data=data,
        objectives=("accuracy", "flops"),
        device=resolve_device("cpu"),
    )
    with tempfile.TemporaryDirectory() as folder:
        ctx.weights_dir = Path(folder)
        study = optuna.create_study(
            storage=f"sqlite:///{folder}/study.db",
            directions=["maximize", "minimize"],
            sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, group=True),
        )
        walls, trains = [], []
        for _ in range(args.trials):
            start = time.perf_counter()
            trial = study.ask()
            values = evaluate_trial(trial, ctx)
            study.tell(trial, values)
            walls.append(time.perf_counter() - start)
            trains.append(study.trials[-1].user_attrs["train_seconds"])
    overheads = [w - t for w, t in zip(walls, trains, strict=True)]
    share = [o / w for o, w in zip(overheads, walls, strict=True)]
    print(f"Machine: {describe()}\n")
    print(
        "| trials | median trial s | median training s | median overhead ms |"
        " median overhead share |"
    )
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {args.trials} | {statistics.median(walls):.3f} | {statistics.median(trains):.3f} |"
        f" {1000 * statistics.median(overheads):.1f} | {100 * statistics.median(share):.1f}% |"
    )


if __name__ == "__main__":
    main()
