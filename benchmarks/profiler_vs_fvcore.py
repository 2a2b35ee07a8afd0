"""Static profile (params + flops + mac + per-layer table + findings) of every zoo network
against fvcore's FlopCountAnalysis (flops only), in the same process, interleaved.

    python benchmarks/profiler_vs_fvcore.py [--repeats 7] [--size 224]

Prints a markdown table: median seconds of each, their ratio, and whether the flops agree.
fvcore runs on a real model (it traces with TorchScript); archsearch on the meta device.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
import warnings

import torch
from _machine import describe
from fvcore.nn import FlopCountAnalysis

from archsearch import build_model, zoo
from archsearch.profiler import profile_model


def fvcore_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_op = analysis.by_operator()
    return sum(by_op.get(k, 0) for k in ("conv", "linear", "addmm", "matmul"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    shape = (1, 3, args.size, args.size)
    print(f"Machine: {describe()}\n")
    print(
        "| network | archsearch s (median) | fvcore s (median) | fvcore / archsearch |"
        " flops equal |"
    )
    print("|---|---:|---:|---:|---|")
    for name in zoo.names():
        arch = zoo.get(name)
        model = build_model(arch, 1000).eval()
        x = torch.randn(shape)
        ours, theirs = [], []
        result = profile_model(arch, shape)
        reference = fvcore_flops(model, x)
        for _ in range(args.repeats):
            gc.collect()
            start = time.perf_counter()
            result = profile_model(arch, shape)
            ours.append(time.perf_counter() - start)
            gc.collect()
            start = time.perf_counter()
            fvcore_flops(model, x)
            theirs.append(time.perf_counter() - start)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f}x | {result.flops == reference} |")


if __name__ == "__main__":
    main()
