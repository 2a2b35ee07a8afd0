"""What each zero-cost proxy costs per candidate (issue 13: well under a second for a
mobile-space candidate at 28x28 with a batch of 64 on 2 CPU cores).

    python benchmarks/proxy_cost.py [--spaces mobile,resnet] [--candidates 20] [--threads 2]

For each space: ``candidates`` architectures sampled at 28x28 (1 channel, 10 classes), each
proxy scored through ``score_candidate`` (the code a run calls: a copy of the model, its own
seed) on a batch of 64 random images, after one untimed warm-up candidate. Gives the median
and p90 milliseconds per candidate, and one training step (forward, backward, SGD step on the
same batch) of the same candidates as the yardstick.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _machine import describe

import archsearch
from archsearch.build import build_model
from archsearch.proxies import ProxyBatch, proxy_names, score_candidate


def train_step_ms(model: torch.nn.Module, batch: ProxyBatch) -> float:
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    started = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(batch.inputs), batch.targets)
    loss.backward()
    optimiser.step()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="mobile,resnet")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=28)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    batch = ProxyBatch(
        torch.randn(64, 1, args.size, args.size, generator=generator),
        torch.randint(0, 10, (64,), generator=generator),
    )
    names = proxy_names()
    print(describe())
    print(f"\n{args.candidates} candidates per space at {args.size}x{args.size}, batch 64\n")
    print("| space | proxy | median ms | p90 ms | missing |")
    print("|---|---|---:|---:|---:|")
    for space_name in args.spaces.split(","):
        space = archsearch.load_space(space_name)
        archs = space.sample(args.candidates + 1, seed=0, input_size=(args.size, args.size))
        times: dict[str, list[float]] = {name: [] for name in [*names, "train step"]}
        missing = dict.fromkeys(names, 0)
        for index, arch in enumerate(archs):
            torch.manual_seed(index)
            model = build_model(arch, 10, 1)
            scores = score_candidate(model, batch, names, seed=index)
            step = train_step_ms(model, batch)
            if index == 0:
                continue  # warm-up: first kernels, first traces
            for name in names:
                times[name].append(scores.ms[name])
                missing[name] += name in scores.missing
            times["train step"].append(step)
        for name, values in times.items():
            values.sort()
            p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
            print(
                f"| {space_name} | {name} | {statistics.median(values):.1f} | {p90:.1f}"
                f" | {missing.get(name, '')} |"
            )


if __name__ == "__main__":
    main()
