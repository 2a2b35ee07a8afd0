"""A table's replay against real runs of the same seeds (issue 23, point 5).

    archsearch bench search --space nb-mobile --searchers random,tpe --budget-s 180 \\
        --seeds 0,1,2 --parallel 2 -o bench-fidelity
    python benchmarks/replay_fidelity.py bench-fidelity [--table nb-mobile-digits]

Every figure on the table's axes: the real studies measured with the table's cost range, the
replays of the same searchers and seeds; and the real epochs' seconds against the table's for
the same networks.
"""

from __future__ import annotations

import argparse
import json
import statistics

import optuna

from archsearch.bench.replay import Lookup, replay, simulated_end, table_scale
from archsearch.bench.search import measure_run
from archsearch.bench.tabulate import read_table
from archsearch.runs import RunConfig
from archsearch.runs.resume import open_storage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bench_dir")
    parser.add_argument("--table", default="nb-mobile-digits")
    parser.add_argument("--searchers", default="random,tpe")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget-s", type=float, default=180.0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lookup = Lookup.of(read_table(args.table))
    scale = table_scale(lookup, "flops")
    budgets = (scale.at(0.25), scale.at(0.5))
    chance = 1.0 / int(lookup.table.meta["num_classes"])
    for searcher in args.searchers.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            name = f"{searcher}-s{seed}"
            storage = open_storage(f"sqlite:///{args.bench_dir}/runs/{name}/study.db")
            study = optuna.load_study(study_name=name, storage=storage)
            started = study.user_attrs["bench_started"]
            real = measure_run(
                study, "", searcher, seed, scale, chance, args.budget_s, budgets, started
            )
            replayed = replay(lookup, RunConfig(searcher=searcher, seed=seed), args.budget_s)
            sim = measure_run(
                replayed, "", searcher, seed, scale, chance, args.budget_s, budgets, 0.0,
                simulated_end,
            )  # fmt: skip
            ratios = []
            for trial in study.get_trials(deepcopy=False):
                result, candidate = (
                    trial.user_attrs.get("result", {}),
                    trial.user_attrs.get("candidate", {}),
                )
                row = lookup.rows.get(candidate.get("arch_id", ""))
                if result.get("status") == "ok" and row is not None:
                    table_s = sum(row[f"sec_{e}"] for e in range(1, lookup.epochs + 1))
                    ratios.append(sum(result["epoch_seconds"]) / table_s)
            third = len(real.curve_hv) // 3 - 1
            print(
                json.dumps(
                    {
                        "searcher": searcher,
                        "seed": seed,
                        "real hv": round(real.hypervolume, 4),
                        "replay hv": round(sim.hypervolume, 4),
                        "real judged": real.judged,
                        "replay judged": sim.judged,
                        "real hv at a third": round(real.curve_hv[third], 4),
                        "replay hv at a third": round(sim.curve_hv[third], 4),
                        "real/table epoch seconds": round(statistics.median(ratios), 2)
                        if ratios
                        else None,
                    }
                )
            )


if __name__ == "__main__":
    main()
