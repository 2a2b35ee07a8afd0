"""What the one-shot searchers' inner loops cost (issue 14, item 7):

    python benchmarks/oneshot_speed.py [--device cpu] [--candidates 1000]

1. Static totals (params, flops, mac) of random candidates: building the network on the meta
   device and summing its cached block costs (``static_costs``, what the search loop did) against
   ``architecture_costs`` straight from the Architecture, cold (empty cache) and warm (the
   same candidates again) — mobile at 28x28 and resnet at 224x224. Equal totals checked.
2. One-shot evaluations per second (BatchNorm recalibration + validation pass on the supernet,
   and the static costs) on digits (8x8) and on a 28x28 synthetic set of MNIST's size.
3. Memory of one SPOS training step against the largest single candidate's: on CUDA the peak
   allocated; on CPU the bytes autograd saves for the backward pass (the activations) plus the
   parameters, their gradients and the momentum buffers of the parameters the step touches.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from typing import Any

import torch
from _machine import describe

from archsearch.build import build_model
from archsearch.data import load_dataset
from archsearch.profiler import architecture_costs, static_costs
from archsearch.profiler import static as static_module
from archsearch.searchers.oneshot import plan_supernet
from archsearch.searchers.oneshot.spos import OneShotEvaluator, one_shot_search, one_shot_study
from archsearch.searchers.oneshot.supernet import PathNetwork, Supernet
from archsearch.space import load_space


def supernet_plans() -> list[tuple[str, Any, Any]]:
    """The mobile space's widest supernet on digits (8x8) and at 28x28 (MNIST's size)."""
    space = load_space("mobile")
    sets = [
        ("digits 8x8", load_dataset("digits")),
        ("synthetic 28x28", load_dataset("synthetic", resolution=28)),
    ]
    return [(label, data, plan_supernet(space, data, widest=True)) for label, data in sets]


def static_rates(candidates: int) -> None:
    print("\n### Static totals of random candidates (candidates per second)\n")
    print("| space @ input | build on meta + static_costs | architecture_costs, cold | warm |")
    print("|---|---|---|---|")
    for name, size in (("mobile", 28), ("resnet", 224)):
        archs = load_space(name).sample(candidates, seed=11, input_size=size)
        shape = (1, 3, size, size)
        static_module._CACHE.clear()
        started = time.perf_counter()
        built = []
        for arch in archs:
            with torch.device("meta"):
                built.append(static_costs(build_model(arch, 10, 3), shape))
        old = candidates / (time.perf_counter() - started)
        static_module._CACHE.clear()
        started = time.perf_counter()
        direct = [architecture_costs(arch, shape, 10) for arch in archs]
        cold = candidates / (time.perf_counter() - started)
        started = time.perf_counter()
        for arch in archs:
            architecture_costs(arch, shape, 10)
        warm = candidates / (time.perf_counter() - started)
        assert built == direct, "totals differ"
        print(f"| {name} @ {size} | {old:,.0f} | {cold:,.0f} | {warm:,.0f} |")


def evaluation_rates(device: torch.device, evaluations: int) -> None:
    print("\n### One-shot evaluations per second (untrained supernet: the cost is the same)\n")
    print("| data | val images | evaluations | first 100 /s | after /s | ms each (median) |")
    print("|---|---|---|---|---|---|")
    for label, data, plan in supernet_plans():
        supernet = Supernet(plan, entangled=True).to(device)
        evaluator = OneShotEvaluator(supernet, data, device, eval_images=2000)
        study = one_shot_study(("accuracy", "flops"), "nsga2", 0)
        times: list[float] = []
        marks = [time.perf_counter()]

        def tick(done: int, total: int, marks: list[float] = marks) -> None:
            marks.append(time.perf_counter())

        one_shot_search(
            load_space("mobile"), plan, evaluator, study, ("accuracy", "flops"),
            evaluations=evaluations, on_progress=tick,
        )  # fmt: skip
        times = [b - a for a, b in itertools.pairwise(marks)]
        first = 100 / sum(times[:100])
        after = (len(times) - 100) / sum(times[100:])
        print(
            f"| {label} | {len(evaluator.y_val)} | {evaluations} | {first:.1f} | {after:.1f} |"
            f" {1000 * statistics.median(times):.0f} |"
        )


def step_memory(device: torch.device, batch: int = 64) -> None:
    print(f"\n### Memory of one training step, batch {batch}\n")
    print("| data | SPOS supernet step (largest path) | largest candidate alone | ratio |")
    print("|---|---|---|---|")
    for label, data, plan in supernet_plans():
        supernet = Supernet(plan, entangled=True).to(device)
        # the heaviest path: the op of most flops at every position, at full width
        path = plan.full_path([_heaviest(position) for position in plan.positions])
        alone = build_model(plan.architecture(path), data.num_classes, data.in_channels).to(device)
        x = data.x_train[:batch].to(device)
        y = data.y_train[:batch].to(device)
        spos = _step_bytes(supernet, PathNetwork(supernet, path), x, y, device)  # banks too
        single = _step_bytes(alone, alone, x, y, device)
        ratio = spos / single
        print(f"| {label} | {spos / 2**20:.1f} MiB | {single / 2**20:.1f} MiB | {ratio:.2f} |")


def _heaviest(position) -> int:
    from archsearch.blocks import create_block

    best, index = -1, 0
    for i, op in enumerate(position.ops):
        if op.block == "skip":
            continue
        module = create_block(
            op.block, position.in_channels, position.out_channels, position.stride,
            **dict(op.options),
        )  # fmt: skip
        cost = static_costs(module, (1, position.in_channels, *position.in_size)).flops
        if cost > best:
            best, index = cost, i
    return index


def _step_bytes(model, forward, x, y, device: torch.device) -> int:
    """Peak CUDA memory of one SGD step, or on CPU: saved activations + touched parameters,
    their gradients and momentum buffers."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    if device.type == "cuda":
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        torch.nn.functional.cross_entropy(forward(x), y).backward()
        optimizer.step()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated(device))
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(forward(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    touched = sum(p.numel() * p.element_size() for p in model.parameters() if p.grad is not None)
    return saved[0] + 3 * touched  # weights, gradients, momentum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--evaluations", type=int, default=300)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(describe())
    static_rates(args.candidates)
    evaluation_rates(device, args.evaluations)
    step_memory(device)


if __name__ == "__main__":
    main()
