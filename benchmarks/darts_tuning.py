"""One DARTS search setting on digits (mobile space): how far α moves and what the derived
networks reach when retrained the way a run retrains them (issue 6).

    python benchmarks/darts_tuning.py [--threads 1] ['{"arch_lr": 0.05}']

The JSON argument overrides fields of ``DartsConfig``. Two settings can run side by side on
two cores with ``--threads 1`` each. Prints the per-epoch entropy of softmax(α) (uniform over
16–21 ops is ~2.85), the skip count, and the two most likely networks with their flops and
validation accuracy after retraining with the space's middle hyperparameters (seed 0).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch
from _machine import describe

from archsearch.build import build_model
from archsearch.data import load_dataset
from archsearch.profiler.static import static_costs
from archsearch.searchers.oneshot import (
    DartsConfig,
    DartsSearch,
    default_hyperparameters,
    plan_supernet,
)
from archsearch.space import load_space
from archsearch.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("overrides", nargs="?", default="{}")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = json.loads(args.overrides)
    data = load_dataset("digits")
    space = load_space("mobile")
    plan = plan_supernet(space, data)
    config = replace(DartsConfig(), **overrides)
    started = time.perf_counter()
    result = DartsSearch(plan, data, torch.device("cpu"), config).run()
    print(f"Machine: {describe()}; settings {overrides or 'default'}")
    print(
        f"search {time.perf_counter() - started:.0f} s; entropy {result.entropy};"
        f" skips {result.skips}; {result.stopped or 'ran every epoch'}"
    )
    hp = default_hyperparameters(space)
    for rank, (choice, _) in enumerate(result.derive(2)):
        arch = plan.architecture(choice)
        model = build_model(arch, data.num_classes, data.in_channels)
        flops = static_costs(model, (1, data.in_channels, *data.input_size)).flops
        config_hp = TrainConfig.from_hyperparameters(hp, seed=0)
        trained = train(model, data, config_hp, torch.device("cpu"), None)
        print(f"{rank} {arch} flops {flops:,} val {trained.val_accuracy:.4f}")


if __name__ == "__main__":
    main()
