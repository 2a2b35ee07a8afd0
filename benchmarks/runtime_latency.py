"""Latency in eager PyTorch against ONNX Runtime, and how well FLOPs and MAC rank each
(issue 15, item 3):

    python benchmarks/runtime_latency.py [--candidates 20] [--threads 1] [--size 28]

Random candidates of the mobile space at SIZE x SIZE (one channel, 10 classes) and a few zoo
networks at 224x224, each timed in both backends in the same process, interleaved (torch,
then onnxruntime, per network), batch 1, with the same thread count. Prints per-network
figures for the zoo, the median ONNX Runtime / torch ratio, and Spearman's ρ of flops and of
mac against each backend's latency over the candidates.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd
from _machine import describe

from archsearch import build_model, load_space, zoo
from archsearch.profiler import measure_latency, static_costs

ZOO = ("resnet18", "mobilenet_v2", "shufflenet_v2_x1_0")


def both(model, shape, threads: int) -> dict[str, float]:
    return {
        backend: measure_latency(
            model, shape, device="cpu", threads=threads, backend=backend, repeats=9,
            min_repeat_s=0.05, warmup_s=0.1,
        ).median_ms
        for backend in ("torch", "onnxruntime")
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, default=28)
    args = parser.parse_args()
    print(f"Machine: {describe()}; {args.threads} thread(s), batch 1\n")
    print("| network | input | torch ms | onnxruntime ms | onnxruntime / torch |")
    print("|---|---|---:|---:|---:|")
    for name in ZOO:
        times = both(build_model(zoo.get(name), 1000, 3), (1, 3, 224, 224), args.threads)
        ratio = times["onnxruntime"] / times["torch"]
        print(
            f"| {name} | 1x3x224x224 | {times['torch']:.2f} | {times['onnxruntime']:.2f} |"
            f" {ratio:.2f} |"
        )
    rows = []
    shape = (1, 1, args.size, args.size)
    for arch in load_space("mobile").sample(args.candidates, seed=0, input_size=args.size):
        model = build_model(arch, 10, 1)
        costs = static_costs(model, shape)
        rows.append({"flops": costs.flops, "mac": costs.mac, **both(model, shape, args.threads)})
    table = pd.DataFrame(rows)
    ratios = (table["onnxruntime"] / table["torch"]).tolist()
    print(
        f"\n{len(rows)} mobile candidates at {args.size}x{args.size}: onnxruntime / torch median"
        f" {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})\n"
    )
    print("| backend | median ms | Spearman ρ flops vs latency | Spearman ρ mac vs latency |")
    print("|---|---:|---:|---:|")
    for backend in ("torch", "onnxruntime"):
        rho_flops = table["flops"].corr(table[backend], method="spearman")
        rho_mac = table["mac"].corr(table[backend], method="spearman")
        print(f"| {backend} | {table[backend].median():.3f} | {rho_flops:.2f} | {rho_mac:.2f} |")
    rho = table["torch"].corr(table["onnxruntime"], method="spearman")
    print(f"\nSpearman ρ between the two backends' latencies: {rho:.2f}")


if __name__ == "__main__":
    main()
