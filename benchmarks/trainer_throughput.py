"""Training throughput of archsearch's trainer against a minimal hand-written PyTorch loop on
the same model and tensors, in one process, interleaved (issue 4: ratio at least 0.9).

    python benchmarks/trainer_throughput.py [--device cpu] [--rounds 3]

The trainer runs with augmentation off, so both loops do the same work: forward, loss,
backward, SGD step on batches drawn from tensors held on the device.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from _machine import describe

from archsearch import build_model, load_space
from archsearch.data import load_dataset
from archsearch.train import TrainConfig, resolve_device, train


def minimal_loop(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    batch: int,
    device: torch.device,
) -> float:
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    steps = len(y) // batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), device=device)
        for i in range(steps):
            idx = order[i * batch : (i + 1) * batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch * epochs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"Machine: {describe()}; device {device}\n")
    print("| data | model | trainer img/s | minimal loop img/s | ratio |")
    print("|---|---|---:|---:|---:|")
    space = load_space("mobile")
    for spec, seed in (("digits", 3), ("synthetic", 4)):
        data = load_dataset(spec)
        arch = space.sample(1, seed=seed, input_size=data.input_size)[0]
        torch.manual_seed(0)
        model = build_model(arch, data.num_classes, data.in_channels)
        config = TrainConfig(
            epochs=args.epochs, batch_size=64, augmentation="none", eval_batch_size=1024
        )
        ours, theirs = [], []
        for _ in range(args.rounds):
            # the trainer's figure excludes its per-epoch validation, as the loop has none
            result = train(copy.deepcopy(model), data, config, device)
            ours.append(result.images_per_s)
            theirs.append(
                minimal_loop(
                    copy.deepcopy(model), data.x_train, data.y_train, args.epochs, 64, device
                )
            )
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"| {spec} | {arch.id} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
