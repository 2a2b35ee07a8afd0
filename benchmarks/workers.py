"""Throughput of 1, 2 and 4 local CPU workers on one study, and the storage cost per trial.

    python benchmarks/workers.py [--trials 16] [--storage URL]

Part 1 runs `archsearch run --workers N` (mobile space, digits, 2-epoch trials, random search)
for N = 1, 2, 4 and reports completed trials per minute, on a fresh SQLite file per run (the
default) or, with ``--storage``, on one study per N in that database (e.g. PostgreSQL).
Part 2 times the storage operations of one trial's life as a run performs them (ask, 29
parameters as the mobile space suggests, the two record attributes, tell) on SQLite in WAL
mode and, with ``--storage``, on that database.
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

from archsearch.runs import open_storage


def part_throughput(trials: int, url: str | None) -> None:
    label = "SQLite (WAL)" if url is None else url.split("://")[0]
    print(f"Storage: {label}\n")
    print("| workers | threads each | completed | wall s | trials per minute |")
    print("|---:|---:|---:|---:|---:|")
    for workers in (1, 2, 4):
        study_name = f"w{workers}-{int(time.time())}"
        shared = ["--storage", url, "--study", study_name] if url else []
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
                *shared,
            ]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            seconds = time.perf_counter() - start
            study = optuna.load_study(
                study_name=study_name if url else "w",
                storage=open_storage(url or f"sqlite:///{folder}/w/study.db"),
            )
            done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
            threads = max(1, 2 // workers)
            print(
                f"| {workers} | {threads} | {done} | {seconds:.1f} | {60 * done / seconds:.1f} |"
            )


def storage_times(url: str, repeats: int) -> dict[str, float]:
    """Median ms of each storage step of a trial's life, after 20 trials of history."""
    storage = open_storage(url)
    study = optuna.create_study(
        storage=storage,
        directions=["maximize", "minimize"],
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name=f"storage-{time.time_ns()}",
    )
    steps: dict[str, list[float]] = {"ask": [], "29 parameters": [], "record": [], "tell": []}
    record = {"architecture": "{" + "x" * 2000 + "}", "flops": 123456, "curve": [0.5] * 8}
    for index in range(20 + repeats):
        marks = [time.perf_counter()]
        trial = study.ask()
        marks.append(time.perf_counter())
        for i in range(29):
            trial.suggest_categorical(f"p{i}", [1, 2, 3])
        marks.append(time.perf_counter())
        trial.set_user_attr("candidate", record)
        trial.set_user_attr("result", record)
        marks.append(time.perf_counter())
        study.tell(trial, [0.5, 1.0])
        marks.append(time.perf_counter())
        if index >= 20:
            for name, start, end in zip(steps, marks, marks[1:], strict=False):
                steps[name].append(1000 * (end - start))
    return {name: statistics.median(times) for name, times in steps.items()}


def part_storage(url: str | None, repeats: int = 30) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = {"SQLite (WAL)": storage_times(f"sqlite:///{folder}/s.db", repeats)}
        if url:
            rows[url.split("://")[0]] = storage_times(url, repeats)
    names = list(next(iter(rows.values())))
    print("| storage | " + " | ".join(f"{n} ms" for n in names) + " | total ms per trial |")
    print("|---|" + "---:|" * (len(names) + 1))
    for label, times in rows.items():
        cells = " | ".join(f"{times[n]:.1f}" for n in names)
        print(f"| {label} | {cells} | {sum(times.values()):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--storage", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"Machine: {describe()}\n")
    part_throughput(args.trials, args.storage)
    print()
    part_storage(args.storage)


if __name__ == "__main__":
    main()
