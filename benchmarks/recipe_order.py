"""The training recipe and the architecture: searched together, or one after the other
(issue 24, point 5). Real runs; the table has one recipe and cannot answer this.

    python benchmarks/recipe_order.py [--space mobile] [--seeds 0-5] [--budget-s 180] \\
        [--tune-s 30] [-o bench-recipe]

Four ways to spend the same ``--budget-s`` of wall time on a space whose hyperparameters
section is searched (the default job's: digits, local search, pareto-asha):

- ``joint``: the architecture and the recipe searched together (the space as it is).
- ``fixed``: the recipe fixed at nb-mobile's (SGD with Nesterov momentum, lr 0.05, weight
  decay 5e-4, batch 64, label smoothing 0.1; the space's epochs), the whole budget on the
  architecture.
- ``fixed, then tune``: the same search's trials finished by ``budget - tune`` seconds, then
  ``archsearch tune`` (random, the space's hyperparameters section, pruner median) of that
  front's most accurate network for ``--tune-s``; its best tuned accuracy replaces its point
  when higher (the lectures' order: architecture, then hyperparameters).
- ``recipe first``: ``archsearch tune`` of a reference network (the space's median-flops
  network of 64 samples) for ``--tune-s``; its best recipe fixed; the architecture searched
  for the rest of the budget.

Runs go two at a time, one torch thread each (as `bench search --parallel 2`). Hypervolume
of the validation accuracies (reference: chance error and the space's log-flops range, as
`bench search`), paired by seed against ``joint`` (Wilcoxon signed-rank).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

FIXED_RECIPE = {
    "lr": 0.05,
    "weight_decay": 5.0e-4,
    "batch_size": 64,
    "optimizer": "sgd",
    "momentum": 0.9,
    "nesterov": True,
    "label_smoothing": 0.1,
}
ARMS = ("joint", "fixed", "fixed, then tune", "recipe first")


def space_with_recipe(space: str, recipe: dict[str, Any], path: Path) -> str:
    """``space`` with its hyperparameters section fixed at ``recipe`` (its epochs and
    augmentation kept), written to ``path``."""
    from archsearch.space import read_space_text

    data = yaml.safe_load(read_space_text(space)[0])
    kept = {k: v for k, v in data["hyperparameters"].items() if k in ("epochs", "augmentation")}
    data["hyperparameters"] = {**recipe, **kept}
    data["name"] = f"{data['name']}-{path.stem}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _run(space: str, seed: int, name: str, out: Path, timeout: float) -> Any:
    from archsearch.runs import RunConfig, run_search

    config = RunConfig.from_options(
        space=space, seed=seed, name=name, timeout=timeout, device="cpu",
        runs_dir=str(out / "runs"), reports_dir=str(out / "reports"), write_report=False,
    )  # fmt: skip
    return run_search(config)


def _tune(space: str, seed: int, name: str, out: Path, timeout: float, arch: Any) -> Any:
    from archsearch.runs.tune import tune, tune_config

    config = tune_config(
        "random", "median", label=name, name=name, space=space, seed=seed, timeout=timeout,
        trials=10_000, device="cpu", runs_dir=str(out / "runs"),
        reports_dir=str(out / "reports"), write_report=False,
    )  # fmt: skip
    return tune(config, arch, {})


def _finished(study: Any, started: float, until: float) -> list[tuple[float, float, Any]]:
    """(flops, validation accuracy, trial) of the trials completed within ``until`` s."""
    from optuna.trial import TrialState

    from archsearch.study import record_of, status_of

    out = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if status_of(trial) != "ok" or trial.datetime_complete is None:
            continue
        if trial.datetime_complete.timestamp() - started <= until:
            record = record_of(trial)
            out.append((float(record["flops"]), float(record["val_accuracy"]), trial))
    return out


def job(arm: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from archsearch.architecture import Architecture
    from archsearch.study import completed, record_of

    torch.set_num_threads(1)
    out = Path(args.out)
    budget, tune_s = args.budget_s, args.tune_s
    tag = arm.replace(", ", "-").replace(" ", "-")
    started = time.time()
    if arm == "joint":
        result = _run(args.space, seed, f"{tag}-s{seed}", out, budget)
        return {"points": [p[:2] for p in _finished(result.study, started, budget)]}
    if arm == "fixed":  # also gives "fixed, then tune": its first budget - tune seconds
        space = space_with_recipe(args.space, FIXED_RECIPE, out / f"fixed-s{seed}.yaml")
        result = _run(space, seed, f"{tag}-s{seed}", out, budget)
        early = _finished(result.study, started, budget - tune_s)
        flops, accuracy, best = max(early, key=lambda p: p[1])
        arch = Architecture.from_json(record_of(best)["architecture"])
        tuned = _tune(args.space, seed, f"tune-after-s{seed}", out, tune_s, arch)
        gained = max((t.values[0] for t in completed(tuned.study)), default=accuracy)
        points_after = [p[:2] for p in early] + [(flops, max(accuracy, gained))]
        return {
            "points": [p[:2] for p in _finished(result.study, started, budget)],
            "then tune": points_after,
            "tuned": [accuracy, gained, len(completed(tuned.study))],
        }
    # recipe first: a reference network's recipe, then the architecture
    from archsearch.space import load_space

    space_spec = load_space(args.space)
    samples = space_spec.sample(64, seed=0, input_size=8)
    reference = sorted(samples, key=lambda a: _flops(a))[len(samples) // 2]
    tuned = _tune(args.space, seed, f"recipe-tune-s{seed}", out, tune_s, reference)
    best = max(completed(tuned.study), key=lambda t: t.values[0])
    recipe = {
        k: v
        for k, v in record_of(best)["hyperparameters"].items()
        if k in FIXED_RECIPE or k in space_spec.hyperparameters
    }
    recipe.pop("epochs", None)
    recipe.pop("augmentation", None)
    space = space_with_recipe(args.space, recipe, out / f"recipe-first-s{seed}.yaml")
    left = budget - (time.time() - started)
    result = _run(space, seed, f"{tag}-s{seed}", out, left)
    return {"points": [p[:2] for p in _finished(result.study, started, budget)], "recipe": recipe}


def _flops(arch: Any) -> int:
    from archsearch.profiler import architecture_costs

    return architecture_costs(arch, (1, 1, 8, 8), 10).flops


def _call(item: tuple[str, int, argparse.Namespace]) -> tuple[str, int, dict[str, Any]]:
    arm, seed, args = item
    return arm, seed, job(arm, seed, args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--space", default="mobile")
    parser.add_argument("--seeds", default="0-5")
    parser.add_argument("--budget-s", type=float, default=180.0)
    parser.add_argument("--tune-s", type=float, default=30.0)
    parser.add_argument("--arms", default="joint,fixed,recipe first", help="runs to make")
    parser.add_argument("-o", "--out", default="bench-recipe")
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = list(range(int(first), int(last or first) + 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arms = [a.strip() for a in args.arms.split(",")]
    jobs = [(arm, seed, args) for seed in seeds for arm in arms]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for arm, seed, result in pool.imap_unordered(_call, jobs):
            results[(arm, seed)] = result
            print(json.dumps({"arm": arm, "seed": seed, **result}), flush=True)
    (out / "recipe_order.json").write_text(
        json.dumps([{"arm": a, "seed": s, **r} for (a, s), r in sorted(results.items())])
    )
    summarise(results, seeds, args)


def summarise(results: dict[tuple[str, int], dict[str, Any]], seeds: list[int], args: Any) -> None:
    from scipy.stats import wilcoxon

    from archsearch.bench.search import cost_range, hypervolume
    from archsearch.runs import RunConfig

    scale = cost_range(RunConfig(space=args.space), "flops")
    made = {arm for arm, _ in results}
    hv: dict[str, list[float]] = {
        arm: [] for arm in ARMS if arm in made or (arm == "fixed, then tune" and "fixed" in made)
    }
    for seed in seeds:
        for arm in hv:
            run = results[("fixed" if arm == "fixed, then tune" else arm, seed)]
            points = run["then tune" if arm == "fixed, then tune" else "points"]
            hv[arm].append(hypervolume([tuple(p) for p in points], scale, 0.1))
    print("| arm | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd | vs joint |")
    print("|---" * (len(seeds) + 3) + "|")
    for arm, values in hv.items():
        versus = ""
        if arm != "joint":
            wins = sum(v > j for v, j in zip(values, hv["joint"], strict=True))
            p = wilcoxon(values, hv["joint"]).pvalue
            versus = f"{wins}/{len(values)}, p = {p:.2g}"
        print(
            f"| {arm} | "
            + " | ".join(f"{v:.3f}" for v in values)
            + f" | {statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} | {versus} |"
        )
    for seed in seeds:
        if "fixed" in made:
            before, after, trials = results[("fixed", seed)]["tuned"]
            print(f"seed {seed}: tune after: {before:.3f} -> {after:.3f} ({trials} trials)")
        if "recipe first" in made:
            print(f"seed {seed}: recipe first: {results[('recipe first', seed)]['recipe']}")


if __name__ == "__main__":
    main()
