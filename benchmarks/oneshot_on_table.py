"""The one-shot searchers measured on a table's stand-alone accuracies (issue 24, point 7).

    python benchmarks/oneshot_on_table.py [--seeds 0,1,2] [--replay-seeds 100] [-o DIR]

DARTS (its most likely network alone, as before; and a derived front, one most likely
network per log-cost bin) and SPOS (its one-shot front) run for real on the table's space and
data, as `archsearch run --space nb-mobile --searcher darts|spos` would. Every network they
retrain is then looked up in the table, so their fronts stand on the same accuracies as the
replayed searchers' (seed 0's 8-epoch validation accuracy, the table's flops range, chance
0.1). Their time: the supernet's real seconds (from the run's start to its first retraining)
plus the table's seconds of the networks retrained, each with the replay's per-trial charge;
random search (with pareto-asha) and local search (the default) are replayed over
``--replay-seeds`` seeds once, for ``--horizon-s`` simulated seconds, and read at that same
simulated budget from their hypervolume curves (the last curve point not after it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from archsearch.bench.replay import (
    TRIAL_OVERHEAD_S,
    Lookup,
    replay,
    simulated_end,
    table_scale,
)
from archsearch.bench.search import hypervolume, measure_run
from archsearch.bench.tabulate import read_table
from archsearch.runs import RunConfig, run_search
from archsearch.study import completed, record_of

ONE_SHOT = {
    "darts (most likely network)": {"searcher": "darts", "darts_front": 0},
    "darts (derived front, 5 bins)": {"searcher": "darts", "darts_front": 5},
    "spos (one-shot front, top 5)": {"searcher": "spos"},
}
REPLAYED = ("random", "local")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default="nb-mobile-digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--replay-seeds", type=int, default=100)
    parser.add_argument("--horizon-s", type=float, default=300.0)
    parser.add_argument("--only", default="", help="searchers whose label has these words")
    parser.add_argument("-o", "--out", default="bench-oneshot-table")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lookup = Lookup.of(read_table(args.table))
    scale = table_scale(lookup, "flops")
    chance = 1.0 / int(lookup.table.meta["num_classes"])
    budgets = (scale.at(0.25), scale.at(0.5))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the replays' curves, kept: they depend on the table and the horizon only
    cached = out / f"replay_curves_{args.replay_seeds}x{args.horizon_s:g}s.json"
    if cached.is_file():
        curves = json.loads(cached.read_text())
    else:
        curves = {
            name: [
                (lambda run: [run.curve_t, run.curve_hv])(measure_run(
                    replay(lookup, RunConfig(searcher=name, seed=s), args.horizon_s),
                    "", name, s, scale, chance, args.horizon_s, budgets, 0.0, simulated_end,
                ))
                for s in range(args.replay_seeds)
            ]
            for name in REPLAYED
        }  # fmt: skip
        cached.write_text(json.dumps(curves))

    def at(curve: list[list[float]], seconds: float) -> float:
        if seconds > args.horizon_s:
            raise SystemExit(f"a one-shot run took {seconds:.0f} s: give a longer --horizon-s")
        return max(
            (hv for t, hv in zip(*curve, strict=True) if t <= seconds),
            default=0.0,
        )

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, options in ONE_SHOT.items():
            if args.only and not any(word in label for word in args.only.split(",")):
                continue
            for seed in (int(s) for s in args.seeds.split(",")):
                config = RunConfig.from_options(
                    space="nb-mobile",
                    dataset="digits",
                    device="cpu",
                    seed=seed,
                    name=f"{options['searcher']}-{options.get('darts_front', 'f')}-s{seed}",
                    runs_dir=folder,
                    reports_dir=folder,
                    write_report=False,
                    **options,
                )
                started = time.time()
                study = run_search(config).study
                trials = completed(study)
                first = min(t.datetime_start.timestamp() for t in trials)  # type: ignore[union-attr]
                supernet_s = first - started
                table_rows = [lookup.row(record_of(t)["arch_id"]) for t in trials]
                points = [
                    (float(r["flops"]), float(r[f"val_{lookup.epochs}"])) for r in table_rows
                ]
                epochs = range(1, lookup.epochs + 1)
                budget = supernet_s + sum(
                    TRIAL_OVERHEAD_S + sum(float(row[f"sec_{e}"]) for e in epochs)
                    for row in table_rows
                )
                own = hypervolume(points, scale, chance)
                replays = {name: [at(r, budget) for r in runs] for name, runs in curves.items()}
                row = {
                    "searcher": label,
                    "seed": seed,
                    "networks": len(points),
                    "supernet_s": round(supernet_s, 1),
                    "budget_s": round(budget, 1),
                    "hypervolume": round(own, 4),
                    "flops": sorted(int(p[0]) for p in points),
                    **{
                        f"{name} median": round(statistics.median(values), 4) for name, values in
                        replays.items()
                    },
                    **{
                        f"beats {name}": f"{sum(own > v for v in values)}/{len(values)}"
                        for name, values in replays.items()
                    },
                }  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    (out / "oneshot_on_table.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
