"""How well zero-cost proxies rank trained candidates here (the ρ table of RESULTS.md).

    python benchmarks/proxy_quality.py [--samples 50] [--spaces mobile,resnet]
        [--datasets digits,mnist] [--data ../shared/data/mnist] [--out bench-proxies]

Calls ``archsearch bench proxies`` for every (space, data set): ``samples`` random candidates
trained alike, every proxy computed before training. ``digits``: the built-in 8x8 digits, the
space's own epochs (8); ``mnist``: a 2,000-image per-class sample of real MNIST at 14x14, 4
epochs (the fidelity of ``benchmarks/search_quality.py mnist``). Every candidate trains with
the space's middle hyperparameters unless ``--hyperparameters sampled``. Prints each
summary.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--spaces", default="mobile,resnet")
    parser.add_argument("--datasets", default="digits,mnist")
    parser.add_argument("--data", default=str(Path(__file__).parents[1] / "../shared/data/mnist"))
    parser.add_argument("--out", default="bench-proxies")
    parser.add_argument("--hyperparameters", choices=("fixed", "sampled"), default="fixed")
    args = parser.parse_args()
    failed = 0
    for dataset in args.datasets.split(","):
        if dataset == "digits":
            data = ["--dataset", "digits"]
        elif dataset == "mnist":
            if not Path(args.data).is_dir():
                sys.exit(f"{args.data}: MNIST not found (give --data DIR)")
            data = ["--dataset", f"mnist:{args.data}", "--train-limit", "2000"]
            data += ["--resolution", "14", "--epochs", "4"]
        else:
            sys.exit(f"unknown data set {dataset!r} (digits or mnist)")
        for space in args.spaces.split(","):
            out = Path(args.out) / f"{space}-{dataset}"
            command = [
                sys.executable, "-m", "archsearch", "bench", "proxies", "--space", space,
                *data, "--samples", str(args.samples), "--hyperparameters", args.hyperparameters,
                "--device", "cpu", "-o", str(out),
            ]  # fmt: skip
            print(" ".join(command), flush=True)
            if subprocess.call(command) != 0:
                failed += 1
                continue
            print((out / "summary.md").read_text(), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
