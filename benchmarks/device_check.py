"""The GPU figures of RESULTS.md in one run, for when a device is lent (issue 15, item 6):

    python benchmarks/device_check.py [--device cuda] [--quick] [-o device_check.md]

1. Trainer throughput against a bare PyTorch loop on the same model and tensors (on CUDA the
   trainer runs bf16 autocast and channels_last; the bare loop is fp32 NCHW, what a person
   writes first);
2. images/s and peak memory of training a 32x32 candidate (mobile space, CIFAR-sized input);
3. latency (CUDA events on a GPU; perf_counter and CPU share on the CPU), median and p90;
4. memory of one DARTS step (full and gumbel mode) and of one SPOS step against the largest
   single network;
5. `archsearch train` of one candidate end to end (wall time, test accuracy).

``--quick`` is the CPU dry run that `bash benchmarks/device_check.sh --device cpu` makes in CI
time: the same code on less (one data set, one candidate, digits at 16x16 for one epoch), so
the script is known to work before a device appears (tests/test_device_check.py runs it).
Prints markdown in RESULTS.md's format (and writes it to ``-o``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import torch
from _machine import describe
from oneshot_speed import _heaviest, _step_bytes, supernet_plans
from trainer_throughput import minimal_loop

from archsearch import build_model, load_space, zoo
from archsearch.data import load_dataset
from archsearch.profiler import measure_latency
from archsearch.searchers.oneshot.supernet import PathNetwork, Supernet
from archsearch.train import TrainConfig, resolve_device, train


def throughput(device: torch.device, quick: bool) -> str:
    rows = [
        "| data | model | trainer img/s | bare loop img/s | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    space = load_space("mobile")
    epochs, rounds = (1, 1) if quick else (3, 3)
    for spec, seed in (("digits", 3),) if quick else (("digits", 3), ("synthetic", 4)):
        data = load_dataset(spec, resolution=None if quick else 32)
        arch = space.sample(1, seed=seed, input_size=data.input_size)[0]
        torch.manual_seed(0)
        model = build_model(arch, data.num_classes, data.in_channels)
        config = TrainConfig(epochs=epochs, batch_size=64, augmentation="none")
        ours, bare = [], []
        for _ in range(rounds):
            ours.append(train(copy.deepcopy(model), data, config, device).images_per_s)
            bare.append(
                minimal_loop(copy.deepcopy(model), data.x_train, data.y_train, epochs, 64, device)
            )
        a, b = statistics.median(ours), statistics.median(bare)
        size = "x".join(map(str, data.input_size))
        rows.append(f"| {spec} {size} | {arch.id} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |")
    return "\n".join(rows)


def candidate_at_32(device: torch.device, quick: bool) -> str:
    """Images/s and peak memory of training 32x32 mobile candidates (batch 128; the synthetic
    set's 256 training images, one channel)."""
    data = load_dataset("synthetic", resolution=32)
    rows = ["| candidate | params | img/s | peak memory |", "|---|---:|---:|---:|"]
    for seed in (0,) if quick else (0, 1, 2):
        arch = load_space("mobile").sample(1, seed=seed, input_size=(32, 32))[0]
        torch.manual_seed(0)
        model = build_model(arch, data.num_classes, data.in_channels)
        params = sum(p.numel() for p in model.parameters())
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        config = TrainConfig(epochs=1 if quick else 5, batch_size=128)
        result = train(model, data, config, device)
        peak = (
            f"{torch.cuda.max_memory_allocated(device) / 2**20:,.0f} MiB"
            if device.type == "cuda"
            else "(CPU: not measured)"
        )
        rows.append(f"| {arch.id} | {params:,} | {result.images_per_s:,.0f} | {peak} |")
    return "\n".join(rows)


def latency(device: torch.device, quick: bool) -> str:
    rows = [
        "| network | input | median ms | p90 ms | CV | timed by |",
        "|---|---|---:|---:|---:|---|",
    ]
    cases = [("resnet18", 64 if quick else 224, 1), ("mobilenet_v2", 64 if quick else 224, 1)]
    if not quick:
        cases.append(("resnet50", 224, 32))
    for name, side, batch in cases:
        model = build_model(zoo.get(name), 1000, 3)
        shape = (batch, 3, side, side)
        result = measure_latency(model, shape, device=device, repeats=5 if quick else 15)
        how = (
            "CUDA events"
            if device.type == "cuda"
            else f"perf_counter, CPU share {result.cpu_share:.0%}"
        )
        rows.append(
            f"| {name} | {'x'.join(map(str, shape))} | {result.median_ms:.3f} |"
            f" {result.p90_ms:.3f} | {result.cv:.1%} | {how} |"
        )
    return "\n".join(rows)


def one_shot_memory(device: torch.device, quick: bool) -> str:
    rows = [
        "| data | DARTS full step | DARTS gumbel step | SPOS step (largest path) |"
        " largest network alone | SPOS / alone |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, data, plan in supernet_plans()[: 1 if quick else 2]:
        x, y = data.x_train[:64].to(device), data.y_train[:64].to(device)
        darts = Supernet(plan).to(device)
        full, gumbel = (
            _step_bytes(darts, functools.partial(darts, mode=mode), x, y, device)
            for mode in ("full", "gumbel")
        )
        supernet = Supernet(plan, entangled=True).to(device)
        path = plan.full_path([_heaviest(position) for position in plan.positions])
        alone = build_model(plan.architecture(path), data.num_classes, data.in_channels).to(device)
        spos = _step_bytes(supernet, PathNetwork(supernet, path), x, y, device)
        single = _step_bytes(alone, alone, x, y, device)
        mib = [f"{b / 2**20:,.1f} MiB" for b in (full, gumbel, spos, single)]
        rows.append(f"| {label} | {' | '.join(mib)} | {spos / single:.2f} |")
    return "\n".join(rows)


def final_training(device: torch.device, quick: bool) -> str:
    arch = load_space("mobile").sample(1, seed=0, input_size=(32, 32))[0]  # fits 16 too
    epochs, side, decay = (1, 16, "0.9") if quick else (10, 32, "0.999")
    with tempfile.TemporaryDirectory() as tmp:
        arch_file = Path(tmp) / "arch.json"
        arch_file.write_text(arch.to_json())
        command = [
            sys.executable, "-m", "archsearch", "train", "--arch", str(arch_file),
            "--dataset", "digits", "--resolution", str(side), "--epochs", str(epochs),
            "--ema-decay", decay, "--device", str(device), "-o", str(Path(tmp) / "out"),
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        summary = json.loads((Path(tmp) / "out" / "summary.json").read_text())
    return (
        "| network | data | epochs | wall s (the whole command) | test acc | EMA test acc |\n"
        "|---|---|---:|---:|---:|---:|\n"
        f"| {arch.id} | digits at {side}x{side}, train+val, EMA {decay} | {epochs} |"
        f" {seconds:.1f} |"
        f" {summary['test_accuracy']:.4f} | {summary['ema_test_accuracy']:.4f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="the CPU dry run's sizes")
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    parts = [
        f"Machine: {describe()}; device {device}" + (" (quick dry run)" if args.quick else "")
    ]
    for title, part in (
        ("Trainer against a bare loop", lambda: throughput(device, args.quick)),
        ("Training a 32x32 candidate", lambda: candidate_at_32(device, args.quick)),
        ("Latency", lambda: latency(device, args.quick)),
        ("One-shot step memory (batch 64)", lambda: one_shot_memory(device, args.quick)),
        ("`archsearch train` of one candidate", lambda: final_training(device, args.quick)),
    ):
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):  # the parts' own prints stay out of the report
            table = part()
        parts.append(f"### {title} ({time.perf_counter() - started:.0f} s)\n\n{table}")
        print(parts[-1] + "\n", flush=True)
    if args.output:
        Path(args.output).write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
