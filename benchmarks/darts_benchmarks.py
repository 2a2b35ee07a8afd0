"""DARTS benchmarks (issue 6), each printed as a markdown table:

1. search time and peak memory of ``full`` against ``gumbel`` mode as the number of candidate
   ops per position grows (4, 8, 16);
2. the derived network against random search given the same wall time on the same data;
3. the latency lookup table's prediction for derived networks against their measured latency.

    python benchmarks/darts_benchmarks.py [--device auto] [--part 1 2 3]

Peak memory is the CUDA allocator's peak on a GPU; on the CPU it is the growth of the
process's peak resident set (reset before each search through /proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _machine import describe

from archsearch.build import build_model
from archsearch.data import load_dataset
from archsearch.profiler import measure_latency
from archsearch.runs import RunConfig, run_search
from archsearch.searchers.oneshot import (
    DartsConfig,
    DartsSearch,
    latency_table,
    plan_supernet,
)
from archsearch.space import load_space
from archsearch.train import resolve_device

OPS = {  # a stage's option choices giving 4, 8 and 16 mbconv candidates per position
    4: "kernel_size: {choices: [3, 5]}\n    expansion: {choices: [2, 4]}",
    8: "kernel_size: {choices: [3, 5]}\n    expansion: {choices: [2, 4]}\n"
    "    se: {choices: [false, true]}",
    16: "kernel_size: {choices: [3, 5, 7, 9]}\n    expansion: {choices: [2, 4]}\n"
    "    se: {choices: [false, true]}",
}


def space_with(ops: int, folder: Path) -> Path:
    path = folder / f"ops{ops}.yaml"
    path.write_text(f"""name: ops{ops}
input_sizes: [8]
stem: {{out_channels: 16}}
stages:
  - out_channels: 32
    depth: 3
    stride: 2
    block: mbconv
    {OPS[ops]}
hyperparameters: {{epochs: 8}}
""")
    return path


def peak_rss_mib() -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) / 1024


def one_search(ops: int, mode: str, device: torch.device) -> tuple[float, float]:
    """Seconds per search epoch and peak memory (MiB) of one search, in this process."""
    data = load_dataset("digits")
    with tempfile.TemporaryDirectory() as folder:
        plan = plan_supernet(load_space(space_with(ops, Path(folder))), data)
    if device.type != "cuda":
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    before = peak_rss_mib()
    result = DartsSearch(
        plan, data, device, DartsConfig(mode=mode, epochs=2, warmup_epochs=0)
    ).run()
    memory = result.peak_memory_bytes / 2**20 if device.type == "cuda" else peak_rss_mib() - before
    return result.seconds / 2, memory


def part_modes(device: torch.device) -> None:
    # each search in a fresh process: the CPU allocator keeps freed memory, so peaks measured
    # one after another in one process would hide each other
    print("| ops per position | mode | s per search epoch | peak memory MiB |")
    print("|---:|---|---:|---:|")
    for ops in (4, 8, 16):
        for mode in ("full", "gumbel"):
            output = subprocess.run(
                [sys.executable, __file__, "--device", str(device), "--one", str(ops), mode],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            print(f"| {ops} | {mode} | {float(output[0]):.2f} | {float(output[1]):.1f} |")


def part_versus_random(device: torch.device) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = {
            "dataset": "digits",
            "runs_dir": folder,
            "reports_dir": folder,
            "device": str(device),
        }
        start = time.perf_counter()
        darts = run_search(
            RunConfig.from_options(searcher="darts", name="darts", derive_top=2, **base)
        )
        seconds = time.perf_counter() - start
        random = run_search(
            RunConfig(searcher="random", name="random", trials=10_000, timeout=seconds, **base)
        )
        print(f"Same wall time: {seconds:.0f} s each, mobile space, digits.\n")
        print("| searcher | trials | best val. accuracy | its flops | its test accuracy |")
        print("|---|---:|---:|---:|---:|")
        for name, result in (("darts (top 3 derived)", darts), ("random", random)):
            best = max(result.pareto, key=lambda r: r["accuracy"])
            print(
                f"| {name} | {result.counts['ok']} | {best['accuracy']:.4f} |"
                f" {best['flops']:,} | {best['test_accuracy']:.4f} |"
            )


def part_latency_table(device: torch.device) -> None:
    data = load_dataset("digits")
    plan = plan_supernet(load_space("mobile"), data)
    table = latency_table(plan, device)
    ratio = table.calibration
    print(f"calibration (measured / summed, median of 4 random networks): {ratio:.3f}\n")
    result = DartsSearch(plan, data, device, DartsConfig(epochs=2, warmup_epochs=0)).run()
    print(
        "| derived network | table ms (sum) | table ms (calibrated) | measured ms"
        " | calibrated / measured |"
    )
    print("|---|---:|---:|---:|---:|")
    for choice, _ in result.derive(5):
        arch = plan.architecture(choice)
        predicted = table.predict_ms(choice)
        model = build_model(arch, data.num_classes, data.in_channels)
        measured = measure_latency(
            model, (1, data.in_channels, *data.input_size), device=device
        ).median_ms
        summed = predicted / table.calibration
        print(
            f"| {arch.id} | {summed:.3f} | {predicted:.3f} | {measured:.3f} |"
            f" {predicted / measured:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--part", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.one:
        seconds, memory = one_search(int(args.one[0]), args.one[1], device)
        print(seconds, memory)
        return
    print(f"Machine: {describe()}; device {device}\n")
    parts = {1: part_modes, 2: part_versus_random, 3: part_latency_table}
    for part in args.part:
        parts[part](device)
        print()


if __name__ == "__main__":
    main()
