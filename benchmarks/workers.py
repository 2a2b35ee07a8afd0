"""Throughput of 1, 2 and 4 local CPU workers on one study, and the storage cost per trial.

    python benchmarks/workers.py [--trials 16] [--storage URL]

Part 1 runs `archsearch run --workers N` (mobile space, digits, 2-epoch trials, random search)
for N = 1, 2, 4 and reports completed trials per minute. Part 2 times the storage operations of
one trial's life (ask, 25 parameters, 20 user attributes, tell) on the given storage (default: a
fresh SQLite file in WAL mode, as runs use).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import optuna
from _machine import describe

from archsearch.storage import open_storage


def part_throughput(trials: int) -> None:
    print("| workers | threads each | completed | wall s | trials per minute |")
    print("|---:|---:|---:|---:|---:|")
    for workers in (1, 2, 4):
        with tempfile.TemporaryDirectory() as folder:
            command = [
                sys.executable,
                "-m",
                "archsearch",
                "run",
                "--space",
                "mobile",
                "--searcher",
                "random",
                "--epochs",
                "2",
                "--trials",
                str(trials),
                "--workers",
                str(workers),
                "--name",
                "w",
                "--device",
                "cpu",
                "--runs-dir",
                folder,
                "--reports-dir",
                folder,
            ]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            seconds = time.perf_counter() - start
            study = optuna.load_study(study_name="w", storage=f"sqlite:///{folder}/w/study.db")
            done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
            threads = max(1, 2 // workers)
            print(
                f"| {workers} | {threads} | {done} | {seconds:.1f} | {60 * done / seconds:.1f} |"
            )


def part_storage(url: str | None, repeats: int = 30) -> None:
    with tempfile.TemporaryDirectory() as folder:
        storage = open_storage(url or f"sqlite:///{folder}/s.db")
        study = optuna.create_study(storage=storage, directions=["maximize", "minimize"])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            trial = study.ask()
            for i in range(25):
                trial.suggest_categorical(f"p{i}", [1, 2, 3])
            for i in range(20):
                trial.set_user_attr(f"a{i}", i)
            study.tell(trial, [0.5, 1.0])
            times.append(time.perf_counter() - start)
    label = "SQLite (WAL)" if url is None else url.split("://")[0]
    print("| storage | ms per trial's storage work (median) |")
    print("|---|---:|")
    print(f"| {label} | {1000 * statistics.median(times):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--storage", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"Machine: {describe()}\n")
    part_throughput(args.trials)
    print()
    part_storage(args.storage)


if __name__ == "__main__":
    main()
