"""Search from arrays in Python: scikit-learn's handwritten digits as numpy arrays.

    python examples/search_arrays.py [--trials 60] [--epochs E] [--runs-dir runs]

Any (x, y) pair works the same: numpy arrays or torch tensors, images (N, H, W),
(N, C, H, W) or (N, H, W, C), uint8 or float, labels any integers.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_digits

import archsearch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=None, help="per candidate (the space's)")
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args()

    digits = load_digits()
    images, labels = digits.images, digits.target  # (1797, 8, 8) floats 0-16, labels 0-9
    result = archsearch.search(
        "mobile",
        data=(images, labels),  # a fifth is held out as the test split (per class)
        trials=args.trials,
        epochs=args.epochs,
        name="digits-arrays",
        runs_dir=args.runs_dir,
        reports_dir=args.runs_dir,
    )
    print(result.front[["number", "accuracy", "test_accuracy", "flops", "params"]])
    print(f"report: {result.report}")


if __name__ == "__main__":
    main()
