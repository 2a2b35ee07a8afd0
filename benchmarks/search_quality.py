"""Searchers at equal wall time: does the search earn its time? (the numbers in RESULTS.md)

    python benchmarks/search_quality.py digits [--budget-s 180] [--seeds 0,1,2]
    python benchmarks/search_quality.py mnist  [--budget-s 240] [--data ../shared/data/mnist]

Calls ``archsearch bench search`` on the mobile space: random search and TPE, each with and
without the Pareto pruner (pareto-asha), two runs side by side with one torch thread each
(every run gets the same share of the machine), three seeds. ``digits`` is the built-in
1,797 8x8 images; ``mnist`` searches on a 2,000-image per-class sample of real MNIST resized
to 14x14, 4 epochs per candidate (``--train-limit 2000 --resolution 14 --epochs 4``; at 28x28
a 240 s run with one thread completed 2 candidates), with the full 10,000-image test split
(at 14x14) for the fronts. The
first searcher (random search without early stopping) is the baseline whose final
hypervolume the others must reach. Writes bench-<preset>/summary.md, runs.csv and bench.html.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SEARCHERS = "random:pruner=none,random,tpe:pruner=none,tpe"
MNIST_SEARCHERS = "random:pruner=none,tpe:pruner=none,tpe"  # three: its runs are longer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=("digits", "mnist"))
    parser.add_argument("--budget-s", type=float, default=None)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--searchers", default=None)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--data", default=str(Path(__file__).parents[1] / "../shared/data/mnist"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.preset == "digits":
        data = ["--dataset", "digits"]
        budget = args.budget_s or 180.0
    else:
        if not Path(args.data).is_dir():
            sys.exit(f"{args.data}: MNIST not found (give --data DIR)")
        data = ["--dataset", f"mnist:{args.data}", "--train-limit", "2000", "--resolution", "14"]
        data += ["--epochs", "4"]
        budget = args.budget_s or 240.0
    searchers = args.searchers or (SEARCHERS if args.preset == "digits" else MNIST_SEARCHERS)
    command = [
        sys.executable, "-m", "archsearch", "bench", "search", "--space", "mobile", *data,
        "--searchers", searchers, "--budget-s", str(budget), "--seeds", args.seeds,
        "--parallel", str(args.parallel), "--device", "cpu",
        "-o", args.out or f"bench-{args.preset}",
    ]  # fmt: skip
    print(" ".join(command), flush=True)
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
